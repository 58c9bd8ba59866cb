"""Far-off dates never crash a schedule view, and no booking, move or leave lands on one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from appointments.models import Appointment, ShiftException

from .factories import at, book

pytestmark = pytest.mark.django_db

FAR = ["9999-12-31", "0001-01-01", "2026-02-30", "abc"]


@pytest.fixture
def appt(doc, branch, member, service, front_desk, clock):
    return book(front_desk, branch, member, service, doc, at(0, 10))


@pytest.mark.parametrize("value", FAR)
@pytest.mark.parametrize(
    "name", ["appointments:day", "appointments:week", "appointments:list", "appointments:slots"]
)
def test_schedule_views_fall_back_to_today_on_a_far_off_date(
    client_for, front_desk, appt, doc, service, name, value
):
    r = client_for(front_desk).get(reverse(name), {"date": value, "doctor": doc.pk, "service": service.pk})
    assert r.status_code == 200


@pytest.mark.parametrize("start", ["9999-12-31T23:59:00+00:00", "0001-01-01T00:00", "x"])
def test_booking_form_ignores_a_far_off_start_in_the_link(client_for, front_desk, doc, clock, start):
    assert (
        client_for(front_desk).get(reverse("appointments:book"), {"start": start, "doctor": "²"}).status_code
        == 200
    )


def test_a_booking_past_the_horizon_or_in_the_past_is_refused(
    client_for, front_desk, member, service, doc, clock, settings
):
    settings.CLINIC_BOOKING_HORIZON_DAYS = 30
    client = client_for(front_desk)
    for day in ("9999-12-31", "2027-01-07", "2026-12-06"):
        r = client.post(
            reverse("appointments:book"),
            {
                "member": member.pk,
                "service": service.pk,
                "doctor": doc.pk,
                "date": day,
                "time": "10:00",
                "channel": "phone",
            },
        )
        assert r.status_code == 200 and "date" in r.context["form"].errors, day
    assert not Appointment.objects.exists()
    r = client.post(
        reverse("appointments:book"),
        {
            "member": member.pk,
            "service": service.pk,
            "doctor": doc.pk,
            "date": "2027-01-06",
            "time": "10:00",
            "channel": "phone",
        },
    )
    assert r.status_code == 302 and Appointment.objects.count() == 1


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
def test_move_and_bulk_move_refuse_far_off_dates(client_for, manager, appt, doc, value):
    client = client_for(manager)
    r = client.post(
        reverse("appointments:move", args=[appt.pk]), {"doctor": doc.pk, "date": value, "time": "10:00"}
    )
    assert r.status_code == 200 and "date" in r.context["form"].errors
    r = client.post(reverse("appointments:bulk_move"), {"appointments": [appt.pk], "date": value})
    assert r.status_code in (200, 302)
    appt.refresh_from_db()
    assert appt.start == at(0, 10)


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
def test_leave_on_a_far_off_date_is_refused(client_for, manager, doc, clock, value):
    r = client_for(manager).post(
        reverse("appointments:leave"), {"doctor": doc.pk, "date": value, "kind": "leave"}
    )
    assert r.status_code == 200 and "date" in r.context["form"].errors
    assert not ShiftException.objects.exists()
