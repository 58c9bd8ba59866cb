"""Reactivation: dormant people and sharp spend drops get a phone task, one open at a time,
spaced out, capped per episode, set-based and idempotent; a visit closes it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from appointments.models import Visit, VisitStatus
from clinic.models import AuditLog
from followups.dormancy import care_policy, reactivations_run
from followups.models import CarePolicy, Reactivation, ReactivationReason, Task, TaskKind, TaskStatus
from members.models import Member
from tests.members.factories import make_member

from .conftest import local

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 7)


def last_visit(member, day: dt.date):
    Member.objects.filter(pk=member.pk).update(last_visit_at=local(day, 10))


def paid_visit(member, doctor, day: dt.date, amount: str):
    """A checked-out visit row as the checkout leaves it (amounts only)."""
    return Visit.objects.create(
        branch=member.branch,
        member=member,
        doctor=doctor,
        status=VisitStatus.CHECKED_OUT,
        opened_at=local(day, 10),
        checked_out_at=local(day, 11),
        list_total=Decimal(amount),
        amount_due=Decimal(amount),
        amount_paid=Decimal(amount),
    )


def close(task):
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.DONE)


def test_a_person_without_a_visit_for_six_months_gets_one_task_and_a_rerun_makes_none(branch, clock):
    sleeper = make_member(branch, name="久未到店")
    recent = make_member(branch, name="常来")
    never = make_member(branch, name="潜客")  # no visit at all: a lead, not dormant
    last_visit(sleeper, dt.date(2026, 6, 1))
    last_visit(recent, dt.date(2026, 10, 1))
    clock.go(TODAY, 1)
    assert reactivations_run() == {"episodes": 1, "tasks": 1}
    assert reactivations_run() == {"episodes": 0, "tasks": 0}
    task = Task.objects.get(kind=TaskKind.REACTIVATION)
    assert (task.member_id, task.due_on, task.source_key) == (
        sleeper.pk,
        TODAY,
        f"reactivation:{sleeper.pk}:dormant:2026-06-01:1",
    )
    assert "6" in task.title
    assert AuditLog.objects.filter(action="followups.task.created", target_id=str(task.pk)).exists()
    assert not Task.objects.filter(member__in=[recent, never]).exists()


def test_the_next_task_waits_for_the_retry_days_and_stops_at_the_cap(branch, clock):
    CarePolicy.objects.filter(pk=1).update(reactivation_max_tasks=2, reactivation_retry_days=30)
    sleeper = make_member(branch, name="久未到店")
    last_visit(sleeper, dt.date(2026, 3, 1))
    clock.go(TODAY, 1)
    reactivations_run()
    first = Task.objects.get()
    close(first)  # not reached, closed by customer service
    clock.go(TODAY + dt.timedelta(days=10), 1)
    assert reactivations_run()["tasks"] == 0  # too soon
    clock.go(TODAY + dt.timedelta(days=30), 1)
    assert reactivations_run()["tasks"] == 1
    second = Task.objects.exclude(pk=first.pk).get()
    assert second.source_key.endswith(":2")
    close(second)
    clock.go(TODAY + dt.timedelta(days=90), 1)
    assert reactivations_run()["tasks"] == 0  # the cap: two per episode
    assert Reactivation.objects.get().tasks_made == 2


def test_at_most_one_open_reactivation_task_per_person(branch, clock, doctor):
    person = make_member(branch, name="双重")
    # Dormant (last visit 2026-04-01) and a spend drop in the same pass: one task only.
    for day, amount in (
        (dt.date(2025, 3, 1), "3000"),
        (dt.date(2025, 6, 1), "2000"),
        (dt.date(2026, 4, 1), "100"),
    ):
        paid_visit(person, doctor, day, amount)
    last_visit(person, dt.date(2026, 4, 1))
    clock.go(TODAY, 1)
    CarePolicy.objects.filter(pk=1).update(dormant_months=6)
    result = reactivations_run()
    assert result["tasks"] == 1
    assert Task.objects.filter(member=person, status=TaskStatus.OPEN).count() == 1


def test_a_sharp_spend_drop_gets_a_task_once_a_year(branch, clock, doctor):
    dropper = make_member(branch, name="消费骤降")
    steady = make_member(branch, name="稳定")
    for member, before, recent in ((dropper, "6000", "1000"), (steady, "3000", "2800")):
        paid_visit(member, doctor, dt.date(2025, 3, 3), before)
        paid_visit(member, doctor, dt.date(2026, 9, 1), recent)
        last_visit(member, dt.date(2026, 9, 1))
    clock.go(TODAY, 1)
    assert reactivations_run() == {"episodes": 1, "tasks": 1}
    episode = Reactivation.objects.get()
    assert (episode.member_id, episode.reason, episode.episode) == (
        dropper.pk,
        ReactivationReason.SPEND_DROP,
        "2026",
    )
    assert reactivations_run() == {"episodes": 0, "tasks": 0}


def test_a_visit_closes_the_open_reactivation_task(branch, clock, cleaning, visit_on):
    person = make_member(branch, name="回来了")
    last_visit(person, dt.date(2026, 1, 1))
    clock.go(TODAY, 1)
    reactivations_run()
    task = Task.objects.get(kind=TaskKind.REACTIVATION)
    visit_on(person, cleaning, TODAY + dt.timedelta(days=1))
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    clock.go(TODAY + dt.timedelta(days=60), 1)
    assert reactivations_run()["tasks"] == 0  # the dormant episode ended with the visit


def test_the_policy_row_is_made_when_missing():
    CarePolicy.objects.all().delete()
    assert care_policy().dormant_months == 6


def test_new_tasks_per_branch_and_day_are_capped_most_recently_lapsed_first(branch, clock):
    CarePolicy.objects.filter(pk=1).update(reactivation_daily_cap=2)
    people = []
    for i, day in enumerate(
        (dt.date(2026, 1, 5), dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2025, 3, 1))
    ):
        person = make_member(branch, name=f"沉睡{i}")
        last_visit(person, day)
        people.append(person)
    clock.go(TODAY, 1)
    assert reactivations_run() == {"episodes": 4, "tasks": 2}
    assert set(Task.objects.values_list("member_id", flat=True)) == {people[1].pk, people[2].pk}
    assert reactivations_run()["tasks"] == 0  # the day's cap is used up
    clock.go(TODAY + dt.timedelta(days=1), 1)
    assert reactivations_run()["tasks"] == 2  # the others the next day


def test_reactivation_tasks_go_to_the_customer_service_pool_in_turn(branch, clock):
    from clinic.models import Role
    from tests.conftest import make_staff

    first = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_one")
    second = make_staff(Role.CUSTOMER_SERVICE, [branch], username="cs_two")
    for n in range(4):
        last_visit(make_member(branch, name=f"沉睡{n}", phone=f"1390000{n:04d}"), dt.date(2026, 5, 1 + n))
    clock.go(TODAY, 1)
    assert reactivations_run()["tasks"] == 4
    given = sorted(
        Task.objects.filter(kind=TaskKind.REACTIVATION).values_list("assignee__username", flat=True)
    )
    assert given == [first.username, first.username, second.username, second.username]
