"""Admin for the configuration HQ and managers keep: chairs, weekly shifts, exceptions.
Bookings and visits are worked on in the staff UI, where every change goes through services."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import AuditedAdmin

from .models import Chair, ShiftException, ShiftTemplate


@admin.register(Chair)
class ChairAdmin(AuditedAdmin):
    list_display = ["name", "code", "branch", "sort_order", "is_active"]
    list_filter = ["branch", "is_active"]


@admin.register(ShiftTemplate)
class ShiftTemplateAdmin(AuditedAdmin):
    list_display = ["doctor", "branch", "weekday", "starts", "ends", "valid_from", "valid_until"]
    list_filter = ["branch", "weekday"]


@admin.register(ShiftException)
class ShiftExceptionAdmin(AuditedAdmin):
    list_display = ["doctor", "branch", "date", "kind", "starts", "ends", "reason"]
    list_filter = ["branch", "kind"]
    date_hierarchy = "date"
