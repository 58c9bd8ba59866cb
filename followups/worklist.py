"""Reads of the work list (客服工作台): tasks scoped to what the user may see, the tabs, a
task's history. Who sees what:

- customer service and managers (``work_task`` / ``reassign_task``): every task of their
  branches;
- doctors (``view_task`` only): the tasks of their own patients (a visit with them), read-only;
- HQ (all branches): everything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from clinic.selectors import scope_to_branches

from .models import Task, TaskAttempt, TaskStatus

VIEW_PERM = "followups.view_task"
WORK_PERM = "followups.work_task"
REASSIGN_PERM = "followups.reassign_task"
PAGE_SIZE = 50
# Tab counts stop here ("999+"): an exact count of 200,000 open tasks is not worth its time.
COUNT_CAP = 999


class Tab:
    TODAY = "today"
    OVERDUE = "overdue"
    MINE = "mine"
    TEAM = "team"
    ESCALATED = "escalated"
    ALL = (TODAY, OVERDUE, MINE, TEAM, ESCALATED)


def tasks_for_user(user) -> QuerySet[Task]:
    """Every task (any status) the user may see."""
    if not user.is_authenticated or not user.has_perm(VIEW_PERM):
        return Task.objects.none()
    qs = scope_to_branches(Task.objects.all(), user)
    if not (user.has_perm(WORK_PERM) or user.has_perm(REASSIGN_PERM)):
        from appointments.models import Visit

        treated = Visit.objects.filter(member=OuterRef("member"), doctor=user)
        qs = qs.filter(Q(visit__doctor=user) | Exists(treated))
    return qs


def get_task_for_user(user, pk: int, *, write: bool = False, perm: str = WORK_PERM) -> Task:
    """404 outside what the user sees, 403 when seen but not workable (``write``)."""
    if not user.has_perm(VIEW_PERM):
        raise PermissionDenied
    task = (
        tasks_for_user(user)
        .select_related("member__branch", "branch", "assignee__staff", "visit__doctor__staff", "step__plan")
        .filter(pk=pk)
        .first()
    )
    if task is None:
        raise Http404
    if write and not user.has_perm(perm):
        raise PermissionDenied
    return task


def _tab_filter(tab: str, user, today: dt.date) -> Q:
    if tab == Tab.TODAY:
        return Q(due_on=today)
    if tab == Tab.OVERDUE:
        return Q(due_on__lt=today)
    if tab == Tab.MINE:
        return Q(assignee=user)
    if tab == Tab.ESCALATED:
        return Q(escalated_at__isnull=False)
    return Q()


def open_tasks(user) -> QuerySet[Task]:
    return tasks_for_user(user).filter(status=TaskStatus.OPEN)


@dataclass
class Page:
    rows: list[Task]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def worklist_page(
    user,
    *,
    tab: str,
    page: int = 1,
    kind: str = "",
    channel: str = "",
    assignee=None,
    unassigned: bool = False,
    due_from: dt.date | None = None,
    due_to: dt.date | None = None,
    today: dt.date | None = None,
) -> Page:
    """One page of the tab, soonest due first. No total count (fetch one row more than a
    page to know if there is a next): the partial indexes on open tasks answer the first
    page in a few milliseconds at 200,000 open tasks (benchmarks/followups_worklist.py)."""
    today = today or timezone.localdate()
    qs = open_tasks(user).filter(_tab_filter(tab, user, today))
    if kind:
        qs = qs.filter(kind=kind)
    if channel:
        qs = qs.filter(channel=channel)
    if unassigned:
        qs = qs.filter(assignee__isnull=True)
    elif assignee is not None:
        qs = qs.filter(assignee=assignee)
    if due_from:
        qs = qs.filter(due_on__gte=due_from)
    if due_to:
        qs = qs.filter(due_on__lte=due_to)
    page = max(1, min(page, 10_000))
    start = (page - 1) * PAGE_SIZE
    rows = list(
        qs.select_related("member", "branch", "assignee__staff").order_by("due_on", "id")[
            start : start + PAGE_SIZE + 1
        ]
    )
    return Page(rows=rows[:PAGE_SIZE], number=page, has_next=len(rows) > PAGE_SIZE)


def tab_counts(user, *, today: dt.date | None = None) -> dict[str, str]:
    """Each tab's number of open tasks, capped at ``COUNT_CAP`` (shown as "999+")."""
    today = today or timezone.localdate()
    base = open_tasks(user)
    counts = {}
    for tab in Tab.ALL:
        n = base.filter(_tab_filter(tab, user, today)).order_by()[: COUNT_CAP + 1].count()
        counts[tab] = f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)
    return counts


def task_attempts(task: Task) -> QuerySet[TaskAttempt]:
    return task.attempts.select_related("actor__staff").order_by("at", "id")


def earlier_tasks(user, task: Task, limit: int = 20) -> list[Task]:
    """The person's other tasks the user may see, newest first, with their attempts."""
    from django.db.models import Prefetch

    return list(
        tasks_for_user(user)
        .filter(member=task.member_id)
        .exclude(pk=task.pk)
        .select_related("assignee__staff")
        .prefetch_related(
            Prefetch(
                "attempts", queryset=TaskAttempt.objects.select_related("actor__staff").order_by("at", "id")
            )
        )
        .order_by("-due_on", "-id")[:limit]
    )


def recent_contacts(task: Task, limit: int = 10):
    from members.models import CommunicationLog

    return list(
        CommunicationLog.objects.filter(member=task.member_id)
        .select_related("staff__staff")
        .order_by("-at", "-id")[:limit]
    )


def member_tab(member, user) -> dict:
    """The person's tasks the user may see (open first, then newest), for the profile tab."""
    from django.db.models import Case, IntegerField, Value, When

    tasks = list(
        tasks_for_user(user)
        .filter(member=member)
        .select_related("assignee__staff")
        .annotate(
            open_first=Case(
                When(status=TaskStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("open_first", "-due_on", "-id")[:30]
    )
    return {"tasks": tasks, "today": timezone.localdate()}


def member_timeline(member, user, limit):
    """Each attempt at the person's tasks, on the profile timeline."""
    from django.urls import reverse

    from members.registry import TimelineEntry

    visible = tasks_for_user(user).filter(member=member)
    attempts = (
        TaskAttempt.objects.filter(task__in=visible)
        .select_related("task", "actor__staff")
        .order_by("-at", "-id")[:limit]
    )
    for a in attempts:
        detail = a.get_outcome_display()
        if a.satisfaction:
            detail += f" · {a.satisfaction} ★"
        if a.notes:
            detail += f" · {a.notes}"
        yield TimelineEntry(
            at=a.at,
            kind="followups.attempt",
            title=a.task.title,
            detail=detail,
            icon="bi-telephone-outbound",
            url=reverse("followups:task", args=[a.task_id]),
            staff=getattr(getattr(a.actor, "staff", None), "full_name", ""),
        )
