from __future__ import annotations

from django.contrib import admin

from clinic.admin import BranchScopedAdmin, BranchScopedReadOnlyAdmin, ClinicTabularInline

from .models import Attribution, Partner, PartnerContact, Rebate, RebateTerm, Statement


class PartnerContactInline(ClinicTabularInline):
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


# --- referral partners' terms, rebates and statements (partner_models) --------------------------


@admin.register(RebateTerm)
class RebateTermAdmin(BranchScopedAdmin):
    """Contract terms; marketing adds them on the partner page. Never deleted (rebates point at
    them): end a term instead."""

    branch_field = "partner__branch"
    list_display = ["partner", "kind", "category", "percent", "amount", "valid_from", "valid_until"]
    list_filter = ["kind", "category"]
    list_select_related = ["partner", "category"]
    search_fields = ["partner__name"]
    readonly_fields = ["created_at", "created_by"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Rebate)
class RebateAdmin(BranchScopedReadOnlyAdmin):
    """The rebate ledger: append-only, written by marketing.rebates."""

    branch_field = "partner__branch"
    list_display = [
        "created_at",
        "partner",
        "kind",
        "visit",
        "base",
        "amount",
        "statement",
    ]
    list_filter = ["kind"]
    list_select_related = ["partner", "statement__partner", "visit__member"]
    search_fields = ["partner__name", "idempotency_key"]


@admin.register(Statement)
class StatementAdmin(BranchScopedReadOnlyAdmin):
    """Monthly statements; settled on the statement page (marketing.settle_rebate), audited."""

    branch_field = "partner__branch"
    list_display = [
        "month",
        "partner",
        "status",
        "total",
        "paid_amount",
        "reference",
        "settled_at",
        "settled_by",
    ]
    list_filter = ["status", "month"]
    list_select_related = ["partner", "settled_by"]
    search_fields = ["partner__name", "reference"]


from . import campaign_admin, consultation_admin, segment_admin  # noqa: E402, F401  (their admin classes)
