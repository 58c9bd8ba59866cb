"""Follow-up plans (回访计划): rules per service or category, each a sequence of steps.

A plan names one service item or one service category (an item's own plan wins over its
category's). Each step is due a number of days or months after the visit, on a channel,
with a script, assigned by a rule; a step may repeat (orthodontics: every month, N times).
Completing a visit makes one task per step (``followups.plans``); a plan's care
instructions go to the person by message after the visit. Configured in Django admin.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from clinic.models import ServiceCategory, ServiceItem
from members.models import Member

from .models import TaskChannel

__all__ = ["AssigneeRule", "FollowupPlan", "FollowupStep", "OffsetUnit", "ServiceRep"]


class OffsetUnit(models.TextChoices):
    DAYS = "days", _("days")
    MONTHS = "months", _("months")


class AssigneeRule(models.TextChoices):
    # The person's dedicated rep when their tier has one (loyalty Tier.dedicated_rep and a
    # ServiceRep row), else the branch's customer-service pool, shared fairly.
    REP_OR_POOL = "rep_or_pool", _("Dedicated rep, else the customer-service pool")
    POOL = "pool", _("Customer-service pool")
    DOCTOR = "doctor", _("The treating doctor")


class FollowupPlan(models.Model):
    """A follow-up rule for one service item or one service category."""

    name = models.CharField(_("name"), max_length=60)
    item = models.ForeignKey(
        ServiceItem,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
        help_text=_("Leave empty to cover a whole category."),
    )
    category = models.ForeignKey(
        ServiceCategory,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service category"),
    )
    care_instructions = models.TextField(
        _("care instructions"),
        blank=True,
        help_text=_("Sent to the person by SMS after the visit (介绍后续的护理方法和注意事项). Empty: none."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("follow-up plan")
        verbose_name_plural = _("follow-up plans")
        constraints = [
            models.CheckConstraint(
                condition=(Q(item__isnull=False) & Q(category__isnull=True))
                | (Q(item__isnull=True) & Q(category__isnull=False)),
                name="followups_plan_item_or_category",
                violation_error_message=_("Choose either a service or a service category."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class FollowupStep(models.Model):
    """One step of a plan: due ``offset`` days/months after the visit (D+1, M+6); with
    ``repeat_times`` > 1 it comes back every ``repeat_every_months`` month(s)."""

    plan = models.ForeignKey(
        FollowupPlan, on_delete=models.CASCADE, related_name="steps", verbose_name=_("plan")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=1)
    title = models.CharField(_("title"), max_length=80)
    offset = models.PositiveSmallIntegerField(_("after"), validators=[MaxValueValidator(1000)])
    offset_unit = models.CharField(
        _("unit"), max_length=6, choices=OffsetUnit.choices, default=OffsetUnit.DAYS
    )
    repeat_times = models.PositiveSmallIntegerField(
        _("times"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("1: once. More: the step comes back every N months, this many times in all."),
    )
    repeat_every_months = models.PositiveSmallIntegerField(
        _("every (months)"), default=1, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    channel = models.CharField(
        _("channel"), max_length=8, choices=TaskChannel.choices, default=TaskChannel.PHONE
    )
    script = models.TextField(_("script / questions"), blank=True)
    assignee_rule = models.CharField(
        _("assigned to"), max_length=12, choices=AssigneeRule.choices, default=AssigneeRule.REP_OR_POOL
    )

    class Meta:
        ordering = ["plan", "order", "id"]
        verbose_name = _("follow-up step")
        verbose_name_plural = _("follow-up steps")
        constraints = [
            models.CheckConstraint(
                condition=Q(repeat_times__gte=1) & Q(repeat_every_months__gte=1),
                name="followups_step_repeat_positive",
            ),
        ]

    def __str__(self) -> str:
        unit = "D" if self.offset_unit == OffsetUnit.DAYS else "M"
        return f"{self.title} ({unit}+{self.offset})"

    @property
    def repeats(self) -> bool:
        return self.repeat_times > 1


class ServiceRep(models.Model):
    """The person's dedicated service rep (专属客服), used when their tier has one."""

    member = models.OneToOneField(
        Member, on_delete=models.CASCADE, related_name="service_rep", verbose_name=_("person")
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("dedicated rep")
    )

    class Meta:
        ordering = ["member"]
        verbose_name = _("dedicated service rep")
        verbose_name_plural = _("dedicated service reps")

    def __str__(self) -> str:
        return f"{self.member} · {getattr(getattr(self.rep, 'staff', None), 'full_name', self.rep)}"
