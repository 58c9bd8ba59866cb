"""Admin for the configuration HQ and managers keep: chairs, weekly shifts, exceptions.
Bookings and visits are worked on in the staff UI, where every change goes through services."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import AuditedAdmin, ImportExportMixin
from clinic.selectors import scope_to_branches

from . import resources
from .models import Chair, ShiftException, ShiftTemplate


class BranchScopedAdmin(AuditedAdmin):
    """A branch manager sees and edits only their branches' chairs and shifts."""

    def get_queryset(self, request):
        return scope_to_branches(super().get_queryset(request), request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "branch":
            from clinic.selectors import branches_for_user

            kwargs["queryset"] = branches_for_user(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Chair)
class ChairAdmin(ImportExportMixin, BranchScopedAdmin):
    resource_classes = [resources.ChairResource]
    list_display = ["name", "code", "branch", "sort_order", "is_active"]
    list_filter = ["branch", "is_active"]


@admin.register(ShiftTemplate)
class ShiftTemplateAdmin(BranchScopedAdmin):
    list_display = ["doctor", "branch", "weekday", "starts", "ends", "valid_from", "valid_until"]
    list_filter = ["branch", "weekday"]


@admin.register(ShiftException)
class ShiftExceptionAdmin(BranchScopedAdmin):
    list_display = ["doctor", "branch", "date", "kind", "starts", "ends", "reason"]
    list_filter = ["branch", "kind"]
    date_hierarchy = "date"
