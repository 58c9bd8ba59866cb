"""Saved segments (客户分群, issue 16): a named set of filters over what the system knows
about people, evaluated in SQL by ``marketing.segment_selectors``; and the thresholds of the
seed 003 four quadrants (visit frequency × spend), which HQ may set per branch in admin
(default: the branch medians). Writes go through ``marketing.segments``."""

from __future__ import annotations

import pghistory
from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch

__all__ = ["Quadrant", "QuadrantThreshold", "Segment"]


class Quadrant(models.TextChoices):
    """Seed 003: 高频高消费 / 高频低消费 / 低频高消费 / 低频低消费 (frequency first)."""

    HIGH_HIGH = "hh", _("Frequent, high spend")
    HIGH_LOW = "hl", _("Frequent, low spend")
    LOW_HIGH = "lh", _("Infrequent, high spend")
    LOW_LOW = "ll", _("Infrequent, low spend")


@pghistory.track()
class Segment(models.Model):
    """A saved set of filters (``filters``, the cleaned form of ``segments.FILTER_KEYS``).

    ``branch`` is the branch the segment belongs to; empty means every branch (HQ only).
    Whoever evaluates it sees only the people of the branches they work at as well."""

    name = models.CharField(_("name"), max_length=100)
    branch = models.ForeignKey(
        Branch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="segments",
        verbose_name=_("branch"),
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        permissions = [("export_segment", _("Export a segment's people (masked)"))]

    def __str__(self) -> str:
        return self.name


class QuadrantThreshold(models.Model):
    """HQ's thresholds of "frequent" and "high spend" for one branch, over the last 12
    months (≥ is high). A blank value means the branch median of the people who paid at
    least one visit in those 12 months."""

    branch = models.OneToOneField(
        Branch, on_delete=models.CASCADE, related_name="quadrant_threshold", verbose_name=_("branch")
    )
    min_visits = models.PositiveSmallIntegerField(
        _("visits for frequent (12 months)"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    min_spend = models.DecimalField(
        _("spend for high spend (12 months)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["branch"]
        verbose_name = _("quadrant threshold")
        verbose_name_plural = _("quadrant thresholds")

    def __str__(self) -> str:
        return str(self.branch)
