"""Working a task, whatever its kind: outcomes and retries, the communication log, the next
step, reassigning (one and many), closing, a template SMS."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import AuditLog, Role
from clinic.notifications.models import Outbox
from followups.models import AttemptOutcome, Task, TaskStatus
from followups.services import task_create
from followups.task_services import (
    NextStep,
    TaskError,
    task_attempt_record,
    task_close,
    task_reassign,
    task_sms_send,
    tasks_bulk_reassign,
)
from members.models import CommunicationLog
from tests.appointments.factories import MONDAY
from tests.conftest import make_staff
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def cs(branch):
    return make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_a")


@pytest.fixture
def task(branch, cs, clock):
    person = make_member(branch, name="李娜", phone="13900003333")
    return task_create(
        actor=None,
        member=person,
        kind="recall",  # generic: F2's recall tasks are worked the same way
        title="洁牙复诊提醒",
        due_on=MONDAY,
        source_key="recall:1:call",
        assignee=cs,
    )[0]


def test_reached_closes_the_task_with_satisfaction_and_logs_the_call(task, cs):
    attempt = task_attempt_record(
        actor=cs, task=task, outcome=AttemptOutcome.REACHED, satisfaction=4, notes="恢复良好"
    )
    task.refresh_from_db()
    assert (task.status, task.outcome, task.satisfaction, task.attempts_count) == ("done", "reached", 4, 1)
    assert (task.closed_by, attempt.actor, attempt.notes) == (cs, cs, "恢复良好")
    entry = CommunicationLog.objects.get(member=task.member)
    assert (entry.channel, entry.direction, entry.staff) == ("phone", "out", cs)
    assert "洁牙复诊提醒" in entry.summary and "恢复良好" in entry.summary
    assert AuditLog.objects.filter(action="followups.task.attempted", target_id=str(task.pk)).count() == 1


def test_not_reached_comes_back_tomorrow_until_the_last_try(task, cs, clock, settings):
    settings.FOLLOWUPS_MAX_ATTEMPTS = 3
    for n in (1, 2):
        task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.NOT_REACHED, log_contact=False)
        task.refresh_from_db()
        assert (task.status, task.attempts_count) == ("open", n)
        assert task.due_on == MONDAY + dt.timedelta(days=n)
        clock.shift(dt.timedelta(days=1))
    task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.NOT_REACHED, log_contact=False)
    task.refresh_from_db()
    assert (task.status, task.outcome, task.attempts_count) == ("done", "not_reached", 3)
    assert task.attempts.count() == 3


def test_a_wrong_number_closes_the_task(task, cs):
    task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.WRONG_NUMBER, log_contact=False)
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("done", "wrong_number")


def test_satisfaction_only_when_reached_and_only_1_to_5(task, cs):
    with pytest.raises(TaskError) as err:
        task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.NOT_REACHED, satisfaction=3)
    assert err.value.field == "satisfaction"
    with pytest.raises(TaskError):
        task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.REACHED, satisfaction=6)
    with pytest.raises(TaskError):
        task_attempt_record(actor=cs, task=task, outcome="maybe")
    assert task.attempts.count() == 0


def test_a_closed_task_takes_no_more_attempts(task, cs):
    task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.REACHED, log_contact=False)
    with pytest.raises(TaskError) as err:
        task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.REACHED)
    assert err.value.code == "closed"


def test_a_doctor_may_not_work_tasks(task, doctor):
    with pytest.raises(TaskError) as err:
        task_attempt_record(actor=doctor, task=task, outcome=AttemptOutcome.REACHED)
    assert err.value.code == "forbidden"


def test_the_next_step_is_another_task_once(task, cs):
    attempt = task_attempt_record(
        actor=cs,
        task=task,
        outcome=AttemptOutcome.REACHED,
        next_step=NextStep.TASK,
        next_due=MONDAY + dt.timedelta(days=14),
        next_title="两周后确认复诊",
        log_contact=False,
    )
    nxt = Task.objects.get(previous=task)
    assert (nxt.title, nxt.due_on, nxt.kind, nxt.assignee, nxt.status) == (
        "两周后确认复诊",
        MONDAY + dt.timedelta(days=14),
        "recall",
        cs,
        "open",
    )
    assert nxt.source_key == f"task:{task.pk}:next:{attempt.pk}"


def test_the_next_task_needs_a_date_not_in_the_past(task, cs):
    with pytest.raises(TaskError) as err:
        task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.REACHED, next_step=NextStep.TASK)
    assert err.value.field == "next_due"
    with pytest.raises(TaskError):
        task_attempt_record(
            actor=cs,
            task=task,
            outcome=AttemptOutcome.REACHED,
            next_step=NextStep.TASK,
            next_due=MONDAY - dt.timedelta(days=1),
        )
    assert Task.objects.count() == 1 and task.attempts.count() == 0


def test_a_manager_reassigns_within_the_branch(task, cs, manager, branch, other_branch):
    other = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_b")
    task_reassign(actor=manager, task=task, assignee=other)
    task.refresh_from_db()
    assert task.assignee == other
    there = make_staff(Role.CUSTOMER_SERVICE, [other_branch], username="cs_there")
    with pytest.raises(TaskError) as err:
        task_reassign(actor=manager, task=task, assignee=there)
    assert err.value.field == "assignee"
    front = make_staff(Role.FRONT_DESK, [branch], username="fd_b")
    with pytest.raises(TaskError):  # does not work follow-up tasks
        task_reassign(actor=manager, task=task, assignee=front)
    with pytest.raises(TaskError) as err:
        task_reassign(actor=cs, task=task, assignee=cs)
    assert err.value.code == "forbidden"
    assert AuditLog.objects.filter(action="followups.task.reassigned").count() == 1


def test_bulk_reassign_leaves_other_branches_and_closed_tasks_alone(task, cs, manager, branch, other_branch):
    other = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_b")
    theirs = task_create(
        actor=None,
        member=make_member(other_branch),
        kind="followup",
        title="别店",
        due_on=MONDAY,
        source_key="there",
    )[0]
    closed = task_create(
        actor=None, member=task.member, kind="followup", title="已完成", due_on=MONDAY, source_key="closed"
    )[0]
    Task.objects.filter(pk=closed.pk).update(status=TaskStatus.DONE)
    n = tasks_bulk_reassign(actor=manager, task_ids=[task.pk, theirs.pk, closed.pk], assignee=other)
    assert n == 1
    assert dict(Task.objects.values_list("source_key", "assignee")) == {
        "recall:1:call": other.pk,
        "there": None,
        "closed": None,
    }


def test_closing_without_a_call_needs_a_reason(task, cs):
    with pytest.raises(TaskError):
        task_close(actor=cs, task=task, reason="  ")
    task_close(actor=cs, task=task, reason="本人已到店复查")
    task.refresh_from_db()
    assert (task.status, task.close_reason, task.closed_by) == ("cancelled", "本人已到店复查", cs)


def test_a_template_sms_is_queued_once_a_day_and_noted(task, cs):
    row = task_sms_send(actor=cs, task=task, template_key="followups.call_back")
    again = task_sms_send(actor=cs, task=task, template_key="followups.call_back")
    assert row.was_created and not again.was_created and row.pk == again.pk
    out = Outbox.objects.get(template_key="followups.call_back")
    assert (out.recipient, out.purpose, out.params["name"]) == ("+8613900003333", "service", "李娜")
    assert CommunicationLog.objects.filter(member=task.member, channel="sms").count() == 1
    with pytest.raises(TaskError):  # the care template needs a visit: not offered here
        task_sms_send(actor=cs, task=task, template_key="followups.care")


def test_the_communication_log_is_written_in_the_clinics_language(task, cs):
    from django.utils import translation

    with translation.override("en"):
        task_attempt_record(actor=cs, task=task, outcome=AttemptOutcome.NOT_REACHED, notes="关机")
    assert CommunicationLog.objects.get(member=task.member).summary == "洁牙复诊提醒：未接通。关机"
