"""Plan services: a completed visit makes its follow-up tasks, a voided one cancels them, a
repeating step makes its next occurrence, overdue tasks go up to the branch manager.

Every task a plan makes has the key ``visit:<visit>:rule:<plan>:step:<step>`` (a repeat adds
``:n:<k>``), so a re-delivered signal or a second sweep never makes a second one
(``followups.services.task_create``). Assignment: the step's rule (``AssigneeRule``); the
customer-service pool is shared fairly (fewest open tasks at the branch, then whoever was
given one longest ago, then the lowest id), under a per-branch advisory lock so two visits
completing at once do not both pick the same person from the same counts.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from clinic.models import Branch, Role
from clinic.notifications.errors import NotificationError
from clinic.notifications.models import Channel, Purpose
from clinic.notifications.services import notification_enqueue
from clinic.roles import GROUP_NAMES
from clinic.services import audit_record
from members.notify import NotifyRefused, member_notify

from .models import Task, TaskKind, TaskStatus
from .plan_models import AssigneeRule, FollowupPlan, FollowupStep, OffsetUnit, ServiceRep
from .services import task_create

log = logging.getLogger(__name__)
User = get_user_model()

# pg_advisory_xact_lock(namespace, branch id): "assigning follow-ups at this branch".
_POOL_LOCK = 14_001
CARE_TEMPLATE = "followups.care"
ESCALATION_TEMPLATE = "followups.escalated"


def max_attempts() -> int:
    """How many times a not-reached task is tried (the first try and the next-day retries)."""
    return max(1, int(getattr(settings, "FOLLOWUPS_MAX_ATTEMPTS", 3)))


def escalate_after_days() -> int:
    return max(1, int(getattr(settings, "FOLLOWUPS_ESCALATE_AFTER_DAYS", 1)))


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months; the 31st becomes the month's last day."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def step_due(step: FollowupStep, visit_day: dt.date, occurrence: int = 1) -> dt.date:
    if step.offset_unit == OffsetUnit.MONTHS:
        return add_months(visit_day, step.offset + (occurrence - 1) * step.repeat_every_months)
    due = visit_day + dt.timedelta(days=step.offset)
    return add_months(due, (occurrence - 1) * step.repeat_every_months) if occurrence > 1 else due


def step_key(visit_id: int, step: FollowupStep, occurrence: int = 1) -> str:
    key = f"visit:{visit_id}:rule:{step.plan_id}:step:{step.pk}"
    return key if occurrence == 1 else f"{key}:n:{occurrence}"


def plans_for_visit(visit) -> list[tuple[FollowupPlan, object]]:
    """The active plans the visit's services call for, each with the service it is for.
    An item's own plan wins over its category's; a plan counts once however many lines."""
    items = [line.item for line in visit.lines.select_related("item__category").order_by("id")]
    if not items:
        return []
    plans = list(
        FollowupPlan.objects.filter(is_active=True)
        .filter(Q(item__in={i.pk for i in items}) | Q(category__in={i.category_id for i in items}))
        .prefetch_related("steps")
        .order_by("id")
    )
    own = {p.item_id for p in plans if p.item_id}
    chosen: dict[int, tuple[FollowupPlan, object]] = {}
    for item in items:
        for plan in plans:
            if plan.pk in chosen:
                continue
            if plan.item_id == item.pk or (plan.category_id == item.category_id and item.pk not in own):
                chosen[plan.pk] = (plan, item)
    return list(chosen.values())


def cs_pool(branch: Branch) -> QuerySet:
    """The branch's customer-service staff (the 客服 role, as their role or an added one)."""
    return User.objects.filter(
        is_active=True, staff__branches=branch, groups__name=GROUP_NAMES[Role.CUSTOMER_SERVICE]
    ).distinct()


def pool_pick(branch: Branch):
    """The pool member who should get the next task at ``branch``, or None (no pool)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_POOL_LOCK, branch.pk])
    mine = Task.objects.filter(assignee=OuterRef("pk"), branch=branch)
    open_count = (
        mine.filter(status=TaskStatus.OPEN).order_by().values("assignee").annotate(n=Count("pk")).values("n")
    )
    last_given = mine.order_by().values("assignee").annotate(m=Max("created_at")).values("m")
    candidates = (
        User.objects.filter(pk__in=cs_pool(branch).values("pk"))
        .annotate(open_n=Subquery(open_count), last_at=Subquery(last_given))
        .order_by(Coalesce("open_n", Value(0)).asc(), F("last_at").asc(nulls_first=True), "pk")
    )
    return candidates.first()


def dedicated_rep(member):
    """The person's dedicated rep when their tier has one and the rep still works at a
    branch of theirs; else None."""
    tier = getattr(getattr(member, "membership", None), "tier", None)
    if tier is None or not tier.dedicated_rep:
        return None
    rep = ServiceRep.objects.filter(member=member).select_related("rep").first()
    if rep is None or not rep.rep.is_active:
        return None
    if not Branch.objects.filter(pk=member.branch_id, staff__user=rep.rep).exists():
        return None
    return rep.rep


def _assignee_for(step: FollowupStep, visit, picked: dict):
    if step.assignee_rule == AssigneeRule.DOCTOR:
        return visit.doctor
    if step.assignee_rule == AssigneeRule.REP_OR_POOL:
        if "rep" not in picked:
            picked["rep"] = dedicated_rep(visit.member)
        if picked["rep"] is not None:
            return picked["rep"]
    if "pool" not in picked:
        # One pick per visit: the same person follows one visit's steps (continuity).
        picked["pool"] = pool_pick(visit.branch)
    return picked["pool"]


def visit_day(visit) -> dt.date:
    return timezone.localdate(visit.checked_out_at or visit.opened_at)


@transaction.atomic
def plan_tasks_for_visit(*, visit, actor=None) -> list[Task]:
    """Make the follow-up tasks the visit's plans call for (the first occurrence of each
    step), and queue each plan's care instructions. Idempotent. Returns the tasks made now.

    A repeating step restarts with each visit: the person's open tasks of the same step
    from earlier visits are cancelled (an orthodontic patient is called once a month, not
    once per adjustment visit still running)."""
    from appointments.models import VisitStatus

    if visit.status != VisitStatus.CHECKED_OUT:
        return []
    day = visit_day(visit)
    made: list[Task] = []
    picked: dict = {}
    for plan, item in plans_for_visit(visit):
        for step in plan.steps.all():
            task, created = task_create(
                actor=actor,
                member=visit.member,
                kind=TaskKind.FOLLOWUP,
                title=step.title,
                due_on=step_due(step, day),
                source_key=step_key(visit.pk, step),
                assignee=_assignee_for(step, visit, picked),
                channel=step.channel,
                script=step.script,
                visit=visit,
                step=step,
            )
            if not created:
                continue
            made.append(task)
            if step.repeats:
                _supersede_earlier(task)
        _send_care(visit, plan, item, actor=actor)
    return made


def _supersede_earlier(task: Task) -> None:
    earlier = Task.objects.filter(
        member=task.member_id, step=task.step_id, status=TaskStatus.OPEN, created_at__lte=task.created_at
    ).exclude(pk=task.pk)
    ids = list(earlier.values_list("pk", flat=True))
    if ids:
        Task.objects.filter(pk__in=ids).update(
            status=TaskStatus.CANCELLED, closed_at=timezone.now(), close_reason="superseded"
        )
        audit_record(
            actor=None,
            action="followups.task.superseded",
            target=task,
            branch=task.branch,
            changes={"cancelled": ids},
        )


def _send_care(visit, plan: FollowupPlan, item, *, actor=None) -> None:
    """The plan's care instructions by SMS: a service message (no marketing consent needed;
    opt-outs, quiet hours and the record's state still apply). Never undoes the checkout."""
    text = (plan.care_instructions or "").strip()
    if not text:
        return
    try:
        member_notify(
            member=visit.member,
            template_key=CARE_TEMPLATE,
            params={
                "name": visit.member.name,
                "service": item.name,
                "instructions": text,
                "branch": visit.branch.name,
                "phone": visit.branch.phone,
            },
            purpose=Purpose.SERVICE,
            channel=Channel.SMS,
            actor=actor,
            dedupe_key=f"followups:care:visit:{visit.pk}:plan:{plan.pk}",
        )
    except NotifyRefused as exc:
        log.info("care instructions for visit %s not sent: %s", visit.pk, exc.code)
    except NotificationError as exc:
        log.error("care instructions for visit %s failed: %s", visit.pk, exc.message)


@transaction.atomic
def plan_tasks_cancel_for_visit(*, visit, actor=None) -> int:
    """A voided visit: its open follow-up tasks are cancelled (done ones stay as history)."""
    qs = Task.objects.filter(visit=visit, kind=TaskKind.FOLLOWUP, status=TaskStatus.OPEN)
    ids = list(qs.values_list("pk", flat=True))
    if not ids:
        return 0
    Task.objects.filter(pk__in=ids).update(
        status=TaskStatus.CANCELLED, closed_at=timezone.now(), close_reason="visit_voided"
    )
    audit_record(
        actor=actor,
        action="followups.tasks.cancelled",
        target=visit,
        branch=visit.branch,
        changes={"reason": "visit_voided", "tasks": ids},
    )
    return len(ids)


def plan_next_occurrence(task: Task, *, actor=None) -> Task | None:
    """After a repeating step's task closes, its next occurrence (same visit, same
    assignee), unless it was the last or the plan was switched off. In the caller's
    transaction."""
    step = task.step
    if step is None or task.visit_id is None or task.occurrence >= step.repeat_times:
        return None
    if not FollowupPlan.objects.filter(pk=step.plan_id, is_active=True).exists():
        return None
    nxt = task.occurrence + 1
    new, created = task_create(
        actor=actor,
        member=task.member,
        kind=task.kind,
        title=step.title,
        due_on=step_due(step, visit_day(task.visit), nxt),
        source_key=step_key(task.visit_id, step, nxt),
        assignee=task.assignee,
        channel=step.channel,
        script=step.script,
        visit=task.visit,
        step=step,
        occurrence=nxt,
        previous=task,
    )
    return new if created else None


def plan_tasks_sweep(*, now: dt.datetime | None = None, days: int = 3) -> int:
    """Beat safety net: visits checked out in the last ``days`` days with no follow-up task
    yet (a signal lost to a crash between commit and delivery) get theirs. Idempotent."""
    from appointments.models import Visit, VisitStatus

    now = now or timezone.now()
    covered_items = FollowupPlan.objects.filter(is_active=True)
    visits = (
        Visit.objects.filter(
            status=VisitStatus.CHECKED_OUT, checked_out_at__gte=now - dt.timedelta(days=days)
        )
        .filter(
            Q(lines__item__in=covered_items.filter(item__isnull=False).values("item"))
            | Q(lines__item__category__in=covered_items.filter(category__isnull=False).values("category"))
        )
        .filter(~Exists(Task.objects.filter(visit=OuterRef("pk"), kind=TaskKind.FOLLOWUP)))
        .select_related("member__branch", "branch", "doctor")
        .distinct()
    )
    made = 0
    for visit in visits.iterator(chunk_size=200):
        made += len(plan_tasks_for_visit(visit=visit))
    return made


def branch_supervisor(branch: Branch):
    """Who overdue tasks go up to: the branch's manager (the lowest id if several)."""
    return (
        User.objects.filter(
            is_active=True, staff__branches=branch, groups__name=GROUP_NAMES[Role.BRANCH_MANAGER]
        )
        .order_by("pk")
        .first()
    )


def tasks_escalate_overdue(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Open tasks overdue by ``FOLLOWUPS_ESCALATE_AFTER_DAYS`` or more go up to the branch
    manager: one UPDATE per branch (set-based), only rows not escalated yet (idempotent:
    a second run the same day changes nothing), one audit row and one e-mail digest per
    branch and day. Returns ``{"tasks": n, "branches": m}``."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    cutoff = today - dt.timedelta(days=escalate_after_days())
    due = Task.objects.filter(status=TaskStatus.OPEN, escalated_at__isnull=True, due_on__lte=cutoff)
    total = branches = 0
    for branch in Branch.objects.filter(pk__in=due.values("branch")).order_by("pk"):
        supervisor = branch_supervisor(branch)
        with transaction.atomic():
            n = due.filter(branch=branch).update(escalated_at=now, escalated_to=supervisor)
            if not n:
                continue
            total, branches = total + n, branches + 1
            audit_record(
                actor=None,
                action="followups.tasks.escalated",
                target=branch,
                branch=branch,
                changes={"tasks": n, "to": supervisor.pk if supervisor else None, "cutoff": cutoff},
            )
            if supervisor is not None and supervisor.email:
                _notify_supervisor(supervisor, branch, today)
    return {"tasks": total, "branches": branches}


def _notify_supervisor(supervisor, branch: Branch, today: dt.date) -> None:
    waiting = Task.objects.filter(
        branch=branch, status=TaskStatus.OPEN, escalated_at__isnull=False, escalated_to=supervisor
    ).count()
    try:
        notification_enqueue(
            channel=Channel.EMAIL,
            recipient=supervisor.email,
            template_key=ESCALATION_TEMPLATE,
            params={
                "name": getattr(getattr(supervisor, "staff", None), "full_name", supervisor.get_username()),
                "branch": branch.name,
                "count": waiting,
                "date": today.isoformat(),
            },
            purpose=Purpose.SERVICE,
            dedupe_key=f"followups:escalated:{branch.pk}:{supervisor.pk}:{today.isoformat()}",
            branch=branch,
        )
    except NotificationError as exc:
        log.error("escalation notice to %s failed: %s", supervisor.pk, exc.message)
