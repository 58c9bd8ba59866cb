"""Referral partners' contract terms, the rebates they earn, and monthly statements.

The rules (docs/partners.md): a rebate accrues from money actually collected at a paid
checkout, as a ``Rebate`` row with an idempotency key unique in the database
(``visit:<id>:rebate:<term>``); a void adds a reversing row (``…:reversal``). Every row sits
on one ``Statement`` (partner × month). A settled statement never changes: rows that arrive
later land on the next open month. Written only by ``marketing.rebates``.
"""

from __future__ import annotations

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from appointments.models import Visit
from clinic.models import ServiceCategory

MONEY = {"max_digits": 12, "decimal_places": 2}

__all__ = ["Rebate", "RebateEntryKind", "RebateKind", "RebateTerm", "Statement", "StatementStatus"]


class RebateKind(models.TextChoices):
    PERCENT = "percent", _("Percentage of the amount paid")
    FIXED = "fixed", _("Fixed amount per first paid visit")


@pghistory.track()
class RebateTerm(models.Model):
    """One clause of a partner's contract: a percentage of what was actually collected, or a
    fixed amount for a person's first paid visit; for one service category or all of them;
    valid from one day to another (both included; no end = open-ended).

    Overlapping terms are allowed; ``marketing.rebates.resolve_term`` picks one (a category's
    own term before an all-categories one, then the latest start, then the newest row)."""

    partner = models.ForeignKey(
        "marketing.Partner", on_delete=models.PROTECT, related_name="terms", verbose_name=_("partner")
    )
    kind = models.CharField(_("rebate"), max_length=8, choices=RebateKind.choices)
    category = models.ForeignKey(
        ServiceCategory,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service category"),
        help_text=_("Empty: every category."),
    )
    percent = models.DecimalField(_("percentage"), max_digits=5, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(_("fixed amount"), null=True, blank=True, **MONEY)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    notes = models.CharField(_("notes"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ["partner", "-valid_from", "-id"]
        verbose_name = _("rebate term")
        verbose_name_plural = _("rebate terms")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="percent", percent__gt=0, percent__lte=100, amount__isnull=True)
                    | Q(kind="fixed", amount__gt=0, percent__isnull=True)
                ),
                name="marketing_term_kind_value",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="marketing_term_dates",
            ),
        ]

    def __str__(self) -> str:
        from clinic.money import format_cny

        if self.kind == RebateKind.PERCENT and self.percent is not None:
            value = f"{self.percent.normalize():f}%"
        elif self.kind == RebateKind.FIXED and self.amount is not None:
            value = format_cny(self.amount)
        else:
            value = "—"
        scope = self.category.display_name if self.category_id else _("all categories")
        return f"{value} · {scope}"


class StatementStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("statement status", "Open")
    SETTLED = "settled", _("Settled")


class Statement(models.Model):
    """A partner's rebates for one month (``month`` is its first day). Settling it records
    what was paid and freezes it (a database trigger refuses any change to a settled one)."""

    partner = models.ForeignKey(
        "marketing.Partner", on_delete=models.PROTECT, related_name="statements", verbose_name=_("partner")
    )
    month = models.DateField(_("month"))
    status = models.CharField(
        _("status"), max_length=8, choices=StatementStatus.choices, default=StatementStatus.OPEN
    )
    total = models.DecimalField(_("total"), default=0, **MONEY)
    paid_amount = models.DecimalField(_("amount paid"), null=True, blank=True, **MONEY)
    reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    settle_note = models.CharField(_("note"), max_length=200, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("settled by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-month", "partner__name", "id"]
        verbose_name = _("rebate statement")
        verbose_name_plural = _("rebate statements")
        permissions = [("settle_rebate", _("Mark rebate statements paid"))]
        constraints = [
            models.UniqueConstraint(fields=["partner", "month"], name="marketing_statement_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="marketing_statement_first_day"),
            models.CheckConstraint(
                condition=Q(status="open") | Q(paid_amount__isnull=False, settled_at__isnull=False),
                name="marketing_statement_settled_paid",
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="marketing_statement_settled_frozen",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Q(old__status="settled"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.month:%Y-%m}"

    @property
    def is_settled(self) -> bool:
        return self.status == StatementStatus.SETTLED


class RebateEntryKind(models.TextChoices):
    ACCRUAL = "accrual", _("Rebate")
    REVERSAL = "reversal", _("Reversal")
    CARRY_OUT = "carry_out", _("Carried to the next month")
    CARRY_IN = "carry_in", _("Carried from the previous month")


class Rebate(models.Model):
    """One line of a statement. Append-only (a trigger refuses updates and deletes): a
    correction is a reversing row. ``base`` is the money collected that the rebate is
    computed from; ``amount`` is signed (reversals negative). The person is the visit's
    (no foreign key of its own, so a merge of two records moves nothing here)."""

    partner = models.ForeignKey(
        "marketing.Partner", on_delete=models.PROTECT, related_name="rebates", verbose_name=_("partner")
    )
    statement = models.ForeignKey(
        Statement, on_delete=models.PROTECT, related_name="lines", verbose_name=_("statement")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=RebateEntryKind.choices)
    term = models.ForeignKey(
        RebateTerm,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rebates",
        verbose_name=_("term"),
    )
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("visit")
    )
    base = models.DecimalField(_("amount collected"), default=0, **MONEY)
    amount = models.DecimalField(_("rebate"), **MONEY)
    # The services the rebate was earned on, as they were named at checkout (a statement line).
    services = models.CharField(_("services"), max_length=255, blank=True)
    # A void reverses what is left of a rebate; partial refunds reverse parts of it first.
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        verbose_name=_("reverses"),
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("rebate")
        verbose_name_plural = _("rebates")
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["partner", "created_at"], name="marketing_rebate_partner"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["accrual", "carry_out"], amount__gte=0)
                | Q(kind__in=["reversal", "carry_in"], amount__lte=0),
                name="marketing_rebate_sign",
            ),
            models.CheckConstraint(
                condition=~Q(kind="reversal") | Q(reverses__isnull=False), name="marketing_rebate_reversal_of"
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="marketing_rebate_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return self.idempotency_key
