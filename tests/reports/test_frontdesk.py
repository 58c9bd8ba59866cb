"""The front desk's start page: today's bookings by state, who is waiting and for how long,
arrivals still to check out, people booked today who are due a recall or a follow-up; the
front desk lands on it after signing in; other branches' rows never show."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from appointments.models import Appointment, Visit
from followups.models import Task
from followups.recall_models import Recall, RecallType
from reports import frontdesk
from tests.appointments.factories import make_doctor
from tests.clinic.factories import ServiceItemFactory
from tests.conftest import PASSWORD
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk_world(branch, other_branch):
    item = ServiceItemFactory(code="FD01", name="补牙", price="200.00")
    now = timezone.now()
    day_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    doctor = make_doctor(branch, "fd_doc")
    people = {}
    for i, status in enumerate(
        ["booked", "arrived", "arrived", "in_treatment", "completed", "completed", "cancelled"]
    ):
        m = make_member(branch, name=f"前台{i}")
        # Between local midnight and now, whatever the time the test runs.
        start = day_start + (now - day_start) * (i + 1) / 9
        a = Appointment.objects.create(
            branch=branch,
            member=m,
            service=item,
            doctor=doctor,
            start=start,
            end=start + (now - day_start) / 10,
            channel="phone",
            status=status,
            arrived_at=start if i == 1 else now if status != "booked" and status != "cancelled" else None,
        )
        people[i] = (m, a)
    # 5 checked out; 4 completed but its visit still open.
    for i, state in ((4, "open"), (5, "checked_out")):
        m, a = people[i]
        Visit.objects.create(
            branch=branch,
            member=m,
            doctor=doctor,
            appointment=a,
            opened_at=a.start,
            status=state,
            amount_due=Decimal(200),
            amount_paid=Decimal(200) if state == "checked_out" else Decimal(0),
            checked_out_at=now if state == "checked_out" else None,
        )
    rtype = RecallType.objects.first() or RecallType.objects.create(
        code="fd-clean", name="洁牙复查", interval_months=6
    )
    Recall.objects.create(member=people[0][0], recall_type=rtype, branch=branch, due_on=timezone.localdate())
    Task.objects.create(
        kind="followup",
        member=people[1][0],
        branch=branch,
        title="术后回访",
        due_on=timezone.localdate(),
        source_key="fd-test-1",
    )
    od = make_doctor(other_branch, "fd_doc2")
    m = make_member(other_branch, name="浦东候诊")
    Appointment.objects.create(
        branch=other_branch,
        member=m,
        service=item,
        doctor=od,
        start=now,
        end=now + dt.timedelta(minutes=5),
        channel="phone",
        status="arrived",
        arrived_at=now,
    )
    return people


def test_board_counts_waiting_checkout_and_due(desk_world, branch):
    data = frontdesk.front_desk_board(branch)
    states = {code: n for code, _label, n in data["states"]}
    assert states["arrived"] == 2 and states["completed"] == 2 and states["cancelled"] == 1
    assert data["total"] == 6
    assert [a.member.name for a in data["waiting"]] == ["前台1", "前台2"]  # longest wait first
    assert data["waiting"][0].waited_minutes >= data["waiting"][1].waited_minutes
    assert sorted(a.member.name for a in data["to_check_out"]) == ["前台1", "前台2", "前台3", "前台4"]
    assert sorted(d.appointment.member.name for d in data["due"]) == ["前台0", "前台1"]


def test_page_renders_scoped_to_the_branch(desk_world, front_desk, client_for):
    html = client_for(front_desk).get(reverse("reports:frontdesk")).content.decode()
    assert "前台1" in html and "浦东候诊" not in html
    assert 'data-testid="waited"' in html and "术后回访" in html


def test_front_desk_lands_on_it_and_the_manager_on_the_dashboard(front_desk, manager):
    r = Client().post(reverse("login"), {"username": front_desk.username, "password": PASSWORD})
    assert r["Location"] == reverse("reports:frontdesk")
    r = Client().post(reverse("login"), {"username": manager.username, "password": PASSWORD})
    assert r["Location"] == reverse("reports:dashboard")


def test_roles_without_it_are_refused(doctor, client_for, client):
    assert client_for(doctor).get(reverse("reports:frontdesk")).status_code == 403
    assert client.get(reverse("reports:frontdesk")).status_code == 302


def test_query_count_is_bounded(desk_world, front_desk, client_for, django_assert_max_num_queries):
    client = client_for(front_desk)
    with django_assert_max_num_queries(30):
        client.get(reverse("reports:frontdesk"))
