"""The funnel: counts, conversion, revenue and median days by channel, consultant, partner and
month; scoped (branch; a consultant's own); the drill-down lists the people behind a number
with masked phones; the xlsx export; enrolments land on the latest consultation."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from marketing import funnel
from marketing.consultation_models import Consultation
from marketing.consultations import enrolments_sync
from marketing.models import Partner
from tests.appointments.factories import at
from tests.conftest import login
from tests.members.factories import make_member

from .helpers import log

pytestmark = pytest.mark.django_db

DEC = dt.date(2026, 12, 1)


def _stages(c, *, booked=None, arrived=None, paid=None, enrolled=None, revenue="0"):
    """Set a consultation's stages as the services would have (test data of many people)."""
    day = c.on
    Consultation.objects.filter(pk=c.pk).update(
        booked_on=day + dt.timedelta(days=booked) if booked is not None else None,
        arrived_on=day + dt.timedelta(days=arrived) if arrived is not None else None,
        paid_on=day + dt.timedelta(days=paid) if paid is not None else None,
        enrolled_on=day + dt.timedelta(days=enrolled) if enrolled is not None else None,
        revenue=Decimal(revenue),
    )


@pytest.fixture
def world(consultant, consultant2, branch, other_branch, phone_channel, wechat_channel, clock, staff_factory):
    """Six consultations in December at this branch, one in November, one at the other branch."""
    from clinic.models import Role

    partner = Partner.objects.create(name="静安小学", kind="school", branch=branch)
    people = [make_member(branch, name=f"客户{i}", phone=f"1390000{i:04d}") for i in range(8)]
    rows = [
        (
            consultant,
            phone_channel,
            at(-6, 9),
            {"booked": 0, "arrived": 2, "paid": 2, "enrolled": 2, "revenue": "1000"},
            partner,
        ),
        (
            consultant,
            phone_channel,
            at(-5, 9),
            {"booked": 1, "arrived": 3, "paid": 4, "revenue": "500"},
            None,
        ),
        (consultant, phone_channel, at(-4, 9), {"booked": 1}, None),
        (consultant, phone_channel, at(-3, 9), {}, None),
        (
            consultant2,
            wechat_channel,
            at(-2, 9),
            {"booked": 0, "arrived": 1, "paid": 1, "revenue": "300"},
            None,
        ),
        (consultant2, wechat_channel, at(-1, 9), {}, partner),
        (
            consultant,
            phone_channel,
            at(-10, 9),
            {"booked": 1, "arrived": 1, "paid": 1, "revenue": "99"},
            None,
        ),
    ]
    made = []
    for n, (who, channel, when, stages, p) in enumerate(rows):
        c = log(who, branch, channel, member=people[n], at=when, partner=p)
        _stages(c, **stages)
        made.append(c)
    other_consultant = staff_factory(Role.CONSULTANT, branches=[other_branch], username="pd_consultant")
    log(other_consultant, other_branch, phone_channel, member=people[7], at=at(-3, 9))
    return {"made": made, "partner": partner, "branch": branch, "other": other_branch}


def test_by_channel_counts_rates_revenue_and_medians(world):
    rows = funnel.funnel(
        date_from=dt.date(2026, 12, 1),
        date_to=dt.date(2026, 12, 7),
        by="channel",
        branch_ids=[world["branch"].pk],
    )
    funnel.label_rows(rows, "channel")
    by_label = {r.label: r for r in rows}
    phone, wechat = by_label["电话"], by_label["微信"]
    assert phone.counts == {"consultations": 4, "booked": 3, "arrived": 2, "paid": 2, "enrolled": 1}
    assert phone.revenue == Decimal("1500")
    assert (
        phone.rates["booked"] == 75
        and phone.rates["paid"] == 50
        and phone.rates["arrived_step"] == pytest.approx(66.666, 0.01)
    )
    # days consult→book: 0, 1, 1 → 1; book→arrive: 2, 2 → 2; arrive→paid: 0, 1 → 0.5; paid→enrol: 0
    assert phone.medians == {"booked": 1, "arrived": 2, "paid": 0.5, "enrolled": 0}
    assert wechat.counts == {"consultations": 2, "booked": 1, "arrived": 1, "paid": 1, "enrolled": 0}
    total = funnel.totals(rows)
    assert total.counts["consultations"] == 6 and total.revenue == Decimal("1800")


def test_by_consultant_partner_and_month(world, consultant, consultant2):
    branch_ids = [world["branch"].pk]
    rows = funnel.funnel(
        date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 12, 7), by="consultant", branch_ids=branch_ids
    )
    assert {r.key: r.counts["consultations"] for r in rows} == {consultant.pk: 5, consultant2.pk: 2}
    rows = funnel.funnel(
        date_from=dt.date(2026, 12, 1), date_to=dt.date(2026, 12, 7), by="partner", branch_ids=branch_ids
    )
    assert {r.key: r.counts["consultations"] for r in rows} == {world["partner"].pk: 2, None: 4}
    rows = funnel.funnel(
        date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 12, 7), by="month", branch_ids=branch_ids
    )
    assert [(r.month, r.counts["consultations"], r.revenue) for r in rows] == [
        (dt.date(2026, 11, 1), 1, Decimal("99")),
        (dt.date(2026, 12, 1), 6, Decimal("1800")),
    ]
    split = funnel.funnel(
        date_from=dt.date(2026, 11, 1),
        date_to=dt.date(2026, 12, 7),
        by="channel",
        by_month=True,
        branch_ids=branch_ids,
    )
    assert len(split) == 3  # phone × Nov, phone × Dec, WeChat × Dec


def test_the_page_is_scoped_to_the_branch_and_a_consultants_own(world, consultant, manager, hq_admin, clock):
    url = reverse("marketing:consult_funnel") + "?date_from=2026-12-01&date_to=2026-12-07&by=month"
    mine = login(consultant).get(url).context["rows"]
    assert [r.counts["consultations"] for r in mine] == [4]
    branch = login(manager).get(url).context["rows"]
    assert [r.counts["consultations"] for r in branch] == [6]
    everywhere = login(hq_admin).get(url).context["rows"]
    assert [r.counts["consultations"] for r in everywhere] == [7]
    one = login(hq_admin).get(url + f"&branch={world['other'].pk}").context["rows"]
    assert [r.counts["consultations"] for r in one] == [1]


def test_a_number_drills_down_to_its_people_masked(world, manager, phone_channel, doctor):
    client = login(manager)
    page = client.get(reverse("marketing:consult_funnel") + "?date_from=2026-12-01&date_to=2026-12-07")
    html = page.content.decode()
    assert 'data-testid="funnel-paid"' in html
    url = (
        reverse("marketing:consult_funnel_people")
        + f"?date_from=2026-12-01&date_to=2026-12-07&by=channel&key={phone_channel.pk}&stage=paid"
    )
    people = client.get(url)
    names = {c.member.name for c in people.context["page"]}
    assert names == {"客户0", "客户1"}
    body = people.content.decode()
    assert "139****0000" in body and "13900000000" not in body
    no_partner = client.get(
        reverse("marketing:consult_funnel_people")
        + "?date_from=2026-12-01&date_to=2026-12-07&by=partner&key=0&stage=consultations"
    )
    assert no_partner.context["page"].paginator.count == 4
    assert login(doctor).get(url).status_code == 403


def test_the_export_is_a_spreadsheet_of_the_rows(world, manager, consultant):
    url = reverse("marketing:consult_funnel_export") + "?date_from=2026-12-01&date_to=2026-12-07&by=channel"
    response = login(manager).get(url)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][2] == "Consultations" or values[0][2] == "咨询"
    assert sorted(r[2] for r in values[1:]) == [2, 4]
    assert login(consultant).get(url).status_code == 403


def test_enrolment_lands_on_the_latest_consultation_before_it(
    consultant, front_desk, branch, phone_channel, member, clock
):
    from loyalty.services import membership_enrol

    old = log(consultant, branch, phone_channel, member=member, at=at(-8, 9))
    latest = log(consultant, branch, phone_channel, member=member, at=at(-1, 9))
    membership_enrol(actor=front_desk, member=member, branch=branch)
    assert enrolments_sync(member_ids=[member.pk]) == 1
    assert enrolments_sync(member_ids=[member.pk]) == 0
    old.refresh_from_db()
    latest.refresh_from_db()
    assert (old.enrolled_on, latest.enrolled_on) == (None, dt.date(2026, 12, 7))


def test_funnel_is_at_most_three_statements(world, django_assert_max_num_queries):
    funnel.funnel_refresh()
    with django_assert_max_num_queries(3):  # dirty months, the rollup, the live days
        funnel.funnel(
            date_from=DEC, date_to=dt.date(2026, 12, 31), by="channel", by_month=True, branch_ids=None
        )


def test_the_rollup_gives_the_same_figures_as_the_table_and_follows_later_changes(world, consultant, clock):
    from marketing.consultation_models import FunnelDirty, FunnelMonth

    kwargs = {
        "date_from": dt.date(2026, 11, 1),
        "date_to": dt.date(2026, 12, 7),
        "branch_ids": [world["branch"].pk],
    }

    def figures(**extra):
        rows = funnel.funnel(**kwargs, **extra)
        return sorted(
            ((r.key, r.month, tuple(r.counts.values()), r.revenue, tuple(r.medians.values())) for r in rows),
            key=repr,
        )

    live = {by: figures(by=by, by_month=True) for by in ("channel", "consultant", "partner", "month")}
    assert FunnelDirty.objects.exists()
    assert funnel.funnel_refresh() >= 2
    assert (
        not FunnelDirty.objects.exists() and FunnelMonth.objects.filter(month=dt.date(2026, 11, 1)).exists()
    )
    rolled, ranges = funnel.plan(kwargs["date_from"], kwargs["date_to"], kwargs["branch_ids"])
    assert rolled == [dt.date(2026, 11, 1)] and ranges == [(dt.date(2026, 12, 1), dt.date(2026, 12, 8))]
    assert {by: figures(by=by, by_month=True) for by in live} == live
    # A late stage of a November consultation marks November again: read live until rebuilt.
    november = world["made"][-1]
    Consultation.objects.filter(pk=november.pk).update(enrolled_on=dt.date(2026, 12, 1))
    assert funnel.plan(kwargs["date_from"], kwargs["date_to"], kwargs["branch_ids"])[0] == []
    after = figures(by="month")
    assert after[0][2][4] == 1  # November: one enrolled now
    funnel.funnel_refresh()
    assert figures(by="month") == after


def test_medians_of_histograms():
    assert funnel._median({}) is None
    assert funnel._median({3: 1}) == 3
    assert funnel._median({0: 1, 1: 1}) == 0.5
    assert funnel._median({0: 2, 5: 1}) == 0
    assert funnel._median({1: 2, 4: 2}) == 2.5
