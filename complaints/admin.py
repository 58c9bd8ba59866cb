"""Admin: HQ sets the clocks per severity; complaints themselves are worked in the app's own
pages (every write a service) and shown read-only here."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import AuditedAdmin, BranchScopedReadOnlyAdmin

from .models import Complaint, SlaPolicy


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedAdmin):
    list_display = ["severity", "ack_working_days", "proposal_working_days"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(BranchScopedReadOnlyAdmin):
    list_display = ["number", "subject", "branch", "severity", "category", "status", "received_at"]
    list_filter = ["status", "severity", "category", "branch"]
    search_fields = ["number", "subject"]
    list_select_related = ["branch"]

    def get_queryset(self, request):
        # Never show a staff member the complaints about them (as the app's own pages).
        return super().get_queryset(request).exclude(staff=request.user)
