"""Complaints (投诉): intake, the state machine with its SLA clocks in working days, pauses,
investigation notes, medical review, escalations, make-goods, attachments and the closing
review. Every write goes through ``complaints.services``; no model carries logic in save()."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clinic.models import Branch


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    WECHAT = "wechat", _("WeChat")
    IN_PERSON = "in_person", _("In person")
    REVIEW_SITE = "review_site", _("Dianping / Meituan review")
    EMAIL = "email", _("E-mail")
    SURVEY = "survey", _("Bad survey answer")
    PORTAL = "portal", _("Member portal")


class Severity(models.TextChoices):
    NORMAL = "normal", pgettext_lazy("complaint severity", "Normal")
    SERIOUS = "serious", pgettext_lazy("complaint severity", "Serious")
    MEDICAL = "medical", _("Medical dispute")


class Category(models.TextChoices):
    ATTITUDE = "attitude", _("Service attitude")
    WAITING = "waiting", _("Waiting time")
    OUTCOME = "outcome", _("Treatment outcome")
    BILLING = "billing", _("Billing")
    HYGIENE = "hygiene", _("Environment and hygiene")
    PRIVACY = "privacy", _("Privacy")
    OTHER = "other", pgettext_lazy("complaint category", "Other")


class Status(models.TextChoices):
    RECEIVED = "received", _("Received")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    INVESTIGATING = "investigating", _("Investigating")
    PROPOSED = "proposed", _("Resolution proposed")
    ACCEPTED = "accepted", _("Accepted by the customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed after follow-up")


OPEN_STATUSES = (Status.RECEIVED, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.PROPOSED, Status.ACCEPTED)


class RootCause(models.TextChoices):
    COMMUNICATION = "communication", _("Communication")
    PROCESS = "process", _("Process or scheduling")
    SKILL = "skill", _("Clinical skill")
    ATTITUDE = "attitude", _("Staff attitude")
    PRICING = "pricing", _("Pricing or billing error")
    FACILITY = "facility", _("Facility or equipment")
    EXPECTATION = "expectation", _("Customer expectation")
    NONE = "none", _("No fault found")


class ReviewFinding(models.TextChoices):
    NO_ERROR = "no_error", _("No medical error")
    ERROR = "error", _("Medical error found")
    UNCLEAR = "unclear", _("Cannot be determined")


class SlaPolicy(models.Model):
    """The clocks of one severity, in working days after the day of receipt (seed 001:
    acknowledge within 1 working day, propose within 3). HQ edits them in admin."""

    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices, unique=True)
    ack_working_days = models.PositiveSmallIntegerField(
        _("acknowledge within (working days)"), default=1, validators=[MinValueValidator(1)]
    )
    proposal_working_days = models.PositiveSmallIntegerField(
        _("propose a resolution within (working days)"), default=3, validators=[MinValueValidator(1)]
    )

    class Meta:
        ordering = ["severity"]
        verbose_name = _("complaint time limit")
        verbose_name_plural = _("complaint time limits")
        constraints = [
            models.CheckConstraint(
                condition=Q(proposal_working_days__gte=models.F("ack_working_days")),
                name="complaints_sla_proposal_after_ack",
            )
        ]

    def __str__(self) -> str:
        return str(self.get_severity_display())


class Complaint(models.Model):
    number = models.CharField(_("number"), max_length=20, unique=True, null=True, blank=True)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("person"),
    )
    contact_name = models.CharField(_("contact name"), max_length=50, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    subject = models.CharField(_("subject"), max_length=120)
    description = models.TextField(_("what happened"))
    expectation = models.TextField(_("what the customer expects"), blank=True)
    severity = models.CharField(
        _("severity"), max_length=16, choices=Severity.choices, default=Severity.NORMAL
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    visit = models.ForeignKey(
        "appointments.Visit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("related visit"),
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff complained about"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    ack_due_at = models.DateTimeField(_("acknowledgement due"))
    proposal_due_at = models.DateTimeField(_("proposal due"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    proposed_at = models.DateTimeField(_("proposed at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    paused_at = models.DateTimeField(_("waiting on the customer since"), null=True, blank=True)
    resolution = models.TextField(_("proposed resolution"), blank=True)
    medical_review_required = models.BooleanField(_("medical review required"), default=False)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("medical reviewer"),
    )
    review_finding = models.CharField(
        _("review finding"), max_length=16, choices=ReviewFinding.choices, blank=True
    )
    review_note = models.TextField(_("review note"), blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    root_cause = models.CharField(_("root cause"), max_length=16, choices=RootCause.choices, blank=True)
    corrective_action = models.TextField(_("corrective action"), blank=True)
    lessons = models.TextField(_("lessons learned"), blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        _("satisfaction (1–5)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    source_key = models.CharField(_("source"), max_length=64, unique=True, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("taken by"),
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        permissions = [
            ("work_complaint", _("Take and work complaints")),
            ("approve_makegood", _("Approve make-goods above the limit")),
            ("review_complaint", _("Review a medical dispute")),
            ("view_complaint_analysis", _("See the complaint analysis")),
        ]
        indexes = [
            models.Index(fields=["branch", "status"], name="complaints_branch_status"),
            models.Index(fields=["status", "ack_due_at"], name="complaints_status_ack_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(member__isnull=False) | (~Q(contact_name="") & ~Q(contact_phone="")),
                name="complaints_has_contact",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="complaints_satisfaction_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number or ''} {self.subject}".strip()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def ack_due_day(self):
        """The working day the acknowledgement is due on (its deadline is the end of it)."""
        return timezone.localtime(self.ack_due_at - dt.timedelta(microseconds=1)).date()

    @property
    def proposal_due_day(self):
        return timezone.localtime(self.proposal_due_at - dt.timedelta(microseconds=1)).date()

    @property
    def who(self) -> str:
        return self.member.name if self.member_id else self.contact_name


class EventKind(models.TextChoices):
    TRANSITION = "transition", _("Status change")
    NOTE = "note", _("Investigation note")
    STATEMENT = "statement", _("Statement")
    PAUSE = "pause", _("Waiting on the customer")
    RESUME = "resume", _("Customer replied")
    ESCALATED = "escalated", _("Escalated")
    REVIEW = "review", _("Medical review")
    MAKE_GOOD = "make_good", _("Make-good")
    ASSIGNED = "assigned", _("Assigned")


class ComplaintEvent(models.Model):
    """The complaint's history as staff read it (the audit log holds the same facts)."""

    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, related_name="events", verbose_name=_("complaint")
    )
    at = models.DateTimeField(_("time"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=EventKind.choices)
    from_status = models.CharField(_("from"), max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=16, choices=Status.choices, blank=True)
    text = models.TextField(_("text"), blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("complaint event")
        verbose_name_plural = _("complaint events")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.text[:40]}"


class ComplaintPause(models.Model):
    """A stretch of waiting on the customer: the clocks stop (the deadlines not yet met move
    on by the working days it lasted)."""

    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, related_name="pauses", verbose_name=_("complaint")
    )
    started_at = models.DateTimeField(_("from"))
    ended_at = models.DateTimeField(_("until"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200)
    working_days = models.PositiveSmallIntegerField(_("working days paused"), default=0)

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name = _("pause")
        verbose_name_plural = _("pauses")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["complaint"], condition=Q(ended_at__isnull=True), name="complaints_one_open_pause"
            )
        ]

    def __str__(self) -> str:
        return self.reason


class EscalationLevel(models.TextChoices):
    ACK_OVERDUE = "ack_overdue", _("Acknowledgement overdue: branch manager")
    PROPOSAL_OVERDUE = "proposal_overdue", _("Proposal overdue: branch manager and HQ")
    MEDICAL = "medical", _("Medical dispute: HQ")


class Escalation(models.Model):
    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, related_name="escalations", verbose_name=_("complaint")
    )
    level = models.CharField(_("level"), max_length=20, choices=EscalationLevel.choices)
    at = models.DateTimeField(_("time"), default=timezone.now)
    notified = models.JSONField(_("notified"), default=list, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["complaint", "level"], name="complaints_escalation_once"),
        ]

    def __str__(self) -> str:
        return str(self.get_level_display())


class MakeGoodKind(models.TextChoices):
    COUPON = "coupon", _("Coupon")
    POINTS = "points", _("Points")
    REFUND = "refund", _("Partial refund")


class MakeGoodStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    GIVEN = "given", _("Given")
    REJECTED = "rejected", _("Rejected")


class MakeGood(models.Model):
    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, related_name="make_goods", verbose_name=_("complaint")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=MakeGoodKind.choices)
    coupon_template = models.ForeignKey(
        "loyalty.CouponTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("coupon"),
    )
    points = models.PositiveIntegerField(_("points"), default=0)
    amount = models.DecimalField(_("amount (CNY)"), max_digits=12, decimal_places=2, default=0)
    value = models.DecimalField(_("value (CNY)"), max_digits=12, decimal_places=2, default=0)
    note = models.CharField(_("note"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=MakeGoodStatus.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    given_at = models.DateTimeField(_("given at"), null=True, blank=True)
    coupon = models.ForeignKey(
        "loyalty.Coupon",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("coupon"),
    )

    class Meta:
        ordering = ["requested_at", "id"]
        verbose_name = _("make-good")
        verbose_name_plural = _("make-goods")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


def _upload_to(instance, filename: str) -> str:
    now = timezone.now()
    return f"complaints/{now:%Y/%m}/{instance.complaint_id}-{now:%H%M%S%f}{instance.extension}"


class Attachment(models.Model):
    """A photo or document. Stored under MEDIA_ROOT with a generated name and served only by
    ``complaints:attachment`` after the complaint's scope check (never by a media URL)."""

    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("complaint")
    )
    file = models.FileField(_("file"), upload_to=_upload_to, max_length=200)
    original_name = models.CharField(_("file name"), max_length=150)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    extension = models.CharField(max_length=10, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        default_permissions = ()

    def __str__(self) -> str:
        return self.original_name
