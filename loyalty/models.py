"""Enrolment, tiers and their rules, purchases, yearly allowances and the points ledger.

Every write goes through ``loyalty.services``. The ledger tables are append-only (database
triggers refuse UPDATE and DELETE on entries and lot consumptions); a lot's ``remaining`` and
an account's cached ``balance`` change only in the ledger service, under the account's row
lock, and CHECK constraints keep both from going negative.
"""

from __future__ import annotations

import pghistory
import pgtrigger
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch, LocalizedNameMixin, ServiceCategory
from members.models import Member

PERCENT = [MinValueValidator(0), MaxValueValidator(100)]


class QualifyLogic(models.TextChoices):
    OR = "or", _("either threshold")
    AND = "and", _("both thresholds")


@pghistory.track()
class Tier(LocalizedNameMixin):
    """会员等级. The lowest-ranked active tier is the entry tier and has no thresholds; each
    higher tier qualifies on the paid amount and/or the visit count of the last 12 months."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("Higher is better."))
    qualify_amount = models.DecimalField(
        _("qualifying amount (CNY, rolling 12 months)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    qualify_visits = models.PositiveSmallIntegerField(
        _("qualifying visits (rolling 12 months)"), null=True, blank=True
    )
    qualify_logic = models.CharField(
        _("thresholds needed"), max_length=3, choices=QualifyLogic.choices, default=QualifyLogic.OR
    )
    basic_care_discount = models.DecimalField(
        _("discount on basic care (%)"), max_digits=5, decimal_places=2, default=0, validators=PERCENT
    )
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=1,
        validators=[MinValueValidator(0), MaxValueValidator(10)],
    )
    priority_booking = models.BooleanField(_("priority booking"), default=False)
    dedicated_rep = models.BooleanField(_("dedicated service rep"), default=False)
    badge_css = models.CharField(
        _("badge colour"),
        max_length=32,
        default="text-bg-secondary",
        choices=[
            ("text-bg-secondary", _("Grey")),
            ("text-bg-light", _("Silver")),
            ("text-bg-warning", _("Gold")),
            ("text-bg-primary", _("Blue")),
            ("text-bg-dark", _("Black")),
        ],
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["rank"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        constraints = [
            models.CheckConstraint(
                condition=Q(basic_care_discount__gte=0) & Q(basic_care_discount__lte=100),
                name="tier_discount_percent",
            ),
            models.CheckConstraint(
                condition=Q(points_multiplier__gte=0), name="tier_multiplier_not_negative"
            ),
        ]

    @property
    def has_thresholds(self) -> bool:
        return self.qualify_amount is not None or self.qualify_visits is not None


@pghistory.track()
class TierCategoryDiscount(models.Model):
    """A discount for one service category, overriding the tier's basic-care discount."""

    tier = models.ForeignKey(
        Tier, on_delete=models.CASCADE, related_name="category_discounts", verbose_name=_("tier")
    )
    category = models.ForeignKey(
        ServiceCategory, on_delete=models.CASCADE, related_name="+", verbose_name=_("service category")
    )
    percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, validators=PERCENT)

    class Meta:
        verbose_name = _("category discount")
        verbose_name_plural = _("category discounts")
        constraints = [
            models.UniqueConstraint(fields=["tier", "category"], name="tier_category_discount_unique"),
            models.CheckConstraint(
                condition=Q(percent__gte=0) & Q(percent__lte=100), name="tier_category_discount_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tier} · {self.category} −{self.percent}%"


class AllowanceKind(models.TextChoices):
    CLEANING = "cleaning", _("Free cleaning")
    EXAM = "exam", _("Free exam")


@pghistory.track()
class TierAllowance(models.Model):
    """A yearly benefit of a tier: so many free cleanings (or exams) per membership year."""

    tier = models.ForeignKey(
        Tier, on_delete=models.CASCADE, related_name="allowances", verbose_name=_("tier")
    )
    kind = models.CharField(_("benefit"), max_length=16, choices=AllowanceKind.choices)
    per_year = models.PositiveSmallIntegerField(_("per membership year"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("yearly allowance")
        verbose_name_plural = _("yearly allowances")
        constraints = [models.UniqueConstraint(fields=["tier", "kind"], name="tier_allowance_unique")]

    def __str__(self) -> str:
        return f"{self.tier} · {self.get_kind_display()} ×{self.per_year}"


class ExpiryMode(models.TextChoices):
    MONTHS = "months", _("N months after earning")
    YEAR_END = "year_end", _("End of the year after earning")


# The most points per ¥1 a rule may give: a slip of the finger (100 for 1.00) must not
# hand out a hundred times the points. Enforced in clean(), which record_save runs.
MAX_POINTS_PER_YUAN = 100


def _check_rate(rate) -> None:
    from django.core.exceptions import ValidationError

    if rate is not None and rate > MAX_POINTS_PER_YUAN:
        raise ValidationError(
            {"points_per_yuan": _("At most %(max)s points per ¥1.") % {"max": MAX_POINTS_PER_YUAN}}
        )


def _check_points_amount(field: str, points) -> None:
    """A configured number of points is bounded like a manual adjustment
    (``LOYALTY_MAX_POINTS_ADJUSTMENT``)."""
    from django.core.exceptions import ValidationError

    limit = settings.LOYALTY_MAX_POINTS_ADJUSTMENT
    if points is not None and points > limit:
        raise ValidationError({field: _("At most %(max)s points.") % {"max": limit}})


@pghistory.track()
class PointsPolicy(models.Model):
    """The earn and expiry rules. One row (pk=1), edited by HQ in admin."""

    points_per_yuan = models.DecimalField(
        _("points per ¥1 paid"), max_digits=6, decimal_places=2, default=1, validators=[MinValueValidator(0)]
    )
    expiry_mode = models.CharField(
        _("points expire"), max_length=10, choices=ExpiryMode.choices, default=ExpiryMode.MONTHS
    )
    expiry_months = models.PositiveSmallIntegerField(
        _("months until expiry"), default=12, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    warn_days = models.PositiveSmallIntegerField(
        _("warn days before expiry"), default=30, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    welcome_points = models.PositiveIntegerField(_("welcome points on enrolment"), default=0)
    tier_warn_days = models.PositiveSmallIntegerField(
        _("warn days before a tier review"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )

    class Meta:
        verbose_name = _("points policy")
        verbose_name_plural = _("points policy")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="points_policy_single_row")]

    def __str__(self) -> str:
        return str(_("Points policy"))

    def clean(self) -> None:
        _check_rate(self.points_per_yuan)
        _check_points_amount("welcome_points", self.welcome_points)


@pghistory.track()
class EarnCategoryRate(models.Model):
    """Points per ¥1 for one service category, overriding the policy's rate (0: no points)."""

    category = models.OneToOneField(
        ServiceCategory, on_delete=models.CASCADE, related_name="+", verbose_name=_("service category")
    )
    points_per_yuan = models.DecimalField(
        _("points per ¥1 paid"), max_digits=6, decimal_places=2, validators=[MinValueValidator(0)]
    )

    class Meta:
        verbose_name = _("category earn rate")
        verbose_name_plural = _("category earn rates")

    def __str__(self) -> str:
        return f"{self.category} ×{self.points_per_yuan}"

    def clean(self) -> None:
        _check_rate(self.points_per_yuan)


class BonusKind(models.TextChoices):
    REFERRAL = "referral", _("Referral reward")
    EVENT = "event", _("Event attendance")
    SURVEY = "survey", _("Review or survey")
    BIRTHDAY = "birthday", _("Birthday bonus")
    RECALL = "recall", _("Recall kept on time")


@pghistory.track()
class BonusRule(models.Model):
    kind = models.CharField(_("bonus"), max_length=16, choices=BonusKind.choices, unique=True)
    points = models.PositiveIntegerField(_("points"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind"]
        verbose_name = _("bonus rule")
        verbose_name_plural = _("bonus rules")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} +{self.points}"

    def clean(self) -> None:
        _check_points_amount("points", self.points)


class CardSequence(models.Model):
    """The last card sequence number used at a branch (incremented under a row lock)."""

    branch = models.OneToOneField(
        Branch, on_delete=models.PROTECT, related_name="+", primary_key=True, verbose_name=_("branch")
    )
    last = models.PositiveIntegerField(default=0, verbose_name=_("last number"))

    class Meta:
        verbose_name = _("card sequence")
        verbose_name_plural = _("card sequences")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.branch_id}:{self.last}"


class Membership(models.Model):
    """办卡: a member's card, tier and membership year. One per person; the card number is
    also written to ``Member.card_no`` (through the members service) for search."""

    member = models.OneToOneField(
        Member, on_delete=models.PROTECT, related_name="membership", verbose_name=_("person")
    )
    card_no = models.CharField(_("card number"), max_length=32, unique=True)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("enrolled at")
    )
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("tier")
    )
    enrolled_at = models.DateTimeField(_("enrolled at"), default=timezone.now)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("enrolled by"),
    )
    tier_since = models.DateField(_("tier held since"))
    review_on = models.DateField(_("next tier review"), db_index=True)
    warned_for = models.DateField(_("warning sent for review of"), null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        default_permissions = ("view",)
        permissions = [
            ("enrol_member", _("Enrol a person as a member")),
            ("override_tier", _("Change a member's tier by hand")),
        ]

    def __str__(self) -> str:
        return self.card_no


class Purchase(models.Model):
    """A paid visit (or other purchase) that counts toward tiers and earns points.

    ``source_key`` (``visit:123``) is unique: recording the same checkout twice is a no-op.
    A reversal sets ``reversed_at``; the row stays."""

    # Looked up by member through ``purchase_member_at`` (member first): a second index on the
    # bare foreign key would only slow the inserts (a migration writes five per member).
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="purchases", db_index=False, verbose_name=_("person")
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("branch")
    )
    # Unique through a constraint in Meta, not ``unique=True``: that also builds a
    # varchar_pattern_ops index for LIKE queries nobody makes on keys.
    source_key = models.CharField(_("source"), max_length=100)
    amount = models.DecimalField(_("amount paid"), max_digits=12, decimal_places=2)
    eligible_by_category = models.JSONField(_("eligible amount by category"), default=dict, blank=True)
    counts_as_visit = models.BooleanField(_("counts as a visit"), default=True)
    # How many visits the row stands for when it counts as one: 1 for a checkout; an old
    # system's 消费次数 on the one row a migration writes for the last 12 months.
    visits = models.PositiveSmallIntegerField(_("visits"), default=1)
    occurred_at = models.DateTimeField(_("time"), db_index=True)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        default_permissions = ("view",)
        indexes = [models.Index(fields=["member", "occurred_at"], name="purchase_member_at")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="purchase_amount_not_negative"),
            models.UniqueConstraint(fields=["source_key"], name="purchase_source_key_unique"),
        ]

    def __str__(self) -> str:
        from .selectors import source_label

        return source_label(self.source_key)


class TierCause(models.TextChoices):
    ENROLMENT = "enrolment", _("Enrolment")
    UPGRADE = "upgrade", _("Qualified by purchases")
    ANNIVERSARY = "anniversary", _("Anniversary review")
    MANUAL = "manual", _("Manual override")
    MIGRATION = "migration", _("Migrated from the old system")


class TierChange(models.Model):
    """Every change of a member's tier, with its cause. Append-only."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="tier_changes", verbose_name=_("person")
    )
    from_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("from")
    )
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", verbose_name=_("to"))
    cause = models.CharField(_("cause"), max_length=16, choices=TierCause.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    source_key = models.CharField(_("source"), max_length=100, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        default_permissions = ("view",)
        indexes = [models.Index(fields=["member", "-at"], name="tierchange_member_at")]
        triggers = [
            # Append-only; only a merge of duplicate records may move a change to the kept one.
            pgtrigger.Protect(name="tierchange_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="tierchange_append_only",
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange(exclude=["member"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_tier or '—'} → {self.to_tier}"


class AllowanceUse(models.Model):
    """One use of a yearly allowance, by a checkout (``source_key``). A void sets
    ``restored_at``, which gives the use back for that membership year."""

    membership = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="allowance_uses", verbose_name=_("membership")
    )
    kind = models.CharField(_("benefit"), max_length=16, choices=AllowanceKind.choices)
    year_start = models.DateField(_("membership year from"))
    source_key = models.CharField(_("source"), max_length=100, unique=True)
    used_at = models.DateTimeField(_("used at"), default=timezone.now)
    restored_at = models.DateTimeField(_("restored at"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )

    class Meta:
        ordering = ["-used_at"]
        verbose_name = _("allowance use")
        verbose_name_plural = _("allowance uses")
        default_permissions = ("view",)
        indexes = [models.Index(fields=["membership", "kind", "year_start"], name="allowance_use_year")]

    def __str__(self) -> str:
        from .selectors import source_label

        return f"{self.get_kind_display()} · {source_label(self.source_key)}"


# --- the points ledger -------------------------------------------------------------------


class PointsAccount(models.Model):
    """A member's points. ``balance`` is a cache of the sum of the entries, changed only by
    the ledger service under ``select_for_update``. A merged-away member's account is closed
    (its points move by ledger entries) and follows the person, so history stays whole."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="points_accounts", verbose_name=_("person")
    )
    balance = models.IntegerField(_("balance"), default=0)
    is_open = models.BooleanField(_("open"), default=True)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="points_balance_not_negative"),
            models.UniqueConstraint(
                fields=["member"], condition=Q(is_open=True), name="points_one_open_account_per_member"
            ),
            models.CheckConstraint(
                condition=Q(is_open=True) | Q(balance=0), name="points_closed_account_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.balance}"


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    EXPIRE = "expire", _("Expired")
    REVERSE = "reverse", _("Reversed")
    ADJUST = "adjust", _("Adjusted")


class PointsEntry(models.Model):
    """One change of a balance. Append-only. ``points`` is signed; ``balance_after`` is the
    account's balance once this entry applied. Entries that add points (earn, a positive
    adjust) create exactly one lot; entries that take points record the lots they took in
    ``LotConsumption`` rows (an expire entry takes exactly its ``lot``)."""

    # Entries are looked up by account through ``points_entry_account_at`` (account first);
    # a second index on the bare foreign key would only slow the expiry job's inserts.
    account = models.ForeignKey(
        PointsAccount,
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,
        verbose_name=_("points account"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=EntryKind.choices)
    points = models.IntegerField(_("points"))
    balance_after = models.IntegerField(_("balance after"))
    # Unique through a constraint in Meta, not ``unique=True``: that also builds a
    # varchar_pattern_ops index for LIKE queries nobody makes on keys.
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, null=True, blank=True)
    source_key = models.CharField(_("source"), max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    # No indexes on these: the expiry job writes millions of entries, and nothing looks
    # entries up by lot or by reversed entry (reversals are found by their keys).
    lot = models.ForeignKey(
        "PointsLot",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="expire_entries",
        db_index=False,
        verbose_name=_("points lot"),
    )
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        db_index=False,
        verbose_name=_("reverses"),
    )
    shortfall = models.PositiveIntegerField(
        _("shortfall"), default=0, help_text=_("Points a reversal could not take back (already spent).")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("actor"),
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="points_entry_account_at"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="points_entry_idempotency_key"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="points_entry_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["redeem", "expire", "reverse"], points__lte=0)
                | Q(kind="earn", points__gt=0)
                | Q(kind="adjust"),
                name="points_entry_sign_matches_kind",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="points_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"


class PointsLot(models.Model):
    """The points one earn (or positive adjust) added: spent, expired and reversed oldest
    expiry first. ``remaining`` only goes down, never below zero."""

    # Looked up by account only while open, through ``points_lot_open_fifo``: no index on
    # the bare foreign key (it would be one more index every expired lot writes to).
    account = models.ForeignKey(
        PointsAccount,
        on_delete=models.PROTECT,
        related_name="lots",
        db_index=False,
        verbose_name=_("points account"),
    )
    entry = models.OneToOneField(
        PointsEntry, on_delete=models.PROTECT, related_name="created_lot", verbose_name=_("points entry")
    )
    points = models.PositiveIntegerField(_("points"))
    remaining = models.IntegerField(_("remaining"))
    earned_at = models.DateTimeField(_("earned at"))
    expires_on = models.DateField(_("valid until"))

    class Meta:
        ordering = ["expires_on", "id"]
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        default_permissions = ("view",)
        indexes = [
            # FIFO: an account's open lots by expiry.
            models.Index(
                fields=["account", "expires_on", "id"],
                condition=Q(remaining__gt=0),
                name="points_lot_open_fifo",
            ),
            # The nightly expiry sweep and the 30-day warning.
            models.Index(fields=["expires_on"], condition=Q(remaining__gt=0), name="points_lot_open_expiry"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(remaining__gte=0), name="points_lot_remaining_not_negative"),
            models.CheckConstraint(
                condition=Q(remaining__lte=F("points")), name="points_lot_remaining_within_points"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.remaining}/{self.points} → {self.expires_on}"


class LotConsumption(models.Model):
    """Which lots an entry that takes points (redeem, reverse, negative adjust) took, and how
    many from each. Append-only."""

    entry = models.ForeignKey(
        PointsEntry, on_delete=models.PROTECT, related_name="consumptions", verbose_name=_("points entry")
    )
    lot = models.ForeignKey(
        PointsLot, on_delete=models.PROTECT, related_name="consumptions", verbose_name=_("points lot")
    )
    points = models.PositiveIntegerField(_("points"))

    class Meta:
        verbose_name = _("lot consumption")
        verbose_name_plural = _("lot consumptions")
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["entry", "lot"], name="lot_consumption_unique"),
            models.CheckConstraint(condition=Q(points__gt=0), name="lot_consumption_positive"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="lot_consumption_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} ← {self.lot_id}: {self.points}"


class ExpiryWarning(models.Model):
    """The 30-day warning for the points of an account that expire on one day: one row, so
    one message, per account and expiry date."""

    account = models.ForeignKey(
        PointsAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("points account")
    )
    expires_on = models.DateField(verbose_name=_("expires on"))
    points = models.PositiveIntegerField(verbose_name=_("points"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("expiry warning")
        verbose_name_plural = _("expiry warnings")
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["account", "expires_on"], name="expiry_warning_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} · {self.expires_on}"


class LedgerDrift(models.Model):
    """An account whose balance, entries and open lots disagreed at a reconciliation."""

    account = models.ForeignKey(
        PointsAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("points account")
    )
    balance = models.BigIntegerField(_("cached balance"))
    entries_sum = models.BigIntegerField(_("sum of entries"))
    lots_sum = models.BigIntegerField(_("sum of open lots"))
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now)

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name = _("ledger drift")
        verbose_name_plural = _("ledger drifts")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"#{self.account_id} {self.balance}/{self.entries_sum}/{self.lots_sum}"


from .coupon_models import (  # noqa: E402,F401  (registered with the app)
    Coupon,
    CouponBatch,
    CouponEvent,
    CouponKind,
    CouponTemplate,
    Entitlement,
    Referral,
    ReferralCode,
    ReferralStatus,
    RewardItem,
    RewardKind,
    RewardRedemption,
)
from .stored_value_models import (  # noqa: E402,F401  (registered with the app)
    StoredValueAccount,
    StoredValueBonusRule,
    StoredValueDrift,
    StoredValueEntry,
    StoredValueKind,
    StoredValueMethod,
)
