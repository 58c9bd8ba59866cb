"""Recall (复诊/洁牙提醒), dormancy, care messages and satisfaction surveys.

Changed only by ``followups.recall``, ``dormancy``, ``care`` and ``surveys``. Every row a job
makes carries a key unique in the database (a recall per person and type, a keep per recall
and due date, a reactivation per person and episode, an invitation per visit), so a re-run
makes nothing new. The tasks these make are the shared ``Task`` (``source_key``)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch, LocalizedNameMixin, ServiceCategory, ServiceItem
from members.models import Member

__all__ = [
    "CareHoliday",
    "CarePolicy",
    "HolidayCalendar",
    "Reactivation",
    "ReactivationReason",
    "Recall",
    "RecallKeep",
    "RecallType",
    "SurveyInvitation",
    "SurveyResponse",
    "SurveyStatus",
]


class RecallType(LocalizedNameMixin):
    """A kind of recall configured by HQ: cleaning every 6 months, periodontal every 3, …
    A checked-out visit with one of ``trigger_services`` (or a service of
    ``trigger_categories``) resets the person's recall of this type."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    interval_months = models.PositiveSmallIntegerField(
        _("interval (months)"), validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    trigger_services = models.ManyToManyField(
        ServiceItem, blank=True, related_name="+", verbose_name=_("services that reset it")
    )
    trigger_categories = models.ManyToManyField(
        ServiceCategory, blank=True, related_name="+", verbose_name=_("categories that reset it")
    )
    window_before_days = models.PositiveSmallIntegerField(
        _("kept on time: days before due"), default=30, validators=[MaxValueValidator(365)]
    )
    window_after_days = models.PositiveSmallIntegerField(
        _("kept on time: days after due"), default=30, validators=[MaxValueValidator(365)]
    )
    remind_days_before = models.PositiveSmallIntegerField(
        _("first reminder: days before due"), default=14, validators=[MaxValueValidator(90)]
    )
    call_days_after = models.PositiveSmallIntegerField(
        _("phone task: days after due without a booking"), default=7, validators=[MaxValueValidator(90)]
    )
    max_age = models.PositiveSmallIntegerField(
        _("only for people up to this age"),
        null=True,
        blank=True,
        help_text=_("E.g. 14 for children's fluoride. Empty: every age."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("recall type")
        verbose_name_plural = _("recall types")


class Recall(models.Model):
    """One person's recall of one type: when they are due next. ``due_on`` follows the last
    trigger visit (+ interval) unless staff set it by hand (``manual``; audited), which is
    kept until a visit keeps the recall."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="recalls", verbose_name=_("person")
    )
    recall_type = models.ForeignKey(
        RecallType, on_delete=models.PROTECT, related_name="recalls", verbose_name=_("recall type")
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    last_visit = models.ForeignKey(
        "appointments.Visit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("last trigger visit"),
    )
    last_visit_on = models.DateField(_("last trigger visit on"), null=True, blank=True)
    due_on = models.DateField(_("due on"))
    manual = models.BooleanField(_("set by hand"), default=False)
    manual_reason = models.CharField(_("reason"), max_length=200, blank=True)
    early_sent_for = models.DateField(_("first reminder sent for"), null=True, blank=True)
    due_sent_for = models.DateField(_("due-day reminder sent for"), null=True, blank=True)
    call_for = models.DateField(_("phone task made for"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = _("recall")
        verbose_name_plural = _("recalls")
        permissions = [("set_recall_due", _("Set a recall's due date by hand"))]
        constraints = [
            models.UniqueConstraint(fields=["member", "recall_type"], name="followups_recall_one_per_type"),
        ]
        indexes = [
            models.Index(fields=["due_on"], condition=Q(is_active=True), name="followups_recall_due"),
            models.Index(fields=["branch", "due_on"], name="followups_recall_branch_due"),
        ]

    def __str__(self) -> str:
        return f"{self.recall_type} · {self.member} · {self.due_on}"


class RecallKeep(models.Model):
    """A recall cycle that a visit closed: on time (within the type's window around
    ``due_on``) or late. On time earns the recall bonus once (ledger key
    ``recall:<recall>:<due_on>``) and counts toward keeping the tier (loyalty's keep-credit
    registry)."""

    recall = models.ForeignKey(
        Recall, on_delete=models.CASCADE, related_name="keeps", verbose_name=_("recall")
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("person"))
    due_on = models.DateField(_("due on"))
    visit = models.ForeignKey(
        "appointments.Visit", on_delete=models.CASCADE, related_name="+", verbose_name=_("visit")
    )
    kept_on = models.DateField(_("kept on"))
    on_time = models.BooleanField(_("on time"))
    points = models.IntegerField(_("points"), default=0)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-kept_on", "-id"]
        verbose_name = _("recall kept")
        verbose_name_plural = _("recalls kept")
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["recall", "due_on"], name="followups_recall_keep_once"),
        ]
        indexes = [models.Index(fields=["member", "kept_on"], name="followups_keep_member")]

    def __str__(self) -> str:
        return f"{self.recall} · {self.kept_on}"


class ReactivationReason(models.TextChoices):
    DORMANT = "dormant", _("No visit for months")
    SPEND_DROP = "spend_drop", _("Spending dropped sharply")


class Reactivation(models.Model):
    """One episode of a person drifting away (dormant since their last visit, or a spend
    drop in a 12-month period), and the reactivation tasks made for it (at most
    ``CarePolicy.reactivation_max_tasks``; one open at a time)."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="reactivations", verbose_name=_("person")
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    reason = models.CharField(_("reason"), max_length=12, choices=ReactivationReason.choices)
    episode = models.CharField(_("episode"), max_length=40)
    tasks_made = models.PositiveSmallIntegerField(_("tasks made"), default=0)
    last_task = models.ForeignKey(
        "followups.Task",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("last task"),
    )
    last_task_on = models.DateField(_("last task on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("reactivation")
        verbose_name_plural = _("reactivations")
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["member", "reason", "episode"], name="followups_reactivation_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.get_reason_display()}"


class CarePolicy(models.Model):
    """The single row of care, dormancy and survey settings HQ edits in admin (pk 1)."""

    dormant_months = models.PositiveSmallIntegerField(
        _("dormant after (months without a visit)"), default=6, validators=[MinValueValidator(1)]
    )
    spend_drop_ratio = models.DecimalField(
        _("spend drop: last 12 months under this share of the 12 before"),
        max_digits=3,
        decimal_places=2,
        default=0.5,
        validators=[MinValueValidator(0.01), MaxValueValidator(0.99)],
    )
    spend_drop_min_amount = models.DecimalField(
        _("spend drop: only when the 12 months before reached"),
        max_digits=12,
        decimal_places=2,
        default=1000,
    )
    reactivation_max_tasks = models.PositiveSmallIntegerField(
        _("reactivation: most tasks per episode"), default=3, validators=[MinValueValidator(1)]
    )
    reactivation_retry_days = models.PositiveSmallIntegerField(
        _("reactivation: days between tasks"), default=30, validators=[MinValueValidator(1)]
    )
    reactivation_daily_cap = models.PositiveIntegerField(
        _("reactivation: new tasks per branch and day"),
        default=200,
        help_text=_("What customer service can call in a day; the most recently lapsed first. 0: no limit."),
    )
    survey_delay_hours = models.PositiveSmallIntegerField(
        _("survey: hours after checkout"), default=2, validators=[MaxValueValidator(720)]
    )
    survey_valid_days = models.PositiveSmallIntegerField(
        _("survey: link valid (days)"), default=7, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    birthday_enabled = models.BooleanField(_("birthday greetings"), default=True)
    anniversary_enabled = models.BooleanField(_("anniversary greetings"), default=True)
    send_hour = models.PositiveSmallIntegerField(
        _("care messages: hour of day"), default=10, validators=[MinValueValidator(8), MaxValueValidator(20)]
    )

    class Meta:
        verbose_name = _("care and survey settings")
        verbose_name_plural = _("care and survey settings")

    def __str__(self) -> str:
        return str(_("Care and survey settings"))


class HolidayCalendar(models.TextChoices):
    LUNAR = "lunar", _("Chinese lunar calendar")
    SOLAR = "solar", _("Gregorian calendar")


class CareHoliday(models.Model):
    """A holiday greeting HQ keeps on the list (春节 lunar 1-1, 中秋 lunar 8-15, 元旦 1-1 …).
    Lunar dates are converted for each year by ``lunardate``."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=50, blank=True)
    calendar = models.CharField(_("calendar"), max_length=5, choices=HolidayCalendar.choices)
    month = models.PositiveSmallIntegerField(
        _("month"), validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    day = models.PositiveSmallIntegerField(_("day"), validators=[MinValueValidator(1), MaxValueValidator(31)])
    template_key = models.CharField(_("message template"), max_length=64, default="followups.holiday")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["calendar", "month", "day"]
        verbose_name = _("holiday greeting")
        verbose_name_plural = _("holiday greetings")

    def __str__(self) -> str:
        return self.name


class SurveyStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    ANSWERED = "answered", _("Answered")
    SKIPPED = "skipped", _("Not sent")


class SurveyInvitation(models.Model):
    """The satisfaction survey of one visit: sent ``send_at`` (checkout + the policy's
    delay), answered once through a signed link carrying ``nonce``."""

    visit = models.OneToOneField(
        "appointments.Visit", on_delete=models.CASCADE, related_name="+", verbose_name=_("visit")
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("person"))
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("doctor")
    )
    nonce = models.CharField(_("link nonce"), max_length=32)
    send_at = models.DateTimeField(_("send at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=SurveyStatus.choices, default=SurveyStatus.PENDING
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-send_at", "-id"]
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["send_at"], condition=Q(status="pending"), name="followups_survey_due"),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.send_at:%Y-%m-%d}"


def _score(label):
    return models.PositiveSmallIntegerField(label, validators=[MinValueValidator(1), MaxValueValidator(5)])


class SurveyResponse(models.Model):
    """One answer per visit (the invitation is one-to-one with its visit)."""

    invitation = models.OneToOneField(
        SurveyInvitation, on_delete=models.CASCADE, related_name="response", verbose_name=_("invitation")
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("person"))
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("doctor")
    )
    visit_on = models.DateField(_("visit date"))
    doctor_score = _score(_("doctor"))
    front_desk_score = _score(_("front desk"))
    environment_score = _score(_("environment"))
    waiting_score = _score(_("waiting time"))
    nps = models.PositiveSmallIntegerField(
        _("would recommend (0–10)"), validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    tags = ArrayField(models.CharField(max_length=20), default=list, blank=True, verbose_name=_("tags"))
    comment = models.TextField(_("comment"), blank=True)
    is_bad = models.BooleanField(_("bad answer"), default=False)
    points = models.IntegerField(_("points rewarded"), default=0)
    answered_at = models.DateTimeField(_("answered at"), default=timezone.now)

    class Meta:
        ordering = ["-answered_at", "-id"]
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        default_permissions = ("view",)
        permissions = [("view_satisfaction", _("See satisfaction by doctor and branch"))]
        indexes = [models.Index(fields=["branch", "visit_on"], name="followups_survey_branch_on")]
        constraints = [
            models.CheckConstraint(
                condition=Q(doctor_score__gte=1, doctor_score__lte=5)
                & Q(front_desk_score__gte=1, front_desk_score__lte=5)
                & Q(environment_score__gte=1, environment_score__lte=5)
                & Q(waiting_score__gte=1, waiting_score__lte=5)
                & Q(nps__gte=0, nps__lte=10),
                name="followups_survey_scores_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.visit_on}"

    @property
    def satisfied(self) -> bool:
        """The rate's definition (docs/recall.md): every star score 4 or 5."""
        return min(self.doctor_score, self.front_desk_score, self.environment_score, self.waiting_score) >= 4
