"""HQ's view: every dashboard figure of each branch equals that branch's dashboard, and the
chain total adds counts and takes ratios over the added numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reports import dashboard, hq
from tests.conftest import PASSWORD
from tests.reports.test_dashboard import day_world  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_each_branch_column_is_its_dashboard_and_the_total_adds_up(day_world, branch, other_branch):  # noqa: F811
    data = hq.hq_dashboard([branch, other_branch])
    mine, theirs = dashboard.branch_dashboard(branch), dashboard.branch_dashboard(other_branch)
    rows = {r.code: r for r in data["today_rows"]}
    for i, tile in enumerate(mine["tiles"]):
        row = rows[tile.code]
        assert row.values[0] == tile.value and row.values[1] == theirs["tiles"][i].value
        assert row.values[2] == tile.value + theirs["tiles"][i].value
    assert rows["bookings"].values == [Decimal(3), Decimal(4), Decimal(7)]
    month = {r.code: r for r in data["month_rows"]}
    assert [f.value for f in mine["month"]] == [month[f.code].values[0] for f in mine["month"]]
    assert month["visits"].values[2] == month["visits"].values[0] + month["visits"].values[1]
    assert month["complaint_sla"].values == [None, None, None]  # no data stays no data


def test_chain_ratio_is_over_added_numbers_not_an_average(day_world, branch, other_branch):  # noqa: F811
    chain = hq.chain_month([branch.pk, other_branch.pk], today=timezone.localdate())
    rate = chain["no_show_rate"]
    # 静安: 1 no-show of 3 showed-or-missed; 浦东: 1 of 4 → chain 2/5... computed from the sums.
    assert rate is not None and Decimal("0") < rate < Decimal("1")


def test_page_shows_both_branches_and_only_hq_may_open_it(day_world, hq_admin, manager, client_for):  # noqa: F811
    html = client_for(hq_admin).get(reverse("reports:hq")).content.decode()
    assert "静安店" in html and "浦东店" in html and 'data-testid="hq-month"' in html
    assert client_for(manager).get(reverse("reports:hq")).status_code == 403


def test_hq_lands_on_it(hq_admin):
    r = Client().post(reverse("login"), {"username": hq_admin.username, "password": PASSWORD})
    assert r["Location"] == reverse("reports:hq")
