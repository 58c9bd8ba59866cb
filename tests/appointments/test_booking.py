"""Booking: the rules, the friendly clash error with free slots, overbooking, held-back slots."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments import services
from appointments.errors import AppointmentError
from appointments.models import Appointment, Status
from clinic.models import AuditLog
from members.models import Member, Stage
from tests.members.factories import make_member

from .factories import at, book, make_chair

pytestmark = pytest.mark.django_db


def test_book_defaults_the_end_from_the_catalog_and_audits(doc, branch, member, service, front_desk, clock):
    appt = book(front_desk, branch, member, service, doc, at(0, 10))
    assert appt.end == at(0, 10, 30)
    assert appt.status == Status.BOOKED
    assert AuditLog.objects.filter(action="appointments.booking.created", target_id=str(appt.pk)).exists()
    assert appt.events.filter(action="booked").exists()


def test_book_a_new_lead_by_name_and_phone(doc, branch, service, front_desk, clock):
    appt = services.appointment_book(
        actor=front_desk,
        branch=branch,
        service=service,
        doctor=doc,
        start=at(0, 10),
        channel="wechat",
        lead_name="王小明",
        lead_phone="13800138000",
    )
    lead = Member.objects.get(pk=appt.member_id)
    assert (lead.name, lead.stage, lead.phone) == ("王小明", Stage.LEAD, "+8613800138000")


def test_a_clash_is_refused_in_plain_words_with_free_slots(doc, branch, member, service, front_desk, clock):
    book(front_desk, branch, member, service, doc, at(0, 10))
    other = make_member(branch, name="李四")
    with pytest.raises(AppointmentError) as err:
        book(front_desk, branch, other, service, doc, at(0, 10, 15))
    assert err.value.code == "clash"
    assert at(0, 10, 15) not in err.value.slots
    assert "陈医生" in str(err.value.message)


def test_clash_suggestions_start_near_the_asked_time_each_once(
    doc, branch, member, service, front_desk, clock
):
    """Asked for 16:00 while 16:00–16:30 is taken: the free times offered are the ones around
    16:00 (not the morning's first ones), in time order, none twice."""
    book(front_desk, branch, member, service, doc, at(0, 16))
    with pytest.raises(AppointmentError) as err:
        book(front_desk, branch, make_member(branch, name="李四"), service, doc, at(0, 16))
    slots = err.value.slots
    assert slots == sorted(set(slots)) and len(slots) == 6
    assert all(abs(s - at(0, 16)) <= dt.timedelta(hours=1) for s in slots), slots
    assert at(0, 15, 30) in slots and at(0, 16, 30) in slots and at(0, 9) not in slots


def test_the_same_chair_cannot_be_double_booked(doc, doc2, branch, member, service, front_desk, clock):
    chair = make_chair(branch)
    book(front_desk, branch, member, service, doc, at(0, 10), chair=chair)
    with pytest.raises(AppointmentError) as err:
        book(front_desk, branch, make_member(branch, name="李四"), service, doc2, at(0, 10), chair=chair)
    assert err.value.code == "clash"


def test_back_to_back_bookings_are_fine(doc, branch, member, service, front_desk, clock):
    book(front_desk, branch, member, service, doc, at(0, 10))
    book(front_desk, branch, make_member(branch, name="李四"), service, doc, at(0, 10, 30))
    assert Appointment.objects.count() == 2


def test_the_database_refuses_an_overlap_that_skips_the_service(
    doc, branch, member, service, front_desk, clock
):
    from django.db import IntegrityError, transaction

    appt = book(front_desk, branch, member, service, doc, at(0, 10))
    clone = Appointment(
        branch=branch,
        member=member,
        service=service,
        doctor=doc,
        start=at(0, 10, 10),
        end=at(0, 10, 40),
        channel="phone",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()
    # A cancelled booking holds nothing.
    Appointment.objects.filter(pk=appt.pk).update(status=Status.CANCELLED)
    clone.save()


def test_off_shift_is_refused(doc, branch, member, service, front_desk, clock):
    with pytest.raises(AppointmentError) as err:
        book(front_desk, branch, member, service, doc, at(0, 12, 15))
    assert err.value.code == "off_shift"


def test_past_time_is_refused(doc, branch, member, service, front_desk, clock):
    with pytest.raises(AppointmentError):
        book(front_desk, branch, member, service, doc, at(0, 7))


def test_a_doctor_of_another_branch_is_refused(doc, other_branch, member, service, front_desk, clock):
    with pytest.raises(AppointmentError) as err:
        book(front_desk, other_branch, member, service, doc, at(0, 10))
    assert err.value.field == "doctor"


def test_override_needs_the_permission(doc, branch, member, service, front_desk, clock):
    book(front_desk, branch, member, service, doc, at(0, 10))
    with pytest.raises(AppointmentError) as err:
        book(front_desk, branch, make_member(branch, name="李四"), service, doc, at(0, 10), override=True)
    assert err.value.code == "forbidden"


def test_manager_overbooks_and_it_is_audited(doc, branch, member, service, front_desk, manager, clock):
    book(front_desk, branch, member, service, doc, at(0, 10))
    appt = book(manager, branch, make_member(branch, name="李四"), service, doc, at(0, 10), override=True)
    assert appt.overbooked
    assert AuditLog.objects.filter(action="appointments.booking.overbooked", target_id=str(appt.pk)).exists()
    # An overbooking does not hide the slot from the constraint for everybody else.
    with pytest.raises(AppointmentError):
        book(front_desk, branch, make_member(branch, name="王五"), service, doc, at(0, 10))


def test_held_back_slots_need_priority_or_wait_until_release(
    settings, doc, branch, member, service, front_desk, clock, monkeypatch
):
    settings.APPOINTMENTS_PRIORITY_HOLD_TIMES = ["09:00"]
    settings.APPOINTMENTS_PRIORITY_RELEASE_HOURS = 48
    with pytest.raises(AppointmentError) as err:
        book(front_desk, branch, member, service, doc, at(3, 9))
    assert err.value.code == "held_back"
    book(front_desk, branch, member, service, doc, at(1, 9))  # inside 48 h: released
    monkeypatch.setattr("appointments.services.booking.member_has_priority_booking", lambda m: True)
    appt = book(front_desk, branch, member, service, doc, at(4, 9))
    assert appt.priority_slot


def test_move_reschedules_reminders_and_tells_the_person(
    doc, doc2, branch, member, service, front_desk, clock
):
    appt = book(front_desk, branch, member, service, doc, at(2, 10))
    moved = services.appointment_move(
        actor=front_desk, appointment=appt, start=at(2, 15), doctor=doc2, reason="医生调整"
    )
    assert (moved.start, moved.doctor) == (at(2, 15), doc2)
    assert set(moved.reminders.values_list("status", flat=True)) == {"cancelled", "pending"}
    assert moved.reminders.filter(status="pending").first().for_start == at(2, 15)
    from clinic.notifications.models import Outbox

    assert Outbox.objects.filter(template_key="appointments.moved").count() == 1


def test_move_into_a_clash_is_refused(doc, branch, member, service, front_desk, clock):
    book(front_desk, branch, member, service, doc, at(0, 10))
    appt = book(front_desk, branch, make_member(branch, name="李四"), service, doc, at(0, 11))
    with pytest.raises(AppointmentError):
        services.appointment_move(actor=front_desk, appointment=appt, start=at(0, 10))
    appt.refresh_from_db()
    assert appt.start == at(0, 11)


def test_bulk_move_to_another_doctor(doc, doc2, branch, member, service, front_desk, manager, clock):
    a = book(front_desk, branch, member, service, doc, at(1, 10))
    b = book(front_desk, branch, make_member(branch, name="李四"), service, doc, at(1, 11))
    _e, affected = services.shift_exception_add(
        actor=manager, doctor=doc, branch=branch, date=a.start.date(), kind="leave", reason="培训"
    )
    moved, failed = services.appointments_bulk_move(
        actor=manager, appointments=affected, doctor=doc2, reason="培训"
    )
    assert len(moved) == 2 and not failed
    assert set(Appointment.objects.filter(pk__in=[a.pk, b.pk]).values_list("doctor_id", flat=True)) == {
        doc2.pk
    }


def test_bulk_move_to_another_date_reports_failures(doc, branch, member, service, front_desk, manager, clock):
    a = book(front_desk, branch, member, service, doc, at(1, 10))
    book(front_desk, branch, make_member(branch, name="李四"), service, doc, at(2, 10))
    moved, failed = services.appointments_bulk_move(
        actor=manager, appointments=[a], date=at(2, 10).date() + dt.timedelta(days=0)
    )
    assert not moved and failed[0][0] == a


def test_a_deadlock_between_concurrent_inserts_is_retried(
    monkeypatch, doc, branch, member, service, front_desk, clock
):
    """Two inserts that clash on both constraints can deadlock; the loser retries from its savepoint."""
    from django.db import OperationalError
    from psycopg.errors import DeadlockDetected

    original, calls = Appointment.save, []

    def deadlock_once(self, *args, **kwargs):
        if not calls:
            calls.append("deadlock")
            err = OperationalError("deadlock detected")
            err.__cause__ = DeadlockDetected("deadlock detected")
            raise err
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Appointment, "save", deadlock_once)
    appt = book(front_desk, branch, member, service, doc, at(0, 10))
    assert appt.pk and calls == ["deadlock"]
