"""Online booking by the member (H5 portal): free slots of a bookable service, booking with
channel H5, cancelling and moving up to the notice, priority slots, and the race for the last
slot decided by the exclusion constraint."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments.errors import AppointmentError
from appointments.models import Appointment, Channel, Status
from appointments.services import online
from clinic.models import AuditLog
from members.actors import member_actor
from tests.members.factories import make_member

from .factories import at, book, make_doctor
from .test_concurrency import race

pytestmark = pytest.mark.django_db


@pytest.fixture
def bookable(service):
    service.bookable_online = True
    service.save(update_fields=["bookable_online"])
    return service


def _book(member, branch, service, slot, **kw):
    return online.member_appointment_book(
        actor=member_actor(member),
        member=member,
        branch=branch,
        service=service,
        start=slot.start,
        doctor_id=slot.doctor_id,
        **kw,
    )


def test_only_services_marked_bookable_are_offered(service, long_service, bookable):
    assert list(online.online_services()) == [bookable]
    assert long_service not in online.online_services()


def test_slots_follow_shifts_and_bookings_and_spread_over_doctors(
    branch, doc, doc2, bookable, member, front_desk, clock
):
    book(front_desk, branch, member, bookable, doc, at(1, 9))
    slots = online.online_slots(service=bookable, branch=branch, start_day=at(1, 0).date(), member=member)
    starts = [s.start for s in slots]
    assert starts[0] == at(1, 9) and slots[0].doctor_id == doc2.pk  # doc is busy at 9:00
    assert at(1, 12) not in starts and at(1, 11, 30) in starts  # the lunch break, 30-minute service
    assert len(starts) == len(set(starts))  # one offer per time


def test_slots_start_after_the_minimum_lead_time(branch, doc, bookable, member, clock):
    slots = online.online_slots(service=bookable, branch=branch, start_day=at(0, 0).date(), member=member)
    assert slots[0].start == at(0, 9)  # now is 08:00, lead 60 minutes
    clock.move_to(at(0, 9, 50))
    slots = online.online_slots(service=bookable, branch=branch, start_day=at(0, 0).date(), member=member)
    assert slots[0].start == at(0, 11)


def test_member_books_with_channel_h5_and_an_audit_row(branch, doc, bookable, member, clock):
    slot = online.online_slots(service=bookable, branch=branch, start_day=at(1, 0).date(), member=member)[0]
    appt = _book(member, branch, bookable, slot)
    assert appt.channel == Channel.H5 and appt.created_by is None and appt.status == Status.BOOKED
    row = AuditLog.objects.get(action="appointments.booking.created", target_id=str(appt.pk))
    assert row.actor is None and row.actor_name.endswith(f"#{member.pk}")


def test_a_service_not_bookable_online_is_refused(branch, doc, service, member, clock):
    with pytest.raises(AppointmentError) as exc:
        online.member_appointment_book(
            actor=member_actor(member),
            member=member,
            branch=branch,
            service=service,
            start=at(1, 9),
            doctor_id=doc.pk,
        )
    assert exc.value.field == "service"


def test_a_member_may_not_book_for_someone_else(branch, doc, bookable, member, clock):
    other = make_member(branch, name="李四", phone="13900002222")
    with pytest.raises(AppointmentError) as exc:
        online.member_appointment_book(
            actor=member_actor(other),
            member=member,
            branch=branch,
            service=bookable,
            start=at(1, 9),
            doctor_id=doc.pk,
        )
    assert exc.value.code == "forbidden"


def test_a_taken_slot_says_so(branch, doc, bookable, member, front_desk, clock):
    slot = online.online_slots(service=bookable, branch=branch, start_day=at(1, 0).date(), member=member)[0]
    book(front_desk, branch, make_member(branch, name="王五"), bookable, doc, slot.start)
    with pytest.raises(AppointmentError) as exc:
        _book(member, branch, bookable, slot)
    assert exc.value.code == "taken"


def test_too_soon_and_too_far_ahead_are_refused(branch, doc, bookable, member, clock):
    actor = member_actor(member)
    for start, code in ((at(0, 8, 30), "too_soon"), (at(20, 10), "too_far")):
        with pytest.raises(AppointmentError) as exc:
            online.member_appointment_book(
                actor=actor, member=member, branch=branch, service=bookable, start=start, doctor_id=doc.pk
            )
        assert exc.value.code == code


def test_upcoming_online_bookings_are_capped(branch, doc, bookable, member, settings, clock):
    settings.APPOINTMENTS_ONLINE_MAX_UPCOMING = 1
    slots = online.online_slots(service=bookable, branch=branch, start_day=at(1, 0).date(), member=member)
    _book(member, branch, bookable, slots[0])
    with pytest.raises(AppointmentError) as exc:
        _book(member, branch, bookable, slots[3])
    assert exc.value.code == "limit"


def test_cancel_up_to_the_notice_then_too_late(branch, doc, bookable, member, clock):
    slots = online.online_slots(service=bookable, branch=branch, start_day=at(0, 0).date(), member=member)
    appt = _book(member, branch, bookable, next(s for s in slots if s.start == at(0, 11)))
    clock.move_to(at(0, 9, 30))  # 90 minutes before: inside the 2-hour notice
    with pytest.raises(AppointmentError) as exc:
        online.member_appointment_cancel(actor=member_actor(member), appointment=appt)
    assert exc.value.code == "too_late" and "2" in exc.value.message
    assert not online.can_change(appt)
    clock.move_to(at(0, 8, 30))
    online.member_appointment_cancel(actor=member_actor(member), appointment=appt)
    appt.refresh_from_db()
    assert appt.status == Status.CANCELLED and appt.cancel_reason


def test_the_notice_is_a_setting(branch, doc, bookable, member, settings, clock):
    settings.APPOINTMENTS_MEMBER_NOTICE_MINUTES = 24 * 60
    slot = online.online_slots(service=bookable, branch=branch, start_day=at(0, 0).date(), member=member)[5]
    appt = _book(member, branch, bookable, slot)
    with pytest.raises(AppointmentError) as exc:
        online.member_appointment_cancel(actor=member_actor(member), appointment=appt)
    assert exc.value.code == "too_late"


def test_reschedule_moves_to_another_free_slot(branch, doc, bookable, member, clock):
    slots = online.online_slots(service=bookable, branch=branch, start_day=at(1, 0).date(), member=member)
    appt = _book(member, branch, bookable, slots[0])
    later = slots[4]
    online.member_appointment_reschedule(
        actor=member_actor(member), appointment=appt, start=later.start, doctor_id=later.doctor_id
    )
    appt.refresh_from_db()
    assert appt.start == later.start and appt.end == later.start + dt.timedelta(minutes=30)


def test_another_member_cannot_cancel(branch, doc, bookable, member, clock):
    slot = online.online_slots(service=bookable, branch=branch, start_day=at(1, 0).date(), member=member)[0]
    appt = _book(member, branch, bookable, slot)
    other = make_member(branch, name="李四", phone="13900002222")
    with pytest.raises(AppointmentError):
        online.member_appointment_cancel(actor=member_actor(other), appointment=appt)


def test_held_back_slots_only_for_priority_tiers(branch, doc, bookable, member, settings, clock, monkeypatch):
    settings.APPOINTMENTS_PRIORITY_HOLD_TIMES = ["09:00"]
    day = at(5, 0).date()  # more than 48 hours ahead: still held back
    starts = [
        s.start for s in online.online_slots(service=bookable, branch=branch, start_day=day, member=member)
    ]
    assert at(5, 9) not in starts
    monkeypatch.setattr(online, "member_has_priority_booking", lambda m: True)
    slots = online.online_slots(service=bookable, branch=branch, start_day=day, member=member)
    assert slots[0].start == at(5, 9) and slots[0].priority


def test_bad_slot_key_is_a_clear_error():
    for key in ("", "abc", "1-", "99999999999999999999-1"):
        with pytest.raises(AppointmentError):
            online.parse_slot_key(key)


@pytest.mark.django_db(transaction=True)
def test_two_members_booking_the_last_slot_at_once_exactly_one_succeeds(branch, service, clock):
    service.bookable_online = True
    service.save(update_fields=["bookable_online"])
    doctor = make_doctor(branch, "doc_only", "独医生", shifts=((9, 10),), days=range(7))
    # The day's only free time: 09:30 (09:00 is taken already).
    book(None, branch, make_member(branch, name="先到"), service, doctor, at(1, 9))
    slots = online.online_slots(service=service, branch=branch, start_day=at(1, 0).date())
    assert [s.start for s in slots] == [at(1, 9, 30)]
    people = [make_member(branch, name=f"抢号{i}", phone=f"1390000{i:04d}") for i in range(2)]
    results = race(lambda m: _book(m, branch, service, slots[0]), [(m,) for m in people])
    assert sorted(results) == ["ok", "taken"], results
    assert Appointment.objects.filter(doctor=doctor, start=at(1, 9, 30)).count() == 1
