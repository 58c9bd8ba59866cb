"""Admin of segments and broadcasts (read-only: written on the segment pages, audited) and of HQ's quadrant
thresholds per branch (audited). Imported by ``marketing.admin``."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import AuditedAdmin, BranchScopedAdmin, BranchScopedReadOnlyAdmin

from .broadcast_models import Broadcast, BroadcastRecipient, BroadcastSettings
from .segment_models import QuadrantThreshold, Segment


@admin.register(QuadrantThreshold)
class QuadrantThresholdAdmin(BranchScopedAdmin):
    branch_field = "branch"
    list_display = ["branch", "min_visits", "min_spend", "updated_at"]
    list_select_related = ["branch"]


@admin.register(Segment)
class SegmentAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "branch"
    list_display = ["name", "branch", "created_by", "updated_at"]
    list_select_related = ["branch", "created_by"]
    search_fields = ["name"]


@admin.register(Broadcast)
class BroadcastAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "branch"
    list_display = ["name", "branch", "channel", "status", "audience_count", "queued_count", "created_at"]
    list_filter = ["status", "channel"]
    list_select_related = ["branch"]
    search_fields = ["name"]


@admin.register(BroadcastRecipient)
class BroadcastRecipientAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "broadcast__branch"
    list_display = ["broadcast", "member", "quadrant", "outcome", "consent", "consent_granted_at"]
    list_filter = ["outcome", "quadrant"]
    list_select_related = ["broadcast", "member"]


@admin.register(BroadcastSettings)
class BroadcastSettingsAdmin(AuditedAdmin):
    """HQ's approval threshold and SMS price (one row)."""

    list_display = ["__str__", "approval_threshold", "sms_price"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not BroadcastSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
