"""Recall tied to loyalty: reset by trigger visits, kept on time for a bonus and a tier
credit, set by hand, reminded, called, voided, synced set-based."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments import checkout
from clinic.models import AuditLog
from clinic.notifications.models import Outbox
from followups import recall as recall_services
from followups.errors import FollowupError
from followups.models import Recall, RecallKeep, RecallType, Task, TaskKind, TaskStatus
from loyalty import services as loyalty_services
from loyalty.models import Membership, PointsEntry
from members.models import Member
from tests.appointments.factories import book
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory

from .conftest import local

pytestmark = pytest.mark.django_db

D0 = dt.date(2026, 1, 5)  # the first cleaning; due 2026-07-05


def enrol(member, branch):
    return loyalty_services.membership_enrol(actor=None, member=member, branch=branch, welcome_points=0)


def recall_of(member) -> Recall:
    return Recall.objects.get(member=member, recall_type__code="cleaning")


def test_a_cleaning_visit_makes_the_recall_due_after_the_interval_and_a_filling_does_not(
    person, cleaning, filling, visit_on
):
    visit_on(person, filling, D0)
    assert not Recall.objects.exists()
    visit = visit_on(person, cleaning, D0 + dt.timedelta(days=1))
    recall = recall_of(person)
    assert (recall.due_on, recall.last_visit_id, recall.manual) == (dt.date(2026, 7, 6), visit.pk, False)
    assert AuditLog.objects.filter(action="followups.recall.created", target_id=str(recall.pk)).exists()


def test_a_visit_in_the_window_keeps_the_recall_on_time_and_earns_the_bonus_once(
    person, branch, cleaning, visit_on
):
    enrol(person, branch)
    visit_on(person, cleaning, D0)
    recall = recall_of(person)
    second = visit_on(person, cleaning, dt.date(2026, 7, 20))  # 15 days after due: inside ±30
    keep = RecallKeep.objects.get(recall=recall)
    assert (keep.due_on, keep.on_time, keep.points, keep.visit_id) == (
        dt.date(2026, 7, 5),
        True,
        100,
        second.pk,
    )
    entry = PointsEntry.objects.get(idempotency_key=f"recall:{recall.pk}:2026-07-05")
    assert entry.points == 100
    # A re-delivered signal changes nothing: no second keep, no second bonus.
    recall_services.recall_on_visit(actor=None, visit=second)
    assert RecallKeep.objects.count() == 1
    assert PointsEntry.objects.filter(idempotency_key__startswith="recall:").count() == 1
    recall.refresh_from_db()
    assert recall.due_on == dt.date(2027, 1, 20)


def test_a_late_visit_closes_the_cycle_without_bonus_and_an_early_one_only_resets(
    person, branch, cleaning, visit_on
):
    enrol(person, branch)
    visit_on(person, cleaning, D0)
    visit_on(person, cleaning, dt.date(2026, 2, 10))  # far before the window: just a reset
    assert not RecallKeep.objects.exists()
    recall = recall_of(person)
    assert recall.due_on == dt.date(2026, 8, 10)
    visit_on(person, cleaning, dt.date(2026, 10, 12))  # 63 days after due: late
    keep = RecallKeep.objects.get()
    assert (keep.on_time, keep.points) == (False, 0)
    assert not PointsEntry.objects.filter(idempotency_key__startswith="recall:").exists()


def test_a_due_date_set_by_hand_is_audited_and_kept_until_a_visit_keeps_it(
    person, cleaning, filling, visit_on, front_desk, customer_service
):
    visit_on(person, cleaning, D0)
    recall = recall_of(person)
    with pytest.raises(FollowupError):
        recall_services.recall_set_due(
            actor=front_desk, recall=recall, due_on=dt.date(2026, 9, 1), reason="x"
        )
    with pytest.raises(FollowupError) as err:
        recall_services.recall_set_due(
            actor=customer_service, recall=recall, due_on=dt.date(2026, 9, 1), reason="  "
        )
    assert err.value.field == "reason"
    recall_services.recall_set_due(
        actor=customer_service, recall=recall, due_on=dt.date(2026, 9, 1), reason="出差，九月再来"
    )
    audit = AuditLog.objects.get(action="followups.recall.due_set")
    assert audit.changes["due_on"] == ["2026-07-05", "2026-09-01"]
    # A trigger visit long before the window resets nothing: the date set by hand stays.
    visit_on(person, cleaning, dt.date(2026, 3, 2))
    recall.refresh_from_db()
    assert (recall.due_on, recall.manual) == (dt.date(2026, 9, 1), True)
    # A visit inside the window around the hand-set date keeps it and starts a new cycle.
    visit_on(person, cleaning, dt.date(2026, 9, 3))
    recall.refresh_from_db()
    assert (recall.due_on, recall.manual) == (dt.date(2027, 3, 3), False)
    assert RecallKeep.objects.get().on_time


def test_reminders_at_due_minus_14_and_on_the_day_once_each_and_silent_with_a_booking(
    person, branch, cleaning, visit_on, clock, doc, front_desk
):
    visit_on(person, cleaning, D0)
    assert recall_of(person).due_on == dt.date(2026, 7, 5)
    clock.go(dt.date(2026, 6, 20), 10)  # 15 days before: nothing yet
    assert recall_services.recall_reminders_send() == {"early": 0, "due": 0}
    clock.go(dt.date(2026, 6, 21), 10)
    assert recall_services.recall_reminders_send() == {"early": 1, "due": 0}
    assert recall_services.recall_reminders_send() == {"early": 0, "due": 0}
    early = Outbox.objects.get(template_key="followups.recall_early")
    assert (early.channel, early.params["date"], early.params["type"]) == ("sms", "2026-07-05", "洁牙复查")
    # A future booking silences the due-day reminder; once it is cancelled, the reminder goes.
    appt = book(front_desk, branch, person, cleaning, doc, local(dt.date(2026, 7, 8), 10))
    clock.go(dt.date(2026, 7, 5), 10)
    assert recall_services.recall_reminders_send() == {"early": 0, "due": 0}
    from appointments import services as appt_services

    appt_services.appointment_cancel(actor=front_desk, appointment=appt, reason="改期")
    assert recall_services.recall_reminders_send() == {"early": 0, "due": 1}
    assert Outbox.objects.filter(template_key="followups.recall_due").count() == 1


def test_the_preferred_channel_is_wechat_for_a_person_with_a_wechat_id(branch, cleaning, visit_on, clock):
    from tests.members.factories import make_member

    person = make_member(branch, name="李四", wechat_id="oWx-li-si")
    visit_on(person, cleaning, D0)
    clock.go(dt.date(2026, 6, 25), 10)
    recall_services.recall_reminders_send()
    row = Outbox.objects.get(template_key="followups.recall_early")
    assert (row.channel, row.recipient) == ("wechat", "oWx-li-si")


def test_quiet_hours_hold_a_reminder_until_morning(person, cleaning, visit_on, clock):
    visit_on(person, cleaning, D0)
    clock.go(dt.date(2026, 6, 25), 22, 30)
    recall_services.recall_reminders_send()
    row = Outbox.objects.get(template_key="followups.recall_early")
    assert row.not_before == local(dt.date(2026, 6, 26), 8)


def test_a_phone_task_a_week_after_due_without_a_booking_once_and_closed_by_the_visit(
    person, cleaning, visit_on, clock
):
    visit_on(person, cleaning, D0)
    recall = recall_of(person)
    clock.go(dt.date(2026, 7, 11), 2)
    assert recall_services.recall_calls_make() == 0  # six days after due
    clock.go(dt.date(2026, 7, 12), 2)
    assert recall_services.recall_calls_make() == 1
    assert recall_services.recall_calls_make() == 0
    task = Task.objects.get(kind=TaskKind.RECALL)
    assert (task.source_key, task.member_id, task.status) == (
        f"recall:{recall.pk}:2026-07-05:call",
        person.pk,
        TaskStatus.OPEN,
    )
    assert "洁牙复查" in task.title
    assert AuditLog.objects.filter(action="followups.task.created", target_id=str(task.pk)).exists()
    visit_on(person, cleaning, dt.date(2026, 7, 14))
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


def test_a_voided_visit_gives_back_the_bonus_and_the_previous_due_date(
    person, branch, cleaning, visit_on, manager, django_capture_on_commit_callbacks
):
    enrol(person, branch)
    visit_on(person, cleaning, D0)
    second = visit_on(person, cleaning, dt.date(2026, 7, 6))
    recall = recall_of(person)
    assert recall.due_on == dt.date(2027, 1, 6)
    with django_capture_on_commit_callbacks(execute=True):
        checkout.visit_void(actor=manager, visit=second, reason="录错")
    recall.refresh_from_db()
    keep = RecallKeep.objects.get()
    assert keep.voided_at is not None
    assert recall.due_on == dt.date(2026, 7, 5)
    assert PointsEntry.objects.filter(idempotency_key=f"recall:{recall.pk}:2026-07-05:reverse").exists()


def test_children_fluoride_only_up_to_its_age(branch, visit_on):
    from tests.members.factories import make_member

    pedo = ServiceCategoryFactory(code="PEDO", name="儿童牙科")
    fluoride = ServiceItemFactory(code="PE01", name="儿童涂氟", category=pedo, price="100.00")
    RecallType.objects.get(code="fluoride").trigger_services.add(fluoride)
    child = make_member(branch, name="小明", birth_date=dt.date(2018, 3, 1))
    adult = make_member(branch, name="大明", birth_date=dt.date(1990, 3, 1))
    visit_on(child, fluoride, D0)
    visit_on(adult, fluoride, D0 + dt.timedelta(days=1))
    assert list(Recall.objects.values_list("member__name", "recall_type__code")) == [("小明", "fluoride")]


def test_the_nightly_sync_makes_missing_recalls_set_based_and_a_second_run_nothing(
    person, branch, cleaning, visit_on
):
    from tests.members.factories import make_member

    other = make_member(branch, name="王五")
    visit_on(person, cleaning, D0)
    visit_on(other, cleaning, D0 + dt.timedelta(days=2))
    Recall.objects.all().delete()  # as if the listener had never run
    assert recall_services.recalls_sync() == {"created": 2, "replayed": 0}
    assert recall_services.recalls_sync() == {"created": 0, "replayed": 0}
    assert recall_of(other).due_on == dt.date(2026, 7, 7)
    # A later visit the recall did not see (a lost signal) is replayed through the service.
    v = visit_on(person, cleaning, dt.date(2026, 7, 1))
    Recall.objects.filter(member=person).update(last_visit=None, last_visit_on=D0, due_on=dt.date(2026, 7, 5))
    RecallKeep.objects.all().delete()
    assert recall_services.recalls_sync() == {"created": 0, "replayed": 1}
    recall = recall_of(person)
    assert (recall.last_visit_id, recall.due_on) == (v.pk, dt.date(2027, 1, 1))
    assert RecallKeep.objects.get().on_time


def test_a_recall_kept_on_time_counts_toward_keeping_the_tier_at_the_review(
    branch, cleaning, visit_on, clock
):
    from tests.loyalty.factories import buy
    from tests.members.factories import make_member

    person = make_member(branch, name="金卡客")
    clock.go(D0, 9)
    membership = enrol(person, branch)
    buy(person, "12000", "gold")  # 金卡 at once: ¥12,000 (or six visits) a year keeps it
    membership.refresh_from_db()
    assert membership.tier.code == "gold"
    visit_on(person, cleaning, D0 + dt.timedelta(days=1))
    Membership.objects.filter(pk=membership.pk).update(review_on=dt.date(2027, 3, 1))
    # The review's year: five paid cleanings, the last of them keeping its recall on time.
    for day in (dt.date(2026, 3, 10), dt.date(2026, 4, 1), dt.date(2026, 5, 4), dt.date(2026, 6, 1)):
        visit_on(person, cleaning, day)  # each before its window: resets only
    visit_on(person, cleaning, dt.date(2026, 12, 3))  # due 2026-12-01: kept on time
    assert RecallKeep.objects.filter(on_time=True).count() == 1
    _amount, visits = loyalty_services.rolling_stats(
        Member.objects.get(pk=person.pk), until=local(dt.date(2027, 3, 1), 23)
    )
    assert visits == 5  # one short of the six that keep 金卡: the kept recall makes it up
    clock.go(dt.date(2027, 2, 1), 10)
    loyalty_services.tier_reviews_run()  # the warning
    clock.go(dt.date(2027, 3, 1), 10)
    assert loyalty_services.tier_reviews_run() == {"kept": 1}
    membership.refresh_from_db()
    assert membership.tier.code == "gold"


def test_the_profile_tab_and_timeline_show_the_person_s_recalls(
    person, branch, cleaning, visit_on, customer_service
):
    from django.urls import reverse

    from tests.conftest import login

    enrol(person, branch)
    visit_on(person, cleaning, D0)
    visit_on(person, cleaning, dt.date(2026, 7, 6))
    page = login(customer_service).get(reverse("members:detail", args=[person.pk]), {"tab": "recalls"})
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="recall-tab"' in html
    assert "2027-01-06" in html and "洁牙复查" in html
    from members.registry import timeline_for

    entries = [e for e in timeline_for(person, customer_service) if e.kind == "recall"]
    assert len(entries) == 1 and "+100" in entries[0].detail


def test_the_recall_list_and_setting_a_date_by_hand_through_the_page(
    person,
    branch,
    other_branch,
    cleaning,
    visit_on,
    clock,
    customer_service,
    front_desk,
    doctor,
    staff_factory,
    django_assert_max_num_queries,
):
    from django.urls import reverse

    from clinic.models import Role
    from tests.conftest import login
    from tests.members.factories import make_member

    visit_on(person, cleaning, D0)
    for i in range(5):
        visit_on(make_member(branch, name=f"客户{i}"), cleaning, D0 + dt.timedelta(days=i + 1))
    recall = recall_of(person)
    clock.go(dt.date(2026, 7, 1), 10)
    url = reverse("followups:recall_list")
    cs = login(customer_service)
    with django_assert_max_num_queries(14):  # constant: the rows come with their person, type and branch
        page = cs.get(url)
    assert page.status_code == 200 and len(page.context["page"].object_list) == 6
    assert login(doctor).get(url).status_code == 403
    set_url = reverse("followups:recall_due_set", args=[recall.pk])
    assert login(front_desk).post(set_url, {"due_on": "2026-08-01", "reason": "x"}).status_code == 403
    elsewhere = staff_factory(Role.CUSTOMER_SERVICE, [other_branch], username="pd_cs")
    assert login(elsewhere).post(set_url, {"due_on": "2026-08-01", "reason": "x"}).status_code == 404
    assert cs.post(set_url, {"due_on": "2026-08-01", "reason": ""}).status_code == 302
    recall.refresh_from_db()
    assert not recall.manual  # no reason: refused
    assert cs.post(set_url, {"due_on": "2026-08-01", "reason": "八月回国"}).status_code == 302
    recall.refresh_from_db()
    assert (recall.due_on, recall.manual, recall.manual_reason) == (dt.date(2026, 8, 1), True, "八月回国")
