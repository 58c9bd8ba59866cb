"""Admin for the lists HQ manages (acquisition channels, tags). People are edited in the
staff UI, where every change goes through the services."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import AuditedAdmin, register_choice_scope

from .models import AcquisitionChannel, Member, Tag
from .selectors import scope_members

# Any admin form of a higher app that picks a member offers only the members the user may see.
register_choice_scope(Member, scope_members)


@admin.register(AcquisitionChannel)
class AcquisitionChannelAdmin(AuditedAdmin):
    list_display = ["name", "code", "sort_order", "is_active"]
    list_editable = ["sort_order", "is_active"]
    search_fields = ["name", "code"]


@admin.register(Tag)
class TagAdmin(AuditedAdmin):
    list_display = ["name", "color"]
    search_fields = ["name"]
