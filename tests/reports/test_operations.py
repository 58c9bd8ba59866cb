"""Operations analysis: waits from arrival to treatment by hour and doctor, chair utilisation
against opening hours, no-shows by channel and weekday; the page renders for a manager."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Appointment
from clinic.models import OpeningHours
from reports import operations
from tests.appointments.factories import make_chair, make_doctor
from tests.clinic.factories import ServiceItemFactory
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_monday(branch):
    """Last week's Monday at the branch: open 9–17 on Mondays, one chair, three bookings."""
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday() + 7)
    OpeningHours.objects.update_or_create(
        branch=branch, weekday=0, defaults={"opens": dt.time(9), "closes": dt.time(17)}
    )
    chair = make_chair(branch, "OPS1", "运营1号椅")
    doctor = make_doctor(branch, "ops_doc", "王医生")
    item = ServiceItemFactory(code="OP01", name="检查", price="100.00")

    def at(hour, minute=0):
        return timezone.make_aware(dt.datetime.combine(monday, dt.time(hour, minute)))

    for i, (status, arrive, start_treat, channel) in enumerate(
        (
            ("completed", at(9, 0), at(9, 10), "phone"),
            ("completed", at(9, 30), at(10, 0), "phone"),
            ("no_show", None, None, "wechat"),
        )
    ):
        start = at(9 + i)
        Appointment.objects.create(
            branch=branch,
            member=make_member(branch, name=f"运营{i}", phone=f"+8613500{i:06d}"),
            service=item,
            doctor=doctor,
            chair=chair,
            start=start,
            end=start + dt.timedelta(hours=1),
            channel=channel,
            status=status,
            arrived_at=arrive,
            treatment_started_at=start_treat,
        )
    return monday


def test_waits_chairs_and_no_shows(branch, a_monday):
    lo, hi = a_monday, a_monday + dt.timedelta(days=1)
    w = operations.waiting(branch, lo, hi)
    assert w["overall"]["n"] == 2 and w["overall"]["median"] == Decimal("20.0")
    assert [(r["hour"], r["n"]) for r in w["by_hour"]] == [(9, 2)]
    assert w["by_doctor"][0]["doctor"] == "王医生"
    use = operations.chair_use(branch, lo, hi, today=timezone.localdate())
    monday = use["rows"][0]
    # Two bookings hold the chair (the no-show frees it): 2 h of 8 open hours.
    assert (monday["booked_hours"], monday["open_hours"], monday["rate"]) == (
        Decimal("2.0"),
        Decimal("8.0"),
        Decimal("0.2500"),
    )
    shows = operations.no_shows(branch, lo, hi)
    assert shows["channels"] == {"phone": [0, 2], "wechat": [1, 1]}
    assert shows["weekdays"] == {0: [1, 3]}


def test_the_page_for_a_manager_and_not_for_front_desk(branch, manager, front_desk, client_for, a_monday):
    page = client_for(manager).get(reverse("reports:operations") + "?period=last_30").content.decode()
    assert "运营分析" in page
    assert "王医生" in page  # the waits by doctor
    assert 'data-testid="chair-use"' in page and '<td class="text-end">2.0</td>' in page
    assert client_for(manager).get(reverse("reports:operations") + "?period=x").status_code == 200
    assert client_for(front_desk).get(reverse("reports:operations")).status_code == 403
