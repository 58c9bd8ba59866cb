"""Availability = shifts (weekly templates + exceptions) − bookings."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments import schedule, services
from appointments.models import ExceptionKind, ShiftTemplate

from .factories import MONDAY, at, book

pytestmark = pytest.mark.django_db


def test_availability_is_the_weekly_shifts_on_a_free_day(doc, branch, clock):
    assert schedule.availability(doc, branch, MONDAY) == [(at(0, 9), at(0, 12)), (at(0, 13), at(0, 18))]


def test_bookings_are_taken_out_of_availability(doc, branch, member, service, front_desk, clock):
    book(front_desk, branch, member, service, doc, at(0, 10))
    assert schedule.availability(doc, branch, MONDAY)[:2] == [
        (at(0, 9), at(0, 10)),
        (at(0, 10, 30), at(0, 12)),
    ]


def test_cancelled_bookings_free_their_time(doc, branch, member, service, front_desk, clock):
    appt = book(front_desk, branch, member, service, doc, at(0, 10))
    services.appointment_cancel(actor=front_desk, appointment=appt, reason="改期")
    assert schedule.availability(doc, branch, MONDAY)[0] == (at(0, 9), at(0, 12))


def test_whole_day_leave_empties_the_day(doc, branch, manager, clock):
    services.shift_exception_add(
        actor=manager, doctor=doc, branch=branch, date=MONDAY, kind=ExceptionKind.LEAVE
    )
    assert schedule.availability(doc, branch, MONDAY) == []
    assert schedule.availability(doc, branch, MONDAY + dt.timedelta(days=1)) != []


def test_partial_leave_cuts_a_hole(doc, branch, manager, clock):
    services.shift_exception_add(
        actor=manager,
        doctor=doc,
        branch=branch,
        date=MONDAY,
        kind=ExceptionKind.LEAVE,
        starts=dt.time(10),
        ends=dt.time(11),
    )
    assert schedule.availability(doc, branch, MONDAY)[:2] == [(at(0, 9), at(0, 10)), (at(0, 11), at(0, 12))]


def test_extra_shift_adds_time(doc, branch, manager, clock):
    services.shift_exception_add(
        actor=manager,
        doctor=doc,
        branch=branch,
        date=MONDAY,
        kind=ExceptionKind.EXTRA,
        starts=dt.time(18),
        ends=dt.time(20),
    )
    assert schedule.availability(doc, branch, MONDAY)[-1] == (at(0, 13), at(0, 20))


def test_template_validity_dates(doc, branch, clock):
    ShiftTemplate.objects.filter(doctor=doc).update(valid_until=MONDAY - dt.timedelta(days=1))
    assert schedule.availability(doc, branch, MONDAY) == []


def test_free_slots_skip_bookings_and_stay_on_the_grid(doc, branch, member, service, front_desk, clock):
    book(front_desk, branch, member, service, doc, at(0, 9))
    slots = schedule.free_slots(doc, branch, duration=dt.timedelta(minutes=30), after=at(0, 8), count=3)
    assert slots == [at(0, 9, 30), at(0, 9, 45), at(0, 10)]


def test_leave_lists_the_affected_bookings(doc, branch, member, service, front_desk, manager, clock):
    appt = book(front_desk, branch, member, service, doc, at(1, 10))
    _exc, affected = services.shift_exception_add(
        actor=manager,
        doctor=doc,
        branch=branch,
        date=MONDAY + dt.timedelta(days=1),
        kind=ExceptionKind.LEAVE,
        reason="病假",
    )
    assert affected == [appt]


def test_the_day_view_offers_no_free_time_that_is_already_past(doc, branch, clock):
    """At 10:07 on the day viewed the morning gap starts at the next slot (10:15); past
    days show no free time at all; future days their whole shifts."""
    from appointments.selectors import day_columns

    clock.move_to(at(1, 10, 7))
    today = day_columns(branch, at(1, 0).date())
    assert [(g.hm, g.hm_end) for g in today[0].free] == [("10:15", "12:00"), ("13:00", "18:00")]
    assert day_columns(branch, at(0, 0).date())[0].free == []
    assert [g.hm for g in day_columns(branch, at(2, 0).date())[0].free] == ["09:00", "13:00"]
