"""booked → confirmed → arrived → in treatment → completed; cancelled; no-show; refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments import services
from appointments.errors import AppointmentError
from appointments.models import Status
from clinic.models import AuditLog
from members.registry import timeline_for

from .factories import at, book

pytestmark = pytest.mark.django_db


@pytest.fixture
def appt(doc, branch, member, service, front_desk, clock):
    return book(front_desk, branch, member, service, doc, at(0, 10))


def test_the_happy_path_is_audited_and_on_the_timeline(appt, front_desk, doctor, member):
    appt = services.appointment_confirm(actor=front_desk, appointment=appt)
    appt = services.appointment_check_in(actor=front_desk, appointment=appt)
    appt = services.appointment_start_treatment(actor=front_desk, appointment=appt)
    assert appt.visit.status == "open"
    appt = services.appointment_complete(actor=front_desk, appointment=appt)
    assert appt.status == Status.COMPLETED
    assert appt.confirmed_at and appt.arrived_at and appt.treatment_started_at and appt.completed_at
    actions = set(
        AuditLog.objects.filter(
            target_id=str(appt.pk), action__startswith="appointments.booking"
        ).values_list("action", flat=True)
    )
    assert {
        "appointments.booking.created",
        "appointments.booking.confirmed",
        "appointments.booking.arrived",
        "appointments.booking.treatment_started",
        "appointments.booking.completed",
    } <= actions
    kinds = [e.kind for e in timeline_for(member, front_desk)]
    for kind in (
        "appointment.booked",
        "appointment.confirm",
        "appointment.arrive",
        "appointment.start_treatment",
        "appointment.complete",
    ):
        assert kind in kinds


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        ([], "start_treatment"),
        ([], "complete"),
        (["confirm"], "confirm"),
        (["arrive"], "confirm"),
        (["arrive", "start_treatment"], "cancel"),
        (["arrive", "start_treatment", "complete"], "arrive"),
        (["cancel"], "arrive"),
        (["cancel"], "confirm"),
        (["no_show"], "confirm"),
    ],
)
def test_refused_transitions(appt, front_desk, steps, refused):
    for step in steps:
        appt = services._transition(actor=front_desk, appointment=appt, action=step, detail="x")
    with pytest.raises(AppointmentError) as err:
        services._transition(actor=front_desk, appointment=appt, action=refused, detail="x")
    assert err.value.code == "state"


def test_cancel_records_who_and_why_and_tells_the_person(appt, front_desk):
    from clinic.notifications.models import Outbox

    with pytest.raises(AppointmentError):
        services.appointment_cancel(actor=front_desk, appointment=appt, reason=" ")
    appt = services.appointment_cancel(actor=front_desk, appointment=appt, reason="患者出差")
    assert (appt.status, appt.cancelled_by, appt.cancel_reason) == (Status.CANCELLED, front_desk, "患者出差")
    assert not appt.reminders.filter(status="pending").exists()
    assert Outbox.objects.filter(template_key="appointments.cancelled").count() == 1


def test_no_show_job_marks_after_the_grace_period_only(appt, doc, branch, member, service, front_desk, clock):
    other = book(front_desk, branch, member, service, doc, at(0, 11))
    assert services.no_shows_mark(now=at(0, 10, 29)) == 0
    assert services.no_shows_mark(now=at(0, 10, 31)) == 1
    appt.refresh_from_db()
    other.refresh_from_db()
    assert appt.status == Status.NO_SHOW and other.status == Status.BOOKED
    assert AuditLog.objects.filter(action="appointments.booking.no_show", target_id=str(appt.pk)).exists()
    assert services.no_shows_mark(now=at(0, 10, 45)) == 0  # idempotent


def test_no_show_leaves_arrived_people_alone(appt, front_desk):
    services.appointment_check_in(actor=front_desk, appointment=appt)
    assert services.no_shows_mark(now=appt.start + dt.timedelta(hours=1)) == 0


def test_a_late_arrival_after_no_show_still_checks_in(appt, front_desk):
    services.no_shows_mark(now=appt.start + dt.timedelta(minutes=40))
    appt = services.appointment_check_in(actor=front_desk, appointment=appt)
    assert appt.status == Status.ARRIVED


def test_beat_tasks_run(appt, clock):
    from appointments import tasks

    assert tasks.mark_no_shows.apply().get() == 0
    assert tasks.send_reminders.apply().get() == {"queued": 1, "skipped": 0}  # booked inside every window
