"""Admin for the lists HQ manages (acquisition channels, tags). People are edited in the
staff UI, where every change goes through the services."""

from __future__ import annotations

from django.contrib import admin

from clinic.admin import AuditedAdmin, BranchScopedReadOnlyAdmin, register_choice_scope

from .models import AcquisitionChannel, Member, PrivacyRequest, Tag
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


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(BranchScopedReadOnlyAdmin):
    """The record of people's PIPL requests, read-only: they are handled in the staff queue
    (members:privacy_queue), where the handling note and the audit row are written."""

    list_display = ["requested_at", "kind", "status", "branch", "deadline", "handled_at", "handled_by"]
    list_filter = ["status", "kind", "branch"]
    date_hierarchy = "requested_at"
    list_select_related = ["branch", "handled_by"]
