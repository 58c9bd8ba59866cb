"""Admin: HQ configures the plan types and when a plan needs a senior doctor's review. The
records themselves are written in the app's own pages (every write a service)."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import AuditedAdmin

from .models import PlanType, ReviewSettings


@admin.register(PlanType)
class PlanTypeAdmin(AuditedAdmin):
    list_display = ["name", "code", "needs_review", "is_active", "sort_order"]
    list_filter = ["needs_review", "is_active"]

    def has_delete_permission(self, request, obj=None):
        return False  # plans keep their type


@admin.register(ReviewSettings)
class ReviewSettingsAdmin(AuditedAdmin):
    list_display = ["__str__", "threshold"]
    filter_horizontal = ["categories"]

    def has_add_permission(self, request):
        return False  # one row, made on first use

    def has_delete_permission(self, request, obj=None):
        return False
