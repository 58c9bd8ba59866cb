"""Tiers: qualification, the ladder's validation, immediate upgrade, the anniversary review
(warning 30 days ahead, then one step down), manual override, discounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from clinic.models import AuditLog
from clinic.notifications.models import Outbox
from loyalty import services
from loyalty.errors import LoyaltyError
from loyalty.models import Membership, QualifyLogic, Tier, TierCause, TierChange
from loyalty.selectors import member_has_priority_booking, tier_discount_percent, tier_progress
from members.registry import timeline_for
from tests.clinic.factories import ServiceCategoryFactory

from .factories import buy, enrolled, tier

pytestmark = pytest.mark.django_db


def test_qualification_or_and():
    gold = Tier(name="金卡", rank=30, qualify_amount=Decimal("10000"), qualify_visits=6)
    assert services.qualifies(gold, Decimal("10000"), 0)
    assert services.qualifies(gold, Decimal("0"), 6)
    assert not services.qualifies(gold, Decimal("9999.99"), 5)
    gold.qualify_logic = QualifyLogic.AND
    assert not services.qualifies(gold, Decimal("10000"), 5)
    assert services.qualifies(gold, Decimal("10000"), 6)


def test_qualifying_tier_is_the_highest_that_qualifies():
    assert services.qualifying_tier(Decimal("0"), 0).code == "basic"
    assert services.qualifying_tier(Decimal("3000"), 0).code == "silver"
    assert services.qualifying_tier(Decimal("100"), 6).code == "gold"
    assert services.qualifying_tier(Decimal("30000"), 0).code == "diamond"


def test_rolling_window_is_twelve_months_and_ignores_reversed(branch):
    m = enrolled(branch)
    buy(m.member, "1000", "v1", days_ago=400)
    buy(m.member, "500", "v2", days_ago=100)
    buy(m.member, "700", "v3", days_ago=10)
    services.purchase_reverse(actor=None, source_key="v3")
    assert services.rolling_stats(m.member) == (Decimal("500.00"), 1)


def test_ladder_validation_stops_overlapping_and_inverted_thresholds():
    tiers = list(Tier.objects.order_by("rank"))
    assert services.tier_ladder_errors(tiers) == []
    gold = next(t for t in tiers if t.code == "gold")
    gold.qualify_amount = Decimal("3000")  # same as 银卡
    assert any("重叠" in e for e in services.tier_ladder_errors(tiers))
    gold.qualify_amount = Decimal("2000")  # below 银卡
    assert any("倒挂" in e for e in services.tier_ladder_errors(tiers))
    gold.qualify_amount, gold.qualify_visits = None, None
    assert services.tier_ladder_errors(tiers)
    basic = tiers[0]
    basic.qualify_amount = Decimal("1")
    assert services.tier_ladder_errors(tiers)


def test_tier_save_refuses_an_inverted_ladder(hq_admin):
    silver = tier("silver")
    silver.qualify_visits = 8  # above 金卡's 6
    with pytest.raises(LoyaltyError):
        services.tier_save(actor=hq_admin, tier=silver)
    silver.qualify_visits = 2
    services.tier_save(actor=hq_admin, tier=silver)
    assert AuditLog.objects.filter(action="loyalty.tier.changed").exists()


def test_upgrade_is_immediate_and_recorded(branch, hq_admin):
    m = enrolled(branch)
    buy(m.member, "2000", "v1")
    m.refresh_from_db()
    assert m.tier.code == "basic"
    buy(m.member, "1000", "v2")
    m.refresh_from_db()
    assert m.tier.code == "silver"
    assert m.tier_since == timezone.localdate() and m.review_on.year == timezone.localdate().year + 1
    change = TierChange.objects.filter(member=m.member).first()
    assert (change.from_tier.code, change.to_tier.code, change.cause, change.source_key) == (
        "basic",
        "silver",
        TierCause.UPGRADE,
        "v2",
    )
    assert Outbox.objects.filter(template_key="loyalty.tier_upgraded").exists()
    titles = [str(e.title) for e in timeline_for(m.member, hq_admin)]
    assert any("银卡" in t for t in titles)


def test_upgrade_can_skip_tiers(branch):
    m = enrolled(branch)
    buy(m.member, "30000", "v1")
    m.refresh_from_db()
    assert m.tier.code == "diamond"
    assert member_has_priority_booking(m.member)


def _gold_member(branch) -> Membership:
    m = enrolled(branch)
    buy(m.member, "12000", "v0")
    m.refresh_from_db()
    assert m.tier.code == "gold"
    return m


def test_anniversary_warning_says_exactly_what_keeps_the_tier_then_downgrades_one_step(branch):
    start = timezone.now()
    m = _gold_member(branch)
    # Five visits in the year, ¥8,720 in all: ¥1,280 or one visit short of 金卡.
    for i in range(5):
        with time_machine.travel(start + dt.timedelta(days=30 + i)):
            buy(m.member, "1744", f"v{i + 1}")
    review = m.review_on
    with time_machine.travel(
        timezone.make_aware(dt.datetime.combine(review - dt.timedelta(days=20), dt.time(10)))
    ):
        assert services.tier_reviews_run() == {"warned": 1}
        assert services.tier_reviews_run() == {"none": 1}  # once
    warning = Outbox.objects.get(template_key="loyalty.tier_review_warning")
    assert warning.params["needed"] == "再消费 ¥1,280.00 或就诊 1 次即可保留金卡"
    assert warning.params["date"] == review.isoformat()
    with time_machine.travel(timezone.make_aware(dt.datetime.combine(review, dt.time(9)))):
        # The year's purchases still qualify for 银卡 only: one step down.
        assert services.tier_reviews_run() == {"downgraded": 1}
    m.refresh_from_db()
    assert m.tier.code == "silver"
    assert m.tier_since == review
    change = TierChange.objects.filter(member=m.member).first()
    assert change.cause == TierCause.ANNIVERSARY and change.from_tier.code == "gold"


def test_downgrade_is_one_step_even_when_nothing_was_spent(branch):
    m = _gold_member(branch)
    review = m.review_on
    with time_machine.travel(
        timezone.make_aware(dt.datetime.combine(review - dt.timedelta(days=30), dt.time(10)))
    ):
        services.tier_reviews_run()
    with time_machine.travel(timezone.make_aware(dt.datetime.combine(review, dt.time(10)))):
        services.tier_reviews_run()
    m.refresh_from_db()
    assert m.tier.code == "silver"  # not 普通会员


def test_meeting_the_requirement_keeps_the_tier(branch):
    m = _gold_member(branch)
    review = m.review_on
    with time_machine.travel(
        timezone.make_aware(dt.datetime.combine(review - dt.timedelta(days=10), dt.time(10)))
    ):
        services.tier_reviews_run()
        buy(m.member, "10000", "keep")
    with time_machine.travel(timezone.make_aware(dt.datetime.combine(review, dt.time(10)))):
        assert services.tier_reviews_run() == {"kept": 1}
    m.refresh_from_db()
    assert m.tier.code == "gold" and m.review_on > review


def test_no_downgrade_without_a_warning_first(branch):
    m = _gold_member(branch)
    review = m.review_on
    day = timezone.make_aware(dt.datetime.combine(review, dt.time(10)))
    with time_machine.travel(day):  # the warning job never ran (e.g. the worker was down)
        assert services.tier_reviews_run() == {"warned": 1}
    m.refresh_from_db()
    assert m.tier.code == "gold" and m.review_on == review + dt.timedelta(days=30)
    with time_machine.travel(day + dt.timedelta(days=30)):
        assert services.tier_reviews_run() == {"downgraded": 1}


def test_manual_override_needs_permission_and_reason(branch, manager, front_desk):
    m = enrolled(branch)
    with pytest.raises(LoyaltyError):
        services.tier_override(actor=front_desk, member=m.member, tier=tier("gold"), reason="老客户")
    with pytest.raises(LoyaltyError):
        services.tier_override(actor=manager, member=m.member, tier=tier("gold"), reason="")
    services.tier_override(actor=manager, member=m.member, tier=tier("gold"), reason="院长特批")
    m.refresh_from_db()
    assert m.tier.code == "gold"
    change = TierChange.objects.filter(member=m.member).first()
    assert change.cause == TierCause.MANUAL and change.actor == manager and change.reason == "院长特批"
    assert AuditLog.objects.filter(action="loyalty.tier.changed", actor=manager).exists()


def test_tier_discounts_per_category_and_basic_care():
    basic_care = ServiceCategoryFactory(code="PREV", is_basic_care=True)
    implants = ServiceCategoryFactory(code="IMPL", is_basic_care=False)
    gold = tier("gold")
    assert tier_discount_percent(gold, basic_care) == Decimal("15")
    assert tier_discount_percent(gold, implants) == Decimal("0")
    gold.category_discounts.create(category=implants, percent=Decimal("5"))
    assert tier_discount_percent(gold, implants) == Decimal("5")


def test_progress_to_next_tier(branch):
    m = enrolled(branch)
    buy(m.member, "1500", "v1")
    m.refresh_from_db()
    progress = tier_progress(m)
    assert progress.next_tier.code == "silver"
    assert progress.amount_needed == Decimal("1500.00") and progress.visits_needed == 2
    assert progress.percent == 50
