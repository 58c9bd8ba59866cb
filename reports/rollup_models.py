"""The daily rollups the dashboards read (docs/reports.md): one row per branch, day, metric
and dimension key, kept by ``reports.rollups.rollup_refresh``."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch


class DailyRollup(models.Model):
    """One additive figure (a count or a sum) of one branch on one local day. ``dimension``
    is empty for the branch total, else the name of what ``key`` groups by (e.g. the booking
    channel)."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+", verbose_name=_("branch"))
    day = models.DateField(_("day"))
    metric = models.CharField(_("metric"), max_length=32)
    dimension = models.CharField(_("grouped by"), max_length=16, blank=True, default="")
    key = models.CharField(_("group"), max_length=32, blank=True, default="")
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=2)

    class Meta:
        verbose_name = _("daily rollup")
        verbose_name_plural = _("daily rollups")
        default_permissions = ()
        permissions = [
            ("view_branch_dashboard", _("See the branch dashboard: KPIs, charts and the lists behind them")),
            ("export_reports", _("Export reports and the lists behind them")),
            ("view_staff_performance", _("See every staff member's performance at the branch")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["branch", "day", "metric", "dimension", "key"], name="reports_rollup_once"
            )
        ]
        indexes = [models.Index(fields=["metric", "day", "branch"], name="reports_rollup_lookup")]

    def __str__(self) -> str:
        return f"{self.branch_id} {self.day} {self.metric}"


class RollupState(models.Model):
    """Where the incremental refresh got to: changes stamped after ``watermark`` are not yet
    in the rollups."""

    name = models.CharField(_("name"), max_length=32, unique=True)
    watermark = models.DateTimeField(_("rolled up to"))

    class Meta:
        verbose_name = _("rollup state")
        verbose_name_plural = _("rollup states")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.name} {self.watermark}"


class SharedFigure(models.Model):
    """A live figure that reads a whole table (复诊率 of a period, points liability), made for
    every branch and shared between viewers until ``valid_until`` (``rollups.shared_live``):
    in the database, not the cache, so a dashboard stays fast when Redis is away."""

    key = models.CharField(_("key"), max_length=120, unique=True)
    value = models.JSONField(_("value"))
    computed_at = models.DateTimeField(_("computed at"))
    valid_until = models.DateTimeField(_("valid until"))

    class Meta:
        verbose_name = _("shared live figure")
        verbose_name_plural = _("shared live figures")
        default_permissions = ()

    def __str__(self) -> str:
        return self.key


__all__ = ["DailyRollup", "RollupState", "SharedFigure"]
