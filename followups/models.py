"""What every part of follow-ups shares: the task (回访/召回/唤醒任务) a customer-service
person works, and each attempt at it. Plans and their steps live in ``plan_models``; recall,
dormancy, care and surveys in ``recall_models``; the event survey in ``event_survey_models``
(all imported at the end)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Branch
from members.models import Member


class TaskKind(models.TextChoices):
    FOLLOWUP = "followup", _("Post-treatment follow-up")
    RECALL = "recall", _("Recall")
    REACTIVATION = "reactivation", _("Reactivation")
    SURVEY = "survey", _("Survey follow-up")
    CARE = "care", _("Care call")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class TaskChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")


class Task(models.Model):
    """One thing to do about one person by a due date. ``source_key`` is unique: the job or
    signal that makes a task names it (``visit:12:rule:3:step:2``, ``recall:55:call``), so a
    re-run or a re-delivered signal never makes a second one. Changed only by
    ``followups.services``."""

    kind = models.CharField(_("kind"), max_length=14, choices=TaskKind.choices)
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="followup_tasks", verbose_name=_("person")
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    title = models.CharField(_("title"), max_length=120)
    channel = models.CharField(
        _("channel"), max_length=8, choices=TaskChannel.choices, default=TaskChannel.PHONE
    )
    script = models.TextField(_("script"), blank=True)
    due_on = models.DateField(_("due on"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="followup_tasks",
        verbose_name=_("assignee"),
    )
    status = models.CharField(_("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    source_key = models.CharField(_("source"), max_length=120, unique=True)
    # The visit a follow-up is about (appointments.Visit), when there is one.
    visit = models.ForeignKey(
        "appointments.Visit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("visit"),
    )
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    # Plans (followups.plans): the step a follow-up comes from and which of its repeats.
    step = models.ForeignKey(
        "followups.FollowupStep",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("plan step"),
    )
    occurrence = models.PositiveSmallIntegerField(_("occurrence"), default=1)
    # Working a task (followups.task_services): the latest attempt's outcome, how many
    # attempts so far, the task this one is the next step of, who it went up to.
    attempts_count = models.PositiveSmallIntegerField(_("attempts"), default=0)
    outcome = models.CharField(_("outcome"), max_length=14, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    previous = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("follows")
    )
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("escalated to"),
    )
    close_reason = models.CharField(_("why closed"), max_length=200, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        permissions = [
            ("work_task", _("Work follow-up tasks (call, record outcomes)")),
            ("reassign_task", _("Reassign follow-up tasks")),
        ]
        indexes = [
            models.Index(
                fields=["branch", "due_on", "id"], condition=Q(status="open"), name="followups_task_open_due"
            ),
            models.Index(
                fields=["assignee", "due_on", "id"],
                condition=Q(status="open"),
                name="followups_task_open_mine",
            ),
            models.Index(fields=["member", "status"], name="followups_task_member"),
            # The work list's 已上报 tab (and its count): few rows, so a small partial index.
            models.Index(
                fields=["branch", "due_on", "id"],
                condition=Q(status="open", escalated_at__isnull=False),
                name="followups_task_escalated",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="followups_task_satisfaction_1_5",
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} · {self.member}"

    @property
    def outcome_label(self) -> str:
        return str(AttemptOutcome(self.outcome).label) if self.outcome in AttemptOutcome.values else ""


class AttemptOutcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NOT_REACHED = "not_reached", _("Not reached")
    WRONG_NUMBER = "wrong_number", _("Wrong number")


class TaskAttempt(models.Model):
    """One try at a task: who, when, what came of it. Append-only."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("task"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    outcome = models.CharField(_("outcome"), max_length=14, choices=AttemptOutcome.choices)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("task attempt")
        verbose_name_plural = _("task attempts")
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="followups_attempt_satisfaction_1_5",
            )
        ]

    def __str__(self) -> str:
        return f"{self.task} · {self.get_outcome_display()}"


from .event_survey_models import *  # noqa: E402, F403
from .plan_models import *  # noqa: E402, F403
from .recall_models import *  # noqa: E402, F403
