"""Admin: HQ configures tiers, earn rules and bonuses; managers and HQ read the ledger.
Configuration saves go through services (audited); the ledger is read-only here."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from clinic.admin import (
    AuditedAdmin,
    BranchScopedMixin,
    BranchScopedReadOnlyAdmin,
    ClinicAdmin,
    ClinicTabularInline,
    ImportExportMixin,
)
from clinic.models import Role
from clinic.params import parse_int

from . import resources, services
from .errors import LoyaltyError
from .models import (
    BonusRule,
    EarnCategoryRate,
    LedgerDrift,
    LotConsumption,
    Membership,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsPolicy,
    StoredValueAccount,
    StoredValueBonusRule,
    StoredValueDrift,
    StoredValueEntry,
    Tier,
    TierAllowance,
    TierCategoryDiscount,
    TierChange,
)
from .reasons import reason_label
from .selectors import source_label


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = [
            "name",
            "name_en",
            "code",
            "rank",
            "qualify_amount",
            "qualify_visits",
            "qualify_logic",
            "basic_care_discount",
            "points_multiplier",
            "priority_booking",
            "dedicated_rep",
            "badge_css",
            "is_active",
        ]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data  # the ladder check needs every field valid
        candidate = self.instance
        for key, value in data.items():
            setattr(candidate, key, value)
        errors = services.tier_ladder_errors(services.config.tier_ladder_with(candidate))
        if errors:
            raise forms.ValidationError(errors)
        return data


class TierCategoryDiscountInline(ClinicTabularInline):
    model = TierCategoryDiscount
    extra = 0
    autocomplete_fields = ["category"]


class TierAllowanceInline(ClinicTabularInline):
    model = TierAllowance
    extra = 0


@admin.register(Tier)
class TierAdmin(ImportExportMixin, AuditedAdmin):
    resource_classes = [resources.TierResource, resources.TierCategoryDiscountResource]
    form = TierForm
    list_display = [
        "rank",
        "name",
        "code",
        "qualify_amount",
        "qualify_visits",
        "qualify_logic",
        "basic_care_discount",
        "points_multiplier",
        "priority_booking",
        "dedicated_rep",
        "is_active",
    ]
    list_display_links = ["name"]
    inlines = [TierCategoryDiscountInline, TierAllowanceInline]

    def save_model(self, request, obj, form, change):
        services.tier_save(actor=request.user, tier=obj)


@admin.register(PointsPolicy)
class PointsPolicyAdmin(AuditedAdmin):
    list_display = [
        "__str__",
        "points_per_yuan",
        "expiry_mode",
        "expiry_months",
        "warn_days",
        "welcome_points",
    ]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not PointsPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EarnCategoryRate)
class EarnCategoryRateAdmin(AuditedAdmin):
    list_display = ["category", "points_per_yuan"]
    autocomplete_fields = ["category"]


@admin.register(BonusRule)
class BonusRuleAdmin(AuditedAdmin):
    list_display = ["kind", "points", "is_active"]


@admin.register(Membership)
class MembershipAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "member__branch"
    list_display = ["card_no", "member", "tier", "branch", "enrolled_at", "review_on"]
    list_filter = ["tier", "branch"]
    search_fields = ["card_no", "member__name", "member__phone_digits"]
    list_select_related = ["member", "tier", "branch"]


@admin.register(TierChange)
class TierChangeAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "member__branch"
    list_display = ["at", "member", "from_tier", "to_tier", "cause", "reason"]
    list_filter = ["cause", "to_tier"]
    search_fields = ["member__name", "reason"]
    list_select_related = ["member", "from_tier", "to_tier"]


@admin.register(PointsAccount)
class PointsAccountAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "member__branch"
    list_display = ["id", "member", "balance", "is_open", "updated_at"]
    list_filter = ["is_open"]
    search_fields = ["member__name", "member__card_no", "=id"]
    list_select_related = ["member"]


class ConsumptionInline(ClinicTabularInline):
    model = LotConsumption
    fields = ["lot", "points"]
    readonly_fields = ["lot", "points"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PointsEntry)
class PointsEntryAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "account__member__branch"
    list_display = [
        "created_at",
        "account",
        "kind",
        "points",
        "balance_after",
        "source_name",
        "reason_text",
    ]
    list_filter = ["kind"]
    search_fields = ["=account__id", "idempotency_key", "source_key", "account__member__name"]
    list_select_related = ["account__member"]
    inlines = [ConsumptionInline]

    @admin.display(description=_("reason"), ordering="reason")
    def reason_text(self, obj: PointsEntry) -> str:
        return reason_label(obj.reason)

    @admin.display(description=_("source"), ordering="source_key")
    def source_name(self, obj) -> str:
        return source_label(obj.source_key)


@admin.register(PointsLot)
class PointsLotAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "account__member__branch"
    list_display = ["id", "account", "points", "remaining", "earned_at", "expires_on"]
    search_fields = ["=account__id"]
    list_select_related = ["account__member"]


@admin.register(LedgerDrift)
class LedgerDriftAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "account__member__branch"
    list_display = ["detected_at", "account", "balance", "entries_sum", "lots_sum"]
    list_select_related = ["account__member"]


# --- stored value (储值) ---------------------------------------------------------------------


class StoredValueBonusRuleForm(forms.ModelForm):
    class Meta:
        model = StoredValueBonusRule
        fields = ["name", "threshold", "bonus", "valid_from", "valid_until", "is_active"]

    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            raise forms.ValidationError(_("The end date is before the start date."))
        return data


@admin.register(StoredValueBonusRule)
class StoredValueBonusRuleAdmin(AuditedAdmin):
    """充1000送100 and the like: HQ sets which top-ups get which bonus."""

    form = StoredValueBonusRuleForm
    list_display = ["name", "threshold", "bonus", "valid_from", "valid_until", "is_active"]
    list_filter = ["is_active"]


@admin.register(StoredValueAccount)
class StoredValueAccountAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "member__branch"
    list_display = ["id", "member", "paid_balance", "bonus_balance", "is_open", "updated_at"]
    list_filter = ["is_open"]
    search_fields = ["member__name", "member__card_no", "=id"]
    list_select_related = ["member"]


@admin.register(StoredValueEntry)
class StoredValueEntryAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "account__member__branch"
    list_display = [
        "created_at",
        "account",
        "kind",
        "paid",
        "bonus",
        "paid_after",
        "bonus_after",
        "method",
        "source_name",
        "reason",
    ]
    list_filter = ["kind", "method"]
    search_fields = ["=account__id", "idempotency_key", "source_key", "account__member__name"]
    list_select_related = ["account__member"]

    @admin.display(description=_("source"), ordering="source_key")
    def source_name(self, obj) -> str:
        return source_label(obj.source_key)


@admin.register(StoredValueDrift)
class StoredValueDriftAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "account__member__branch"
    list_display = ["detected_at", "account", "paid_balance", "paid_sum", "bonus_balance", "bonus_sum"]
    list_select_related = ["account__member"]


# --- coupons ---------------------------------------------------------------------------------

from . import coupons as coupon_services  # noqa: E402
from .coupon_models import Coupon, CouponBatch, CouponTemplate  # noqa: E402


@admin.register(CouponTemplate)
class CouponTemplateAdmin(ImportExportMixin, AuditedAdmin):
    resource_classes = [resources.CouponTemplateResource]
    list_display = ["name", "kind", "amount_off", "percent_off", "cap", "min_spend", "stackable", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    filter_horizontal = ["categories", "items"]


class CouponBatchForm(forms.ModelForm):
    """The printing order. ``actor`` is set by the admin; the service's own checks (the
    actor's branch, a marketer of that branch) show next to their fields."""

    actor = None
    count = forms.IntegerField(label=_("number of codes"), min_value=1, max_value=coupon_services.MAX_BATCH)

    class Meta:
        model = CouponBatch
        fields = ["template", "name", "branch", "marketer", "channel"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "marketer" not in self.fields:  # the read-only view of a printed batch
            return
        marketers = self.fields["marketer"]
        branch = self.data.get("branch") if self.is_bound else None
        # Only marketing staff, and once the branch is known, only that branch's.
        qs = marketers.queryset.filter(staff__role=Role.MARKETING)
        branch_id = parse_int(str(branch)) if branch else None
        if branch_id is not None:
            qs = qs.filter(staff__branches=branch_id)
        marketers.queryset = qs.distinct()

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            coupon_services.coupon_batch_check(
                actor=self.actor,
                count=data["count"],
                branch=data.get("branch"),
                marketer=data.get("marketer"),
                channel=data.get("channel") or "",
            )
        except LoyaltyError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


@admin.register(CouponBatch)
class CouponBatchAdmin(BranchScopedMixin, ClinicAdmin):
    """A batch is printed once by ``coupon_batch_create``; afterwards it is read-only."""

    form = CouponBatchForm
    list_display = ["name", "template", "start_no", "end_no", "marketer", "channel", "branch", "created_at"]
    list_filter = ["template", "channel", "branch"]
    list_select_related = ["template", "marketer", "branch"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        return form

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        batch = coupon_services.coupon_batch_create(
            actor=request.user,
            template=data["template"],
            count=data["count"],
            name=data["name"],
            branch=data["branch"],
            marketer=data.get("marketer"),
            channel=data.get("channel") or "",
        )
        # Admin logs and links the object it was given: make it the printed batch.
        for f in CouponBatch._meta.concrete_fields:
            setattr(obj, f.attname, getattr(batch, f.attname))
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        pass


@admin.register(Coupon)
class CouponAdmin(BranchScopedReadOnlyAdmin):
    """Printed codes belong to their batch's branch, issued ones to their member's."""

    branch_field = ("batch__branch", "member__branch")
    list_display = ["code", "template", "member", "batch", "serial", "valid_until", "used_at", "used_for"]
    list_filter = ["template"]
    search_fields = ["code", "member__name"]
    list_select_related = ["template", "member", "batch"]

    @admin.display(description=_("used for"), ordering="used_source")
    def used_for(self, obj) -> str:
        return source_label(obj.used_source)


from .coupon_models import RewardItem, RewardRedemption  # noqa: E402


@admin.register(RewardItem)
class RewardItemAdmin(ImportExportMixin, AuditedAdmin):
    resource_classes = [resources.RewardItemResource]
    list_display = ["name", "kind", "points_cost", "stock", "per_member_limit", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    filter_horizontal = ["tiers"]


@admin.register(RewardRedemption)
class RewardRedemptionAdmin(BranchScopedReadOnlyAdmin):
    branch_field = "member__branch"
    list_display = [
        "created_at",
        "member",
        "item",
        "quantity",
        "points",
        "handed_over_by_name",
        "cancelled_at",
    ]
    list_select_related = ["member", "item", "handed_over_by"]

    @admin.display(description=_("handed over by"), ordering="handed_over_by")
    def handed_over_by_name(self, obj):
        user = obj.handed_over_by
        return (
            (getattr(getattr(user, "staff", None), "full_name", "") or user.get_username()) if user else "—"
        )
