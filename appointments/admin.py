"""Admin for the configuration HQ and managers keep: chairs, weekly shifts, exceptions.
Bookings and visits are worked on in the staff UI, where every change goes through services."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import BranchScopedAdmin, ImportExportMixin

from . import resources
from .models import Chair, ShiftException, ShiftTemplate

# A branch manager sees and edits only their branches' chairs and shifts, and is offered only
# their branches and their doctors (clinic.admin.BranchScopedAdmin).


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
