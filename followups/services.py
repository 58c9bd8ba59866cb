"""Writes on tasks that every part of follow-ups shares. Plans, recall, dormancy and surveys
make their tasks through ``task_create``, so the key, the audit and the branch are alike."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from clinic.services import audit_record
from members.models import Member

from .models import Task, TaskChannel, TaskKind


@transaction.atomic
def task_create(
    *,
    actor,
    member: Member,
    kind: str,
    title: str,
    due_on: dt.date,
    source_key: str,
    assignee=None,
    channel: str = TaskChannel.PHONE,
    script: str = "",
    visit=None,
    step=None,
    occurrence: int = 1,
    previous: Task | None = None,
) -> tuple[Task, bool]:
    """The task ``source_key`` names, made once: ``(task, created)``. A second call with the
    same key returns the first task unchanged (a re-run job, a re-delivered signal)."""
    if kind not in TaskKind.values:
        raise ValueError(f"unknown task kind {kind!r}")
    existing = Task.objects.filter(source_key=source_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            task = Task.objects.create(
                kind=kind,
                member=member,
                branch=member.branch,
                title=title[:120],
                due_on=due_on,
                source_key=source_key,
                assignee=assignee,
                channel=channel,
                script=script,
                visit=visit,
                step=step,
                occurrence=occurrence,
                previous=previous,
            )
    except IntegrityError:  # made meanwhile by a concurrent run
        return Task.objects.get(source_key=source_key), False
    audit_record(
        actor=actor,
        action="followups.task.created",
        target=task,
        branch=task.branch,
        changes={"kind": kind, "due_on": due_on, "source_key": source_key},
    )
    return task, True
