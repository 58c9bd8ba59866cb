"""Customer analysis: growth by month, dormancy bands that add up to the active people, members
by tier and the tier movements of a period; the page for a manager."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Tier, TierChange
from reports import customers
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


def test_dormancy_bands_add_up(branch):
    now = timezone.now()
    for i, days in enumerate((None, 10, 250, 800)):
        m = make_member(branch, name=f"沉睡{i}", phone=f"+8613300{i:06d}")
        if days is not None:
            m.last_visit_at = now - dt.timedelta(days=days)
            m.save(update_fields=["last_visit_at"])
    d = customers.dormancy(branch)
    bands = {b["code"]: b["people"] for b in d["bands"]}
    assert sum(bands.values()) == d["total"]
    assert bands["never"] >= 1 and bands["recent"] >= 1 and bands["dormant"] >= 1


def test_growth_and_tier_movements(branch, manager, client_for):
    m = make_member(branch, name="升级", phone="+8613300999999")
    low, high = Tier.objects.order_by("rank")[:2]
    TierChange.objects.create(member=m, from_tier=low, to_tier=high, cause="upgrade")
    TierChange.objects.create(member=m, from_tier=None, to_tier=low, cause="enrolment")
    today = timezone.localdate()
    moves = customers.tier_movements(branch, today, today + dt.timedelta(days=1))
    assert [(x["direction"], x["people"]) for x in moves] == [("up", 1), ("new", 1)]
    growth = customers.growth(branch)
    assert len(growth) == 12 and growth[-1]["month"] == today.replace(day=1) and growth[-1]["new_people"] >= 1
    page = client_for(manager).get(reverse("reports:customers") + "?period=mtd").content.decode()
    assert "客户分析" in page and "升级" in page and 'data-testid="quadrants"' in page
    quad = customers.quadrants(branch)
    assert quad["total"] == sum(r["people"] for r in quad["rows"]) and len(quad["rows"]) == 4
