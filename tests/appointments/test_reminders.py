"""Reminders: stored with due times, swept into the outbox once per window."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments import services
from appointments.models import Reminder, ReminderStatus
from clinic.notifications.models import Outbox

from .factories import at, book

pytestmark = pytest.mark.django_db


def test_a_booking_two_days_ahead_gets_24h_and_2h_reminders(doc, branch, member, service, front_desk, clock):
    appt = book(front_desk, branch, member, service, doc, at(2, 10))
    assert sorted(appt.reminders.values_list("offset_minutes", "due_at")) == [
        (120, at(2, 8)),
        (1440, at(1, 10)),
    ]


def test_a_booking_inside_the_24h_window_gets_only_the_2h_reminder(
    doc, branch, member, service, front_desk, clock
):
    appt = book(front_desk, branch, member, service, doc, at(0, 15))
    assert list(appt.reminders.values_list("offset_minutes", flat=True)) == [120]


def test_a_booking_inside_every_window_gets_one_reminder_now(doc, branch, member, service, front_desk, clock):
    appt = book(front_desk, branch, member, service, doc, at(0, 9, 30))
    assert list(appt.reminders.values_list("due_at", flat=True)) == [at(0, 8)]


def test_no_reminder_when_it_starts_within_the_minimum_lead(doc, branch, member, service, front_desk, clock):
    clock.move_to(at(0, 9, 5))
    appt = book(front_desk, branch, member, service, doc, at(0, 9, 30))
    assert not appt.reminders.exists()


def test_the_offsets_are_configurable(settings, doc, branch, member, service, front_desk, clock):
    settings.APPOINTMENTS_REMINDER_OFFSETS = [48 * 60]
    appt = book(front_desk, branch, member, service, doc, at(3, 10))
    assert list(appt.reminders.values_list("offset_minutes", flat=True)) == [2880]


def test_the_sweep_queues_each_reminder_once(doc, branch, member, service, front_desk, clock):
    appt = book(front_desk, branch, member, service, doc, at(2, 10))
    assert services.reminders_sweep(now=at(1, 9)) == {"queued": 0, "skipped": 0}
    assert services.reminders_sweep(now=at(1, 10)) == {"queued": 1, "skipped": 0}
    assert services.reminders_sweep(now=at(1, 10, 1)) == {"queued": 0, "skipped": 0}
    assert services.reminders_sweep(now=at(2, 8)) == {"queued": 1, "skipped": 0}
    assert services.reminders_sweep(now=at(2, 8, 5)) == {"queued": 0, "skipped": 0}
    rows = Outbox.objects.filter(template_key="appointments.reminder")
    assert rows.count() == 2
    assert rows.first().recipient == "+8613900001111"
    assert "陈医生" in rows.first().params["doctor"]
    assert set(appt.reminders.values_list("status", flat=True)) == {ReminderStatus.QUEUED}
    assert appt.events.filter(action="reminded").count() == 2


def test_a_rerun_after_a_crash_does_not_send_twice(doc, branch, member, service, front_desk, clock):
    appt = book(front_desk, branch, member, service, doc, at(2, 10))
    services.reminders_sweep(now=at(1, 10))
    # The worker died after enqueueing but before marking: the outbox key stops a second message.
    Reminder.objects.filter(appointment=appt).update(status=ReminderStatus.PENDING)
    services.reminders_sweep(now=at(1, 10, 1))
    assert Outbox.objects.filter(template_key="appointments.reminder").count() == 1


def test_cancelled_and_moved_bookings_are_not_reminded(doc, branch, member, service, front_desk, clock):
    a = book(front_desk, branch, member, service, doc, at(2, 10))
    b = book(front_desk, branch, member, service, doc, at(2, 11))
    services.appointment_cancel(actor=front_desk, appointment=a, reason="不来了")
    services.appointment_move(actor=front_desk, appointment=b, start=at(3, 11), notify=False)
    services.reminders_sweep(now=at(2, 9))
    assert not Outbox.objects.filter(template_key="appointments.reminder").exists()


def test_a_person_without_phone_is_skipped_with_a_note(doc, branch, service, front_desk, clock):
    from tests.members.factories import make_member

    nobody = make_member(branch, name="无电话", phone="")
    appt = book(front_desk, branch, nobody, service, doc, at(2, 10))
    assert services.reminders_sweep(now=at(1, 10)) == {"queued": 0, "skipped": 1}
    r = appt.reminders.get(offset_minutes=1440)
    assert r.status == ReminderStatus.SKIPPED and r.note


def test_sweep_reads_a_fixed_number_of_queries(
    doc, branch, member, service, front_desk, clock, django_assert_max_num_queries
):
    for hour in (9, 10, 11, 13, 14):
        book(front_desk, branch, member, service, doc, at(2, hour))
    with django_assert_max_num_queries(60):
        assert services.reminders_sweep(now=at(2, 0))["queued"] == 5
    assert dt.timedelta(0) == dt.timedelta(0)
