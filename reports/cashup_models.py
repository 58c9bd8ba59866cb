"""The end-of-day cash-up's own tables (日结 / 交班, docs/reports.md): what each cashier counted
in the drawer at the end of a shift, and the manager's sign-off of a branch's day. Reports
stays read-only over the other apps; these rows are its own, like the rollups. Written only by
``reports.cashup`` (services), never by a raw save."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch

MONEY = {"max_digits": 12, "decimal_places": 2}


class Shift(models.TextChoices):
    MORNING = "morning", _("Morning shift")
    EVENING = "evening", _("Evening shift")


class CashCount(models.Model):
    """One cashier's count of the cash they took in one shift of one day at one branch
    (without the float). ``expected`` is the cash the records say they took when they
    counted; the page always shows the figure as it is now beside it. A recount before the
    sign-off replaces the row (audited with the old figure); after the sign-off it is locked."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    day = models.DateField(_("day"))
    shift = models.CharField(_("shift"), max_length=8, choices=Shift.choices)
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("cashier")
    )
    counted = models.DecimalField(_("counted cash"), **MONEY)
    expected = models.DecimalField(_("expected cash"), **MONEY)
    note = models.CharField(_("note"), max_length=200, blank=True)
    counted_at = models.DateTimeField(_("counted at"))

    class Meta:
        ordering = ["day", "shift", "cashier_id"]
        verbose_name = _("cash count")
        verbose_name_plural = _("cash counts")
        default_permissions = ()
        permissions = [
            ("view_cashup", _("See the end-of-day cash-up of the branch")),
            ("count_cash", _("Count the cash of one's own shift")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["branch", "day", "shift", "cashier"], name="reports_cash_count_once"
            ),
            models.CheckConstraint(condition=Q(counted__gte=0), name="reports_cash_count_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.get_shift_display()} {self.cashier}"


class DaySignOff(models.Model):
    """The manager's sign-off of one branch's day: from then on the day's counts are locked.
    ``totals`` keeps the figures as signed (per method, expected and counted cash), so a later
    void shows as a difference against what was signed, never as a silent change."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    day = models.DateField(_("day"))
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("signed off by")
    )
    signed_at = models.DateTimeField(_("signed off at"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    totals = models.JSONField(_("figures as signed"), default=dict)

    class Meta:
        ordering = ["-day"]
        verbose_name = _("day sign-off")
        verbose_name_plural = _("day sign-offs")
        default_permissions = ()
        permissions = [
            ("sign_off_day", _("Sign off a branch's day (end-of-day cash-up)")),
            ("view_front_desk_board", _("See the front desk's start page")),
            ("view_hq_dashboard", _("See every branch's figures side by side (HQ)")),
        ]
        constraints = [models.UniqueConstraint(fields=["branch", "day"], name="reports_day_signed_once")]

    def __str__(self) -> str:
        return f"{self.branch} {self.day}"


__all__ = ["CashCount", "DaySignOff", "Shift"]
