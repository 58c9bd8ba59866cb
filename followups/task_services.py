"""Working a task, whatever its kind (follow-up, recall, reactivation, survey, care): record
an attempt, reassign, close, send a template SMS. Each service locks the task row (two
people working the same task at once: the second sees the first's attempt, never a lost
update), writes its audit row, and owns its transaction.

Outcomes: reached → done (with satisfaction 1–5); not reached → due again the next day,
until ``FOLLOWUPS_MAX_ATTEMPTS`` tries, then done as not reached; wrong number → done. A
next step is another task (``task:<id>:next:<attempt>``) or a booking (the view sends the
user to appointments' booking page for the person).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinic.errors import DomainError
from clinic.notifications.errors import NotificationError
from clinic.notifications.models import Channel, MessageTemplate, Purpose
from clinic.selectors import user_branch_ids
from clinic.services import audit_record
from members.models import CommChannel, Direction
from members.notify import NotifyRefused, member_notify
from members.services import communication_log_add

from .models import AttemptOutcome, Task, TaskAttempt, TaskChannel, TaskStatus
from .plans import max_attempts, plan_next_occurrence
from .services import task_create

User = get_user_model()

WORK_PERM = "followups.work_task"
REASSIGN_PERM = "followups.reassign_task"
SMS_TEMPLATE_PREFIX = "followups."


class TaskError(DomainError):
    pass


class NextStep:
    NONE = "none"
    TASK = "task"
    BOOK = "book"


_COMM_CHANNEL = {
    TaskChannel.PHONE: CommChannel.PHONE,
    TaskChannel.SMS: CommChannel.SMS,
    TaskChannel.WECHAT: CommChannel.WECHAT,
}


def _clinic_language(message, **params) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return str(message) % params


def _lock(task: Task) -> Task:
    return (
        Task.objects.select_for_update(of=("self",))
        .select_related("member", "branch", "step")
        .get(pk=task.pk)
    )


def _require(actor, perm: str) -> None:
    if not actor.has_perm(perm):
        raise TaskError(_("You may not do this."), code="forbidden")


def _require_open(task: Task) -> None:
    if task.status != TaskStatus.OPEN:
        raise TaskError(_("This task is already closed."), code="closed")


def _close(task: Task, *, actor, status: str = TaskStatus.DONE, reason: str = "") -> None:
    task.status = status
    task.closed_at = timezone.now()
    task.closed_by = actor if getattr(actor, "pk", None) else None
    task.close_reason = reason[:200]


@transaction.atomic
def task_attempt_record(
    *,
    actor,
    task: Task,
    outcome: str,
    satisfaction: int | None = None,
    notes: str = "",
    log_contact: bool = True,
    next_step: str = NextStep.NONE,
    next_due: dt.date | None = None,
    next_title: str = "",
) -> TaskAttempt:
    """One try at ``task``. Side effects: the task's outcome, attempt count, due date (a
    retry) or closing; the next occurrence of a repeating plan step when it closes; an
    entry in the person's communication log (``log_contact``); the next task."""
    _require(actor, WORK_PERM)
    task = _lock(task)
    _require_open(task)
    if outcome not in AttemptOutcome.values:
        raise TaskError(_("Choose the outcome."), field="outcome")
    if satisfaction is not None and (outcome != AttemptOutcome.REACHED or not 1 <= satisfaction <= 5):
        raise TaskError(
            _("Satisfaction (1–5) is recorded only when the person was reached."), field="satisfaction"
        )
    notes = (notes or "").strip()
    if next_step == NextStep.TASK:
        if next_due is None:
            raise TaskError(_("Give the date of the next task."), field="next_due")
        if next_due < timezone.localdate():
            raise TaskError(_("The next task cannot be due in the past."), field="next_due")
    elif next_step not in (NextStep.NONE, NextStep.BOOK):
        raise TaskError(_("Choose the next step."), field="next_step")

    attempt = TaskAttempt.objects.create(
        task=task,
        at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        outcome=outcome,
        satisfaction=satisfaction,
        notes=notes,
    )
    task.attempts_count += 1
    task.outcome = outcome
    if satisfaction is not None:
        task.satisfaction = satisfaction
    retry_on = None
    if outcome == AttemptOutcome.NOT_REACHED and task.attempts_count < max_attempts():
        retry_on = timezone.localdate() + dt.timedelta(days=1)
        task.due_on = max(task.due_on, retry_on)
        # Rescheduled: no longer overdue, so no longer waiting on the supervisor.
        task.escalated_at = task.escalated_to = None
        if task.assignee_id is None and getattr(actor, "pk", None):
            task.assignee = actor
    else:
        _close(task, actor=actor)
    task.save()
    if task.status == TaskStatus.DONE:
        plan_next_occurrence(task, actor=actor)
    if log_contact:
        # The log is read by every colleague: in the clinic's language, whoever writes it.
        with translation.override(settings.LANGUAGE_CODE):
            summary = f"{task.title}：{AttemptOutcome(outcome).label}"
            if satisfaction is not None:
                summary += _("; satisfaction %(n)s/5") % {"n": satisfaction}
        if notes:
            summary += f"。{notes}"
        communication_log_add(
            actor=actor,
            member=task.member,
            channel=_COMM_CHANNEL.get(task.channel, CommChannel.OTHER),
            direction=Direction.OUTBOUND,
            summary=summary,
            branch=task.branch,
        )
    if next_step == NextStep.TASK:
        task_create(
            actor=actor,
            member=task.member,
            kind=task.kind,
            title=(next_title or "").strip() or task.title,
            due_on=next_due,
            source_key=f"task:{task.pk}:next:{attempt.pk}",
            assignee=actor if actor.has_perm(WORK_PERM) else task.assignee,
            channel=task.channel,
            visit=task.visit,
            previous=task,
        )
    audit_record(
        actor=actor,
        action="followups.task.attempted",
        target=task,
        branch=task.branch,
        changes={
            "outcome": outcome,
            "satisfaction": satisfaction,
            "attempt": task.attempts_count,
            "retry_on": retry_on,
            "status": task.status,
            "next_step": next_step,
        },
    )
    return attempt


def assignable_staff(branch):
    """Who a task at ``branch`` may be given to: active staff there who may work tasks."""
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    perm = Permission.objects.filter(content_type__app_label="followups", codename="work_task")
    return (
        User.objects.filter(is_active=True, staff__branches=branch)
        .filter(Q(groups__permissions__in=perm) | Q(user_permissions__in=perm) | Q(is_superuser=True))
        .select_related("staff")
        .distinct()
        .order_by("staff__full_name", "pk")
    )


def _check_assignee(assignee, branch) -> None:
    if assignee is None:
        return
    if not assignable_staff(branch).filter(pk=assignee.pk).exists():
        raise TaskError(
            _("This person does not work follow-up tasks at the task's branch."), field="assignee"
        )


@transaction.atomic
def task_reassign(*, actor, task: Task, assignee) -> Task:
    """Give the task to ``assignee`` (None: back to unassigned). Managers only."""
    _require(actor, REASSIGN_PERM)
    task = _lock(task)
    _require_open(task)
    _check_assignee(assignee, task.branch)
    before = task.assignee_id
    task.assignee = assignee
    task.save(update_fields=["assignee"])
    audit_record(
        actor=actor,
        action="followups.task.reassigned",
        target=task,
        branch=task.branch,
        changes={"assignee": [before, assignee.pk if assignee else None]},
    )
    return task


@transaction.atomic
def tasks_bulk_reassign(*, actor, task_ids: Iterable[int], assignee) -> int:
    """Give the chosen open tasks of the actor's branches to ``assignee``: one UPDATE, one
    audit row per branch. Tasks outside the actor's branches or closed are left alone.
    Returns how many changed."""
    _require(actor, REASSIGN_PERM)
    qs = Task.objects.filter(pk__in=list(task_ids), status=TaskStatus.OPEN)
    ids = user_branch_ids(actor)
    if ids is not None:
        qs = qs.filter(branch_id__in=ids)
    rows = list(qs.select_for_update().values_list("pk", "branch_id"))
    by_branch: dict[int, list[int]] = {}
    for pk, branch_id in rows:
        by_branch.setdefault(branch_id, []).append(pk)
    from clinic.models import Branch

    for branch in Branch.objects.filter(pk__in=by_branch):
        _check_assignee(assignee, branch)
    changed = Task.objects.filter(pk__in=[pk for pk, _b in rows]).update(assignee=assignee)
    for branch in Branch.objects.filter(pk__in=by_branch):
        audit_record(
            actor=actor,
            action="followups.tasks.reassigned",
            target=branch,
            branch=branch,
            changes={"tasks": by_branch[branch.pk], "assignee": assignee.pk if assignee else None},
        )
    return changed


@transaction.atomic
def task_close(*, actor, task: Task, reason: str) -> Task:
    """Close without an attempt (the person came in, moved away…): cancelled, with why."""
    _require(actor, WORK_PERM)
    task = _lock(task)
    _require_open(task)
    reason = (reason or "").strip()
    if not reason:
        raise TaskError(_("Say why the task is closed."), field="reason")
    _close(task, actor=actor, status=TaskStatus.CANCELLED, reason=reason)
    task.save()
    # "No call needed this time" does not end a monthly plan: its next occurrence follows.
    plan_next_occurrence(task, actor=actor)
    audit_record(
        actor=actor,
        action="followups.task.closed",
        target=task,
        branch=task.branch,
        changes={"reason": reason},
    )
    return task


def sms_templates():
    """The SMS templates a task may send (key ``followups.*``, active, Chinese text)."""
    from .plans import CARE_TEMPLATE

    return (
        MessageTemplate.objects.filter(
            key__startswith=SMS_TEMPLATE_PREFIX, channel=Channel.SMS, language="zh-hans", is_active=True
        )
        .exclude(key=CARE_TEMPLATE)  # needs a visit's service and instructions
        .order_by("key")
    )


@transaction.atomic
def task_sms_send(*, actor, task: Task, template_key: str):
    """Queue a template SMS to the task's person (a service message: no marketing consent
    needed; opt-outs and quiet hours apply), and note it in the communication log. Once
    per task, template and day (a double click sends one)."""
    _require(actor, WORK_PERM)
    task = _lock(task)
    template = sms_templates().filter(key=template_key).first()
    if template is None:
        raise TaskError(_("Choose a message."), field="template")
    try:
        row = member_notify(
            member=task.member,
            template_key=template.key,
            params={"name": task.member.name, "branch": task.branch.name, "phone": task.branch.phone},
            purpose=Purpose.SERVICE,
            channel=Channel.SMS,
            actor=actor,
            dedupe_key=f"followups:task:{task.pk}:{template.key}:{timezone.localdate().isoformat()}",
        )
    except NotifyRefused as exc:
        raise TaskError(exc.message, code=exc.code, field="template") from exc
    except NotificationError as exc:
        raise TaskError(exc.message, field="template") from exc
    if row.was_created:
        communication_log_add(
            actor=actor,
            member=task.member,
            channel=CommChannel.SMS,
            direction=Direction.OUTBOUND,
            summary=_clinic_language(gettext_lazy("SMS sent: %(name)s"), name=template.name or template.key),
            branch=task.branch,
        )
        audit_record(
            actor=actor,
            action="followups.task.sms_sent",
            target=task,
            branch=task.branch,
            changes={"template": template.key, "outbox": row.pk},
        )
    return row
