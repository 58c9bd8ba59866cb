"""The branch manager's dashboard: scoped to the branch, every tile's drill-down lists as many
rows as the tile says, phones masked without reveal_contact, landing page after sign-in."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from appointments.models import Appointment, Visit
from reports import dashboard, drill, rollups
from tests.appointments.factories import make_doctor
from tests.clinic.factories import ServiceItemFactory
from tests.conftest import PASSWORD
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def day_world(branch, other_branch):
    item = ServiceItemFactory(code="RD01", name="洁牙", price="300.00")
    now = timezone.localtime()
    for b_index, br in enumerate((branch, other_branch)):
        doctor = make_doctor(br, f"rd_doc{b_index}")
        for i in range(3 + b_index):
            m = make_member(br, name=f"看板{b_index}{i}", phone=f"+86139000{b_index}{i:04d}")
            start = now.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(hours=8 + i)
            appt = Appointment.objects.create(
                branch=br,
                member=m,
                service=item,
                doctor=doctor,
                start=start,
                end=start + dt.timedelta(minutes=30),
                channel="phone",
                status=["completed", "arrived", "no_show", "booked"][i % 4],
                arrived_at=start if i % 4 in (0, 1) else None,
            )
            if i % 4 == 0:
                Visit.objects.create(
                    branch=br,
                    member=m,
                    doctor=doctor,
                    appointment=appt,
                    opened_at=start,
                    status="checked_out",
                    amount_due=Decimal(300),
                    amount_paid=Decimal(300),
                    checked_out_at=start,
                )
    return branch


def _tile(html: str, code: str) -> str:
    m = re.search(rf'data-testid="tile-{code}".*?fs-4 fw-semibold text-body">([^<]+)<', html, re.S)
    return m.group(1).strip()


def test_manager_sees_their_branch_today_and_each_tile_drills_to_as_many_rows(day_world, manager, client_for):
    client = client_for(manager)
    html = client.get(reverse("reports:dashboard")).content.decode()
    assert (
        'id="daily-chart"' in html and 'id="daily-chart-data"' in html and 'data-testid="chart-table"' in html
    )
    assert "暂无数据" in html  # the complaint SLA: no data, not 0
    for code in ("bookings", "showed", "no_shows", "waiting", "new_people"):
        shown = _tile(html, code).replace(",", "")
        page = client.get(reverse("reports:drill", args=[code]) + "?period=today").content.decode()
        rows = page.count("<tr><td>")
        assert int(shown) == rows, code
    assert _tile(html, "bookings") == "3"  # not the other branch's 4


def test_drill_masks_phones_without_reveal(day_world):
    lo = timezone.localdate()
    total, rows = drill.rows("new_people", day_world, lo, lo + dt.timedelta(days=1), reveal=False)
    assert total == 3 and all("****" in r.phone for r in rows)


def test_front_desk_and_anonymous_are_refused(front_desk, client_for):
    assert client_for(front_desk).get(reverse("reports:dashboard")).status_code == 403
    assert Client().get(reverse("reports:dashboard")).status_code == 302


def test_unknown_tile_and_period_are_not_errors(day_world, manager, client_for):
    client = client_for(manager)
    assert client.get(reverse("reports:drill", args=["nope"])).status_code == 404
    assert client.get(reverse("reports:drill", args=["visits"]) + "?period=bogus").status_code == 200


def test_manager_lands_on_the_dashboard_after_signing_in(manager):
    response = Client().post(reverse("login"), {"username": manager.username, "password": PASSWORD})
    assert response["Location"] == reverse("reports:dashboard")


def test_month_figures_read_rollups_plus_today(day_world):
    rollups.rollup_refresh(full=True)
    data = dashboard.branch_dashboard(day_world)
    by = {f.code: f for f in data["month"]}
    assert by["complaint_sla"].value is None  # no complaint due: no data, not 0 %
    assert by["visits"].value >= 1
    assert [t["code"] for t in data["targets"]] == ["new_people", "return_rate", "satisfaction"]


def test_complaint_sla_counts_deadlines_met_and_missed(branch, manager, client_for):
    from complaints.models import Complaint
    from reports.dashboard import _kpi

    member = make_member(branch, name="投诉人", phone="+8613111110000")
    now = timezone.now()
    base = {
        "branch": branch,
        "member": member,
        "ack_due_at": now,
        "channel": "phone",
        "subject": "等候太久",
        "description": "等了一小时",
        "category": "waiting",
    }
    Complaint.objects.create(
        **base, proposal_due_at=now - dt.timedelta(hours=2), proposed_at=now - dt.timedelta(hours=3)
    )
    Complaint.objects.create(**base, proposal_due_at=now - dt.timedelta(hours=1), proposed_at=None)  # missed
    Complaint.objects.create(**base, proposal_due_at=now + dt.timedelta(hours=1))  # still ahead: not counted
    today = timezone.localdate()
    lo, hi = today - dt.timedelta(days=1), today + dt.timedelta(days=1)
    assert _kpi("complaint_sla", {}, lo, hi, branch.pk) == Decimal("0.5000")
    # The dashboard reads every period's deadlines in one pass: the same figures.
    ranges = [(lo, hi), (today - dt.timedelta(days=30), today), (today, hi)]
    alone = [rollups.complaint_sla(a, b, branch_ids=[branch.pk]) for a, b in ranges]
    assert alone[0] == {branch.pk: (1, 2)}
    with rollups.memoized():
        rollups.prefetch_live(ranges, branch_ids=[branch.pk])
        assert [rollups.complaint_sla(a, b, branch_ids=[branch.pk]) for a, b in ranges] == alone
    total, rows = drill.rows("complaint_sla", branch, lo, hi, reveal=False)
    assert total == 2 and {r.person for r in rows} == {"投诉人"}
