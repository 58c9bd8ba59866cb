"""Consultations (咨询), their outcomes and next steps, each paid visit's last touch, and the
in-app notice that tells a consultant their person has arrived.

The funnel (``marketing.funnel``) reads the stage dates kept on each consultation
(``booked_on`` … ``enrolled_on``, ``revenue``): they are written only by
``marketing.consultations`` and ``marketing.attribution`` from appointments' signals, so a
year's funnel is one scan of one table (docs/marketing.md, "The funnel")."""

from __future__ import annotations

import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clinic.models import Branch, LocalizedNameMixin, ServiceItem
from members.models import AcquisitionChannel, Member


class ConsultationChannel(LocalizedNameMixin):
    """Where an enquiry came in (电话, 微信, 抖音 …): HQ edits the list in admin. Each is tied
    to the acquisition channel (来源渠道) that a first touch made through it records."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    acquisition_channel = models.ForeignKey(
        AcquisitionChannel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acquisition channel"),
        help_text=_("The source recorded on a person's first touch made through this channel."),
    )
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("consultation channel")
        verbose_name_plural = _("consultation channels")


class Outcome(models.TextChoices):
    BOOKED = "booked", pgettext_lazy("consultation outcome", "Booked")
    CONSIDERING = "considering", _("Considering")
    PRICE = "price", pgettext_lazy("consultation outcome", "Price")
    ELSEWHERE = "elsewhere", _("Treated elsewhere")
    INVALID = "invalid", _("Invalid")
    OTHER = "other", _("Other")


# Outcomes that need a reason written down.
OUTCOMES_WITH_REASON = frozenset({Outcome.PRICE, Outcome.ELSEWHERE, Outcome.INVALID, Outcome.OTHER})


@pghistory.track()
class Consultation(models.Model):
    """One enquiry of one person, answered by one consultant. The person may be a lead made on
    the spot. ``appointment`` is the booking it led to; the ``*_on`` stage dates (local
    calendar days) and ``revenue`` follow the person through the funnel."""

    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="consultations", verbose_name=_("branch")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="consultations", verbose_name=_("person")
    )
    channel = models.ForeignKey(
        ConsultationChannel, on_delete=models.PROTECT, related_name="+", verbose_name=_("channel")
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="consultations",
        verbose_name=_("consultant"),
    )
    at = models.DateTimeField(_("time"), default=timezone.now)
    on = models.DateField(_("date"), editable=False)
    question = models.TextField(_("what they asked"), blank=True)
    services = models.ManyToManyField(
        ServiceItem, blank=True, related_name="+", verbose_name=_("services of interest")
    )
    quote = models.DecimalField(_("quote"), max_digits=12, decimal_places=2, null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=12, choices=Outcome.choices, default=Outcome.CONSIDERING
    )
    outcome_reason = models.CharField(_("reason"), max_length=200, blank=True)
    next_step = models.CharField(_("next step"), max_length=200, blank=True)
    next_step_due = models.DateField(_("next step due"), null=True, blank=True)
    next_step_done_at = models.DateTimeField(_("next step done at"), null=True, blank=True)
    partner = models.ForeignKey(
        "marketing.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consultations",
        verbose_name=_("referral partner"),
    )
    referrer = models.ForeignKey(
        Member,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("referring member"),
    )
    appointment = models.ForeignKey(
        "appointments.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("booking"),
    )
    booked_on = models.DateField(_("booked on"), null=True, blank=True)
    arrived_on = models.DateField(_("arrived on"), null=True, blank=True)
    paid_on = models.DateField(_("first paid visit on"), null=True, blank=True)
    enrolled_on = models.DateField(_("enrolled on"), null=True, blank=True)
    revenue = models.DecimalField(_("revenue"), max_digits=12, decimal_places=2, default=0)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        permissions = [
            ("manage_consultations", _("See and edit every consultation of the branch")),
            ("view_funnel", _("View the consultation funnel of the branch")),
        ]
        indexes = [
            models.Index(fields=["member", "-at"], name="consult_member_at"),
            models.Index(fields=["consultant", "-at"], name="consult_consultant_at"),
            # The funnel: a branch's consultations of a date range, read from the index alone.
            models.Index(
                fields=["on", "branch"],
                name="consult_funnel",
                include=[
                    "channel",
                    "consultant",
                    "partner",
                    "booked_on",
                    "arrived_on",
                    "paid_on",
                    "enrolled_on",
                    "revenue",
                ],
            ),
            models.Index(
                fields=["consultant", "next_step_due"],
                name="consult_todo",
                condition=Q(next_step_done_at__isnull=True, next_step_due__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.at:%Y-%m-%d}"

    @property
    def is_open_step(self) -> bool:
        return bool(self.next_step_due) and self.next_step_done_at is None


class VisitTouch(models.Model):
    """A paid visit's last touch: the person's latest consultation before the checkout (within
    the attribution window), with its channel, consultant and partner. One per visit; voiding
    the visit marks it voided and takes its amount back off the consultation's revenue."""

    visit = models.OneToOneField(
        "appointments.Visit", on_delete=models.CASCADE, related_name="last_touch", verbose_name=_("visit")
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("person"))
    consultation = models.ForeignKey(
        Consultation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="touches",
        verbose_name=_("consultation"),
    )
    channel = models.ForeignKey(
        ConsultationChannel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("consultant"),
    )
    partner = models.ForeignKey(
        "marketing.Partner",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("referral partner"),
    )
    amount = models.DecimalField(_("amount paid"), max_digits=12, decimal_places=2)
    at = models.DateTimeField(_("checked out at"))
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("last touch")
        verbose_name_plural = _("last touches")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.visit_id}"


class ArrivalNotice(models.Model):
    """In-app: "your person has arrived", on the consultant's page until they mark it seen."""

    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("consultant")
    )
    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="+", verbose_name=_("consultation")
    )
    appointment = models.ForeignKey(
        "appointments.Appointment", on_delete=models.CASCADE, related_name="+", verbose_name=_("booking")
    )
    at = models.DateTimeField(_("time"), default=timezone.now)
    seen_at = models.DateTimeField(_("seen at"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("arrival notice")
        verbose_name_plural = _("arrival notices")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["consultant", "appointment"], name="marketing_arrival_notice_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.consultant_id} · {self.appointment_id}"


class FunnelMonth(models.Model):
    """The funnel's monthly rollup: for each branch and month (of the consultation) and each
    dimension the funnel groups by (channel, consultant, partner), one row per key with the
    stage counts, revenue and the day-lag histograms between stages (``{"booked": {"days":
    consultations}}``; lags past ``LAG_CAP`` days count at ``LAG_CAP``).

    Kept by ``marketing.funnel.funnel_refresh`` for the months a database trigger marked in
    ``FunnelDirty``; the funnel reads a month from here only while it is not marked (and not
    the current month), so what it shows always equals the consultations themselves."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+", verbose_name=_("branch"))
    month = models.DateField(_("month"))
    dimension = models.CharField(_("grouped by"), max_length=12)
    key = models.BigIntegerField(_("group"), null=True)
    consultations = models.IntegerField(_("consultations"))
    booked = models.IntegerField(_("booked"))
    arrived = models.IntegerField(_("arrived"))
    paid = models.IntegerField(_("paid"))
    enrolled = models.IntegerField(_("enrolled"))
    revenue = models.DecimalField(_("revenue"), max_digits=14, decimal_places=2)
    lags = models.JSONField(_("days between stages"), default=dict)

    class Meta:
        verbose_name = _("funnel month")
        verbose_name_plural = _("funnel months")
        default_permissions = ()
        indexes = [models.Index(fields=["dimension", "month", "branch"], name="funnel_month_lookup")]

    def __str__(self) -> str:
        return f"{self.branch_id} {self.month} {self.dimension}"


class FunnelDirty(models.Model):
    """A (branch, month) whose consultations changed since its rollup was built: written by
    the ``marketing_consultation`` triggers (every insert, update and delete, bulk ones too)."""

    branch_id = models.BigIntegerField(_("branch"))
    month = models.DateField(_("month"))

    class Meta:
        verbose_name = _("funnel month to rebuild")
        verbose_name_plural = _("funnel months to rebuild")
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["branch_id", "month"], name="funnel_dirty_once")]

    def __str__(self) -> str:
        return f"{self.branch_id} {self.month}"


__all__ = [
    "OUTCOMES_WITH_REASON",
    "ArrivalNotice",
    "Consultation",
    "ConsultationChannel",
    "FunnelDirty",
    "FunnelMonth",
    "Outcome",
    "VisitTouch",
]
