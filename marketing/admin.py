from __future__ import annotations

from django.contrib import admin

from clinic.admin import BranchScopedAdmin, BranchScopedReadOnlyAdmin

from .models import Attribution, Partner, PartnerContact


class PartnerContactInline(admin.TabularInline):
    model = PartnerContact
    extra = 0


@admin.register(Partner)
class PartnerAdmin(BranchScopedAdmin):
    branch_field = "branch"
    list_display = ["name", "kind", "branch", "account_manager", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    inlines = [PartnerContactInline]


@admin.register(Attribution)
class AttributionAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "member__branch"
    list_display = ["member", "channel", "partner", "consultant", "source", "fixed_at"]
    list_filter = ["source", "channel"]
    list_select_related = ["member", "channel", "partner", "consultant"]


from . import consultation_admin  # noqa: E402, F401  (consultations' admin)
