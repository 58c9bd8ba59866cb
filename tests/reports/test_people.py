"""Marketing analysis: people registered in a period by channel, district, age band, gender and
first treatment — patients, returns and revenue to date; the page for a manager."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Visit
from reports import people
from tests.appointments.factories import make_doctor
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomers(branch):
    doctor = make_doctor(branch, "ppl_doc")
    today = timezone.localdate()
    a = make_member(branch, name="甲", phone="+8613400000001")
    b = make_member(branch, name="乙", phone="+8613400000002")
    c = make_member(branch, name="丙", phone="+8613400000003")
    for m, address, birth, gender in (
        (a, "上海市静安区南京西路1号", dt.date(today.year - 8, 1, 1), "F"),
        (b, "上海市浦东新区世纪大道2号", dt.date(today.year - 35, 1, 1), "M"),
        (c, "", None, ""),
    ):
        m.address, m.birth_date, m.gender = address, birth, gender
        m.save(update_fields=["address", "birth_date", "gender"])
    now = timezone.now()
    for m, amount in ((a, 100), (a, 200), (b, 50)):
        Visit.objects.create(
            branch=branch,
            member=m,
            doctor=doctor,
            opened_at=now,
            status="checked_out",
            amount_due=Decimal(amount),
            amount_paid=Decimal(amount),
            checked_out_at=now,
        )
    return today


def _by(groups):
    return {g.label: (g.people, g.patients, g.returned, g.revenue) for g in groups}


def test_groups_by_district_age_and_gender(branch, newcomers):
    lo, hi = newcomers, newcomers + dt.timedelta(days=1)
    assert _by(people.analysis(branch, "district", lo, hi)) == {
        "静安区": (1, 1, 1, Decimal(300)),
        "浦东新区": (1, 1, 0, Decimal(50)),
        "未登记": (1, 0, 0, Decimal(0)),
    }
    ages = _by(people.analysis(branch, "age_band", lo, hi))
    assert ages["儿童（0–11岁）"] == (1, 1, 1, Decimal(300)) and ages["30–44岁"][0] == 1
    genders = people.analysis(branch, "gender", lo, hi)
    total = people.totals(genders)
    assert (total.people, total.patients, total.conversion) == (3, 2, Decimal("0.6667"))
    for dimension in people.DIMENSIONS:
        assert sum(g.people for g in people.analysis(branch, dimension, lo, hi)) == 3, dimension


def test_the_page(branch, manager, client_for, newcomers):
    client = client_for(manager)
    page = client.get(reverse("reports:marketing") + "?by=district&period=mtd").content.decode()
    assert "营销分析" in page and "静安区" in page
    assert client.get(reverse("reports:marketing") + "?by=nope&period=nope").status_code == 200
