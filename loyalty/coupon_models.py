"""Coupons (优惠券), printed batches (号段) and the rewards catalogue (积分兑换).

Imported by ``loyalty.models`` so Django registers them. Writes go through
``loyalty.coupons`` and ``loyalty.rewards`` only. A coupon is used at most once: the use is a
conditional UPDATE (``used_at IS NULL``) and every use and restore is an append-only
``CouponEvent`` row; a reward item's stock has a CHECK (stock >= 0) and is taken with a
conditional ``F()`` update, so concurrent redemptions never oversell.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch, ServiceCategory, ServiceItem
from clinic.money import format_cny_short
from members.models import Member

PERCENT = [MinValueValidator(0), MaxValueValidator(100)]


class CouponKind(models.TextChoices):
    AMOUNT = "amount", _("Fixed amount off")
    PERCENT = "percent", _("Percentage off")
    FREE_ITEM = "free_item", _("Free service item")


class CouponTemplate(models.Model):
    """What a coupon gives and when it may be used. Validity is either fixed dates or a
    number of days after issue (``valid_days``)."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=CouponKind.choices)
    amount_off = models.DecimalField(_("amount off"), max_digits=12, decimal_places=2, default=0)
    percent_off = models.DecimalField(
        _("percent off"), max_digits=5, decimal_places=2, default=0, validators=PERCENT
    )
    cap = models.DecimalField(_("largest discount"), max_digits=12, decimal_places=2, null=True, blank=True)
    free_item = models.ForeignKey(
        ServiceItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("free service item"),
    )
    min_spend = models.DecimalField(_("minimum spend"), max_digits=12, decimal_places=2, default=0)
    categories = models.ManyToManyField(
        ServiceCategory, blank=True, related_name="+", verbose_name=_("eligible categories")
    )
    items = models.ManyToManyField(
        ServiceItem, blank=True, related_name="+", verbose_name=_("eligible items")
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveIntegerField(_("valid for days after issue"), null=True, blank=True)
    per_member_limit = models.PositiveSmallIntegerField(
        _("per-member limit"), default=1, help_text=_("0 means no limit.")
    )
    stackable = models.BooleanField(_("stackable with other coupons"), default=False)
    with_tier_discount = models.BooleanField(_("usable with the tier discount"), default=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_off__gte=0) & Q(min_spend__gte=0), name="coupon_tpl_amounts"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def offer_text(self) -> str:
        """What the coupon gives, in a few words a customer reads on a printed ticket:
        满¥300减¥50, 8折 style percentages as "15% off", a free service item."""
        from django.utils.translation import gettext

        yuan = format_cny_short
        if self.kind == CouponKind.AMOUNT:
            offer = gettext("%(amount)s off") % {"amount": yuan(self.amount_off)}
        elif self.kind == CouponKind.PERCENT:
            offer = gettext("%(percent)s%% off") % {"percent": f"{self.percent_off.normalize():f}"}
            if self.cap:
                offer += gettext(", up to %(cap)s") % {"cap": yuan(self.cap)}
        else:
            offer = gettext("Free %(item)s") % {"item": self.free_item.name if self.free_item else ""}
        if self.min_spend:
            return gettext("Spend %(min)s, %(offer)s") % {"min": yuan(self.min_spend), "offer": offer}
        return offer

    def clean(self) -> None:
        """The fields each kind needs, and one way of validity (admin form validation)."""
        from django.core.exceptions import ValidationError

        errors = {}
        if self.kind == CouponKind.AMOUNT and not self.amount_off:
            errors["amount_off"] = _("Give the amount off.")
        if self.kind == CouponKind.PERCENT and not self.percent_off:
            errors["percent_off"] = _("Give the percentage off.")
        if self.kind == CouponKind.FREE_ITEM and not self.free_item_id:
            errors["free_item"] = _("Choose the free service item.")
        if self.valid_days and (self.valid_from or self.valid_until):
            errors["valid_days"] = _("Use either fixed dates or a number of days after issue, not both.")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = _("The end date is before the start date.")
        for name in ("amount_off", "cap", "min_spend"):
            if (getattr(self, name) or 0) < 0:
                errors[name] = _("An amount cannot be negative.")
        if (
            self.kind == CouponKind.AMOUNT
            and self.amount_off
            and self.min_spend
            and self.amount_off > self.min_spend
        ):
            errors["amount_off"] = _("The amount off cannot be more than the minimum spend.")
        if errors:
            raise ValidationError(errors)


class CouponBatch(models.Model):
    """A printed number range (号段) of codes handed to a marketer or a channel."""

    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="batches", verbose_name=_("template")
    )
    name = models.CharField(_("campaign"), max_length=100)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    start_no = models.PositiveIntegerField(_("first number"))
    end_no = models.PositiveIntegerField(_("last number"))
    marketer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("marketer"),
    )
    channel = models.CharField(_("channel"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("coupon batch")
        verbose_name_plural = _("coupon batches")
        default_permissions = ("view", "add")
        permissions = [("export_couponbatch", _("Export a coupon batch for printing"))]
        constraints = [
            models.CheckConstraint(condition=Q(end_no__gte=models.F("start_no")), name="coupon_batch_range"),
        ]

    def __str__(self) -> str:
        if self.start_no is None or self.end_no is None:  # not printed yet (an unsaved form)
            return str(self.name)
        return f"{self.name} {self.start_no:06d}–{self.end_no:06d}"


class Coupon(models.Model):
    """One code. ``member`` is empty for a printed code until it is first used (a bearer
    code binds to whoever redeems it). ``used_at`` / ``used_source`` change only through
    ``coupon_redeem`` and ``coupon_restore``."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("template")
    )
    batch = models.ForeignKey(
        CouponBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coupons",
        verbose_name=_("batch"),
    )
    serial = models.PositiveIntegerField(_("number"), null=True, blank=True)
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coupons",
        verbose_name=_("person"),
    )
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    issue_key = models.CharField(
        max_length=100, null=True, blank=True, unique=True, verbose_name=_("issue key")
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_source = models.CharField(_("used by"), max_length=100, blank=True, db_index=True)
    voided_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        default_permissions = ("view",)
        permissions = [
            ("issue_coupon", _("Issue a coupon to a member")),
            ("record_review", _("Record a completed review or survey (gives its reward)")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["batch", "serial"], name="coupon_batch_serial"),
        ]
        indexes = [models.Index(fields=["member", "template"], name="coupon_member_tpl")]

    def __str__(self) -> str:
        return self.code


class CouponEvent(models.Model):
    """Append-only: each use and each restore of a coupon."""

    USE, RESTORE = "use", "restore"
    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, related_name="events", verbose_name=_("coupon")
    )
    kind = models.CharField(
        max_length=8, choices=[(USE, _("used")), (RESTORE, _("restored"))], verbose_name=_("kind")
    )
    source_key = models.CharField(_("source"), max_length=100)
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("person"))
    at = models.DateTimeField(default=timezone.now, verbose_name=_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )

    class Meta:
        ordering = ["at", "id"]
        default_permissions = ("view",)
        verbose_name = _("coupon use")
        verbose_name_plural = _("coupon uses")

    def __str__(self) -> str:
        from .selectors import source_label

        return f"{self.coupon_id} {self.get_kind_display()} {source_label(self.source_key)}"


# --- rewards catalogue (积分兑换) -------------------------------------------------------------


class RewardKind(models.TextChoices):
    GIFT = "gift", _("Gift")
    SERVICE = "service", _("Free service")
    COUPON = "coupon", _("Coupon")


class RewardItem(models.Model):
    """Something members buy with points. ``stock`` empty means unlimited; otherwise a
    CHECK keeps it >= 0 and ``reward_redeem`` takes it with a conditional update."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=RewardKind.choices)
    points_cost = models.PositiveIntegerField(_("points"))
    stock = models.IntegerField(_("stock"), null=True, blank=True)
    per_member_limit = models.PositiveSmallIntegerField(
        _("per-member limit"), default=0, help_text=_("0 means no limit.")
    )
    available_from = models.DateField(_("available from"), null=True, blank=True)
    available_until = models.DateField(_("available until"), null=True, blank=True)
    service_item = models.ForeignKey(
        ServiceItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("free service"),
    )
    entitlement_days = models.PositiveIntegerField(_("service usable for days"), default=365)
    coupon_template = models.ForeignKey(
        CouponTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("coupon"),
    )
    tiers = models.ManyToManyField(
        "loyalty.Tier", blank=True, related_name="+", verbose_name=_("tiers allowed")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["points_cost", "name"]
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        constraints = [
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(stock__gte=0), name="reward_stock_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if not self.points_cost or self.points_cost < 1:
            # A reward that costs no points hands gifts and services out for nothing.
            raise ValidationError({"points_cost": _("A reward costs at least one point.")})
        if self.kind == RewardKind.SERVICE and not self.service_item_id:
            raise ValidationError({"service_item": _("Choose the free service.")})
        if self.kind == RewardKind.COUPON and not self.coupon_template_id:
            raise ValidationError({"coupon_template": _("Choose the coupon.")})


class RewardRedemption(models.Model):
    """One exchange of points for a reward; for a gift, who handed it over and when."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="reward_redemptions", verbose_name=_("person")
    )
    item = models.ForeignKey(
        RewardItem, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("reward")
    )
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    points = models.PositiveIntegerField(_("points"))
    created_at = models.DateTimeField(_("redeemed at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    handed_over_at = models.DateTimeField(_("handed over at"), null=True, blank=True)
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handed over by"),
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cancelled by"),
    )
    cancel_reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("reward redemption")
        verbose_name_plural = _("reward redemptions")
        default_permissions = ("view",)
        permissions = [
            ("redeem_reward", _("Redeem points for a reward")),
            ("cancel_reward", _("Cancel a reward redemption (refund points and stock)")),
        ]

    def __str__(self) -> str:
        return f"{self.item} × {self.quantity}"


class Entitlement(models.Model):
    """One free unit of a service bought with points, used at checkout (``used_source``)
    and given back when that visit is voided."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="entitlements", verbose_name=_("person")
    )
    redemption = models.ForeignKey(
        RewardRedemption,
        on_delete=models.PROTECT,
        related_name="entitlements",
        verbose_name=_("reward redemption"),
    )
    service_item = models.ForeignKey(
        ServiceItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("service item")
    )
    valid_until = models.DateField(_("valid until"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_source = models.CharField(_("used by"), max_length=100, blank=True, db_index=True)
    voided_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        ordering = ["valid_until", "id"]
        verbose_name = _("entitlement")
        verbose_name_plural = _("entitlements")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.service_item} · {self.member_id}"


# --- referrals (推荐有礼) ---------------------------------------------------------------------


class ReferralCode(models.Model):
    """A member's own referral code (same alphabet and check character as coupons)."""

    member = models.OneToOneField(
        Member, on_delete=models.PROTECT, related_name="referral_code", verbose_name=_("person")
    )
    code = models.CharField(_("referral code"), max_length=12, unique=True)
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        default_permissions = ()
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")

    def __str__(self) -> str:
        return self.code


class ReferralStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a first paid visit")
    REWARDED = "rewarded", _("Rewarded")
    CAPPED = "capped", _("Not rewarded: monthly cap reached")
    REVERSED = "reversed", _("Reward reversed")
    # Carried over from an old system: who referred whom is kept, the reward was the old
    # system's business, so no reward is given here.
    MIGRATED = "migrated", _("Migrated from the old system (no reward here)")


class Referral(models.Model):
    """Who referred this person (one referrer per person). The reward is given once, keyed
    on the referral (``referral:<id>:referrer`` / ``:referee``), and reversed when the
    visit that triggered it (``source_key``) is voided."""

    referee = models.OneToOneField(
        Member, on_delete=models.PROTECT, related_name="referred_by", verbose_name=_("referred person")
    )
    referrer = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="referrals", verbose_name=_("referrer")
    )
    status = models.CharField(
        _("status"), max_length=12, choices=ReferralStatus.choices, default=ReferralStatus.PENDING
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    source_key = models.CharField(_("first paid visit"), max_length=100, blank=True)
    rewarded_at = models.DateTimeField(_("rewarded at"), null=True, blank=True)
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        default_permissions = ("view",)
        permissions = [("set_referrer", _("Record who referred a person"))]
        constraints = [
            models.CheckConstraint(condition=~Q(referee=models.F("referrer")), name="referral_not_self"),
        ]
        indexes = [models.Index(fields=["referrer", "rewarded_at"], name="referral_referrer_month")]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referee_id}"
