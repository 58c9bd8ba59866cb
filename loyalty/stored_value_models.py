"""Stored value (储值): a member's prepaid balance, kept as two parts.

The *paid* part is money the member handed over (refundable while unspent); the *bonus* part
was given by a top-up rule such as 充1000送100 (never refunded). Both are cached on the account
and changed only by ``loyalty.services.stored_value`` under the account's row lock; CHECK
constraints keep each part, and every entry's balance-after, from going negative; entries are
append-only (a database trigger refuses UPDATE and DELETE), so a correction is a new entry.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch
from clinic.money import CENT, format_cny
from members.models import Member

MONEY = {"max_digits": 12, "decimal_places": 2}


class StoredValueAccount(models.Model):
    """A member's stored value. ``paid_balance`` and ``bonus_balance`` are caches of the sums
    of the entries' ``paid`` and ``bonus``. A merged-away member's account is closed (its
    balance moves by entries to the kept record's account)."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="stored_value_accounts", verbose_name=_("person")
    )
    paid_balance = models.DecimalField(_("paid balance"), default=0, **MONEY)
    bonus_balance = models.DecimalField(_("bonus balance"), default=0, **MONEY)
    is_open = models.BooleanField(_("open"), default=True)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("stored value account")
        verbose_name_plural = _("stored value accounts")
        default_permissions = ("view",)
        permissions = [
            ("top_up_stored_value", _("Top up a member's stored value")),
            ("refund_stored_value", _("Refund the unspent paid part of stored value")),
            ("view_stored_value_report", _("See the stored value liability report")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(paid_balance__gte=0), name="sv_paid_balance_not_negative"),
            models.CheckConstraint(condition=Q(bonus_balance__gte=0), name="sv_bonus_balance_not_negative"),
            models.UniqueConstraint(
                fields=["member"], condition=Q(is_open=True), name="sv_one_open_account_per_member"
            ),
            models.CheckConstraint(
                condition=Q(is_open=True) | (Q(paid_balance=0) & Q(bonus_balance=0)),
                name="sv_closed_account_empty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {format_cny(self.paid_balance)}+{format_cny(self.bonus_balance)}"

    @property
    def balance(self):
        return self.paid_balance + self.bonus_balance


class StoredValueKind(models.TextChoices):
    TOP_UP = "top_up", _("Top-up")
    SPEND = "spend", _("Spent at checkout")
    RESTORE = "restore", _("Restored (visit voided)")
    REFUND = "refund", _("Refunded")
    OPEN = "open", _("Opening balance (migrated)")
    MERGE = "merge", _("Moved by a merge of records")


class StoredValueMethod(models.TextChoices):
    """How money came in (a top-up) or went back (a refund)."""

    CASH = "cash", _("Cash")
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")
    BANK_CARD = "bank_card", _("Bank card")


class StoredValueEntry(models.Model):
    """One change of a stored-value balance. Append-only. ``paid`` and ``bonus`` are signed;
    ``paid_after``/``bonus_after`` are the account's parts once this entry applied."""

    # Looked up by account through ``sv_entry_account_at`` (account first): no second index
    # on the bare foreign key.
    account = models.ForeignKey(
        StoredValueAccount,
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,
        verbose_name=_("stored value account"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=StoredValueKind.choices)
    paid = models.DecimalField(_("paid part"), **MONEY)
    bonus = models.DecimalField(_("bonus part"), **MONEY)
    paid_after = models.DecimalField(_("paid balance after"), **MONEY)
    bonus_after = models.DecimalField(_("bonus balance after"), **MONEY)
    method = models.CharField(
        _("payment method"), max_length=16, choices=StoredValueMethod.choices, blank=True
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("branch")
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=120)
    source_key = models.CharField(_("source"), max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    # Nothing looks entries up by the entry they reverse (restores are found by their keys).
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        db_index=False,
        verbose_name=_("reverses"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("stored value entry")
        verbose_name_plural = _("stored value entries")
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="sv_entry_account_at"),
            # A void finds the spends of its visit; most entries (top-ups) have no source.
            models.Index(fields=["source_key"], condition=~Q(source_key=""), name="sv_entry_source"),
            # The liability report sums entries up to a day.
            models.Index(fields=["created_at"], name="sv_entry_created_at"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="sv_entry_idempotency_key"),
            models.CheckConstraint(
                condition=Q(paid_after__gte=0) & Q(bonus_after__gte=0), name="sv_entry_after_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["top_up", "open", "restore"], paid__gte=0, bonus__gte=0)
                | Q(kind__in=["spend", "refund"], paid__lte=0, bonus__lte=0)
                | Q(kind="merge"),
                name="sv_entry_sign_matches_kind",
            ),
            models.CheckConstraint(condition=~Q(paid=0, bonus=0), name="sv_entry_not_empty"),
        ]
        triggers = [
            pgtrigger.Protect(name="sv_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.paid:+}/{self.bonus:+}"

    @property
    def amount(self):
        return self.paid + self.bonus


class StoredValueBonusRule(models.Model):
    """A top-up bonus (充1000送100): a top-up of at least ``threshold`` gets ``bonus`` as the
    bonus part. The one rule with the highest threshold reached applies, once per top-up (a
    top-up of 2000 under 充1000送100 gets 100). Configured by HQ in admin."""

    name = models.CharField(_("name"), max_length=60)
    threshold = models.DecimalField(
        _("top-up of at least (CNY)"), validators=[MinValueValidator(CENT)], **MONEY
    )
    bonus = models.DecimalField(_("bonus (CNY)"), validators=[MinValueValidator(CENT)], **MONEY)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["-threshold"]
        verbose_name = _("top-up bonus rule")
        verbose_name_plural = _("top-up bonus rules")
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gt=0), name="sv_rule_threshold_positive"),
            models.CheckConstraint(condition=Q(bonus__gt=0), name="sv_rule_bonus_positive"),
        ]

    def __str__(self) -> str:
        return str(
            _("Top up %(threshold)s, get %(bonus)s")
            % {"threshold": format_cny(self.threshold), "bonus": format_cny(self.bonus)}
        )


class StoredValueDrift(models.Model):
    """An account whose cached parts disagreed with the sums of its entries at a
    reconciliation."""

    account = models.ForeignKey(
        StoredValueAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("stored value account")
    )
    paid_balance = models.DecimalField(_("cached paid balance"), **MONEY)
    paid_sum = models.DecimalField(_("sum of paid parts"), **MONEY)
    bonus_balance = models.DecimalField(_("cached bonus balance"), **MONEY)
    bonus_sum = models.DecimalField(_("sum of bonus parts"), **MONEY)
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now)

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name = _("stored value drift")
        verbose_name_plural = _("stored value drifts")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"#{self.account_id} {self.paid_balance}/{self.paid_sum} {self.bonus_balance}/{self.bonus_sum}"
