"""Closed months (docs/reports.md, "Month close"): each branch's KPI figures of a month, frozen
when the month is closed. Later changes never rewrite a closed month; its page shows the
snapshot, the figure as it would be today and the changes that explain the difference."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch


class MonthClose(models.Model):
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    closed_at = models.DateTimeField(_("closed at"))
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    closed_by_name = models.CharField(_("closed by (name)"), max_length=150, blank=True, default="")
    # {metric code: "decimal"}: the month's additive metrics from the base tables at close.
    metrics = models.JSONField(_("daily metrics"), default=dict)
    # {kpi code: "decimal" or null}: every month KPI as the dashboard computes it.
    figures = models.JSONField(_("figures"), default=dict)
    # staff.dump(): each person's performance figures of the month, by section.
    staff = models.JSONField(_("staff performance"), default=dict)

    class Meta:
        verbose_name = _("closed month")
        verbose_name_plural = _("closed months")
        default_permissions = ("view",)
        permissions = [("close_month", _("Close a month: freeze its report figures"))]
        constraints = [models.UniqueConstraint(fields=["branch", "month"], name="reports_month_closed_once")]
        ordering = ["-month", "branch_id"]

    def __str__(self) -> str:
        return f"{self.branch} {self.month:%Y-%m}"


__all__ = ["MonthClose"]
