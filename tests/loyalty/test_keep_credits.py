"""loyalty.registry keep credits: a higher app's credits count toward keeping a tier at the
anniversary review, and only toward keeping it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from loyalty import registry, services

from .factories import buy, enrolled

pytestmark = pytest.mark.django_db


@pytest.fixture
def credits(monkeypatch):
    found = {}
    monkeypatch.setattr(registry, "KEEP_CREDITS", {})

    def register(n):
        def credit(member_id, since, until):
            found.setdefault("calls", []).append((member_id, since, until))
            return n

        registry.register_keep_credit("test", credit)

    return register, found


def _five_visit_gold(branch):
    start = timezone.now()
    m = enrolled(branch)
    buy(m.member, "12000", "v0")
    for i in range(5):
        with time_machine.travel(start + dt.timedelta(days=30 + i)):
            buy(m.member, "100", f"v{i + 1}")
    m.refresh_from_db()
    assert m.tier.code == "gold"
    return m


def _review(m):
    review = m.review_on
    with time_machine.travel(
        timezone.make_aware(dt.datetime.combine(review - dt.timedelta(days=20), dt.time(10)))
    ):
        services.tier_reviews_run()
    with time_machine.travel(timezone.make_aware(dt.datetime.combine(review, dt.time(10)))):
        return services.tier_reviews_run()


def test_a_credit_makes_up_the_missing_visit_and_the_tier_is_kept(branch, credits):
    register, found = credits
    register(1)
    m = _five_visit_gold(branch)
    assert _review(m) == {"kept": 1}
    m.refresh_from_db()
    assert m.tier.code == "gold"
    member_id, since, until = found["calls"][-1]
    assert member_id == m.member_id and until - since > dt.timedelta(days=360)


def test_without_credits_the_same_year_steps_down(branch, credits):
    m = _five_visit_gold(branch)
    assert _review(m) == {"downgraded": 1}


def test_credits_never_lift_a_member_above_their_tier(branch, credits):
    register, _found = credits
    register(50)
    m = enrolled(branch)
    buy(m.member, "100", "v1")
    m.refresh_from_db()
    entry = m.tier.code
    with time_machine.travel(timezone.make_aware(dt.datetime.combine(m.review_on, dt.time(10)))):
        services.tier_reviews_run()
    m.refresh_from_db()
    assert m.tier.code == entry
