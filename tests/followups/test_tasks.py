from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import AuditLog
from followups.models import Task, TaskKind
from followups.services import task_create
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


def test_a_task_is_made_once_per_source_key_and_audited(branch, customer_service):
    person = make_member(branch, name="王芳")
    due = dt.date(2026, 12, 10)
    task, created = task_create(
        actor=None,
        member=person,
        kind=TaskKind.FOLLOWUP,
        title="拔牙术后回访",
        due_on=due,
        source_key="visit:1:d1",
    )
    again, created_again = task_create(
        actor=None, member=person, kind=TaskKind.FOLLOWUP, title="另一个", due_on=due, source_key="visit:1:d1"
    )
    assert (created, created_again, again.pk, again.title) == (True, False, task.pk, "拔牙术后回访")
    assert task.branch == branch and Task.objects.count() == 1
    assert AuditLog.objects.filter(action="followups.task.created", target_id=str(task.pk)).count() == 1


def test_an_unknown_kind_is_refused(branch):
    with pytest.raises(ValueError):
        task_create(
            actor=None,
            member=make_member(branch),
            kind="nonsense",
            title="x",
            due_on=dt.date(2026, 12, 10),
            source_key="x",
        )
