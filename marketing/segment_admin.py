"""Admin of segments (read-only: written on the segment pages, audited) and of HQ's quadrant
thresholds per branch (audited). Imported by ``marketing.admin``."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import BranchScopedAdmin, BranchScopedReadOnlyAdmin

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
