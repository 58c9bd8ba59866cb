"""Rewards catalogue: redeem through the ledger, stock, limits, tiers, no oversell under
concurrency, cancel refunds, entitlements used at checkout, and the front-desk screen."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty import rewards
from loyalty.coupon_models import Coupon, CouponKind, CouponTemplate, Entitlement, RewardItem, RewardKind
from loyalty.errors import LoyaltyError
from loyalty.models import PointsEntry
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory

from .factories import account, earn, enrolled, invariant_holds, tier
from .test_concurrency import _run

pytestmark = pytest.mark.django_db


@pytest.fixture
def cleaning(db):
    cat = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    return ServiceItemFactory(code="PV01", name="超声洁牙", category=cat, price="280.00")


def item(**kw) -> RewardItem:
    defaults = {"name": "电动牙刷", "kind": RewardKind.GIFT, "points_cost": 300, "stock": 5}
    defaults.update(kw)
    tiers = defaults.pop("tiers", [])
    i = RewardItem.objects.create(**defaults)
    i.tiers.set(tiers)
    return i


def test_redeem_a_gift_deducts_points_and_stock_and_records_the_handover(branch, front_desk):
    m = enrolled(branch)
    earn(m.member, 1000, "e1")
    gift = item()
    r = rewards.reward_redeem(actor=front_desk, member=m.member, item=gift, qty=2)
    assert account(m.member).balance == 400
    gift.refresh_from_db()
    assert gift.stock == 3
    assert (r.handed_over_by, r.points) == (front_desk, 600)
    assert PointsEntry.objects.filter(idempotency_key=f"reward:{r.pk}:redeem", points=-600).exists()
    assert invariant_holds(m.member)


def test_refusals_leave_points_and_stock_alone(branch, front_desk, doctor):
    m = enrolled(branch)
    earn(m.member, 500, "e1")
    gift = item(points_cost=600)
    with pytest.raises(LoyaltyError):
        rewards.reward_redeem(actor=front_desk, member=m.member, item=gift)
    gift.refresh_from_db()
    assert (gift.stock, account(m.member).balance) == (5, 500)
    with pytest.raises(LoyaltyError):
        rewards.reward_redeem(
            actor=front_desk, member=m.member, item=item(name="无货", stock=0, points_cost=10)
        )
    with pytest.raises(LoyaltyError):
        rewards.reward_redeem(
            actor=front_desk, member=m.member, item=item(name="钻石专享", tiers=[tier("diamond")])
        )
    limited = item(name="限兑一次", points_cost=10, per_member_limit=1)
    rewards.reward_redeem(actor=front_desk, member=m.member, item=limited)
    with pytest.raises(LoyaltyError):
        rewards.reward_redeem(actor=front_desk, member=m.member, item=limited)
    with pytest.raises(LoyaltyError) as err:
        rewards.reward_redeem(actor=doctor, member=m.member, item=limited)
    assert err.value.code == "forbidden"


def test_a_service_reward_is_an_entitlement_and_a_coupon_reward_a_coupon(branch, front_desk, cleaning):
    m = enrolled(branch)
    earn(m.member, 2000, "e1")
    free = item(name="免费洁牙", kind=RewardKind.SERVICE, points_cost=500, stock=None, service_item=cleaning)
    rewards.reward_redeem(actor=front_desk, member=m.member, item=free)
    grants = rewards.entitlement_grants_for(m.member, [cleaning.pk])
    assert len(grants) == 1 and grants[0].item_ids == frozenset({cleaning.pk})
    tpl = CouponTemplate.objects.create(name="减50", kind=CouponKind.AMOUNT, amount_off=Decimal("50"))
    rewards.reward_redeem(
        actor=front_desk,
        member=m.member,
        item=item(name="50元券", kind=RewardKind.COUPON, coupon_template=tpl, points_cost=200),
    )
    assert Coupon.objects.filter(member=m.member, template=tpl).count() == 1


def test_cancel_refunds_points_and_stock_once(branch, front_desk, manager, cleaning):
    m = enrolled(branch)
    earn(m.member, 1000, "e1")
    gift = item()
    r = rewards.reward_redeem(actor=front_desk, member=m.member, item=gift)
    with pytest.raises(LoyaltyError):
        rewards.reward_cancel(actor=front_desk, redemption=r, reason="客户不要了")
    rewards.reward_cancel(actor=manager, redemption=r, reason="客户不要了")
    rewards.reward_cancel(actor=manager, redemption=r, reason="again")
    gift.refresh_from_db()
    assert (gift.stock, account(m.member).balance) == (5, 1000)
    assert invariant_holds(m.member)
    free = item(name="免费洁牙", kind=RewardKind.SERVICE, points_cost=500, stock=None, service_item=cleaning)
    r2 = rewards.reward_redeem(actor=front_desk, member=m.member, item=free)
    e = Entitlement.objects.get(redemption=r2)
    rewards.entitlement_use(actor=front_desk, entitlement_id=e.pk, member=m.member, source_key="visit:1")
    with pytest.raises(LoyaltyError):
        rewards.reward_cancel(actor=manager, redemption=r2, reason="x")


@pytest.mark.django_db(transaction=True)
def test_stock_of_one_under_concurrency_is_sold_once(branch):
    members = [enrolled(branch, name=f"客{i}", phone=f"1390000{i:04d}").member for i in range(8)]
    for i, mem in enumerate(members):
        earn(mem, 1000, f"e{i}")
    last = item(stock=1)

    def redeem(i: int):
        return rewards.reward_redeem(actor=None, member=members[i], item=last)

    results = _run(8, redeem)
    won = [r for r in results if not isinstance(r, Exception)]
    assert len(won) == 1, results
    assert all(isinstance(r, LoyaltyError) for r in results if isinstance(r, Exception))
    last.refresh_from_db()
    assert last.stock == 0
    assert sum(account(m).balance for m in members) == 8 * 1000 - 300
    assert all(invariant_holds(m) for m in members)


# --- screens --------------------------------------------------------------------------------


def test_front_desk_screen_redeem_slip_and_permissions(
    client_for, branch, front_desk, doctor, outsider, django_assert_max_num_queries
):
    m = enrolled(branch)
    earn(m.member, 1000, "e1")
    gift = item()
    item(name="太贵", points_cost=5000)
    for i in range(5):
        item(name=f"限兑{i}", points_cost=10, per_member_limit=1, tiers=[tier("diamond")])
    client = client_for(front_desk)
    url = reverse("loyalty:rewards", args=[m.member.pk])
    with django_assert_max_num_queries(17):
        r = client.get(url)
    assert r.status_code == 200 and r.content.decode().count("reward-row") == 7
    post = reverse("loyalty:reward_redeem", args=[m.member.pk])
    assert client_for(outsider).post(post, {"item": gift.pk, "quantity": 1}).status_code == 404
    assert client_for(doctor).post(post, {"item": gift.pk, "quantity": 1}).status_code == 403
    r = client.post(post, {"item": gift.pk, "quantity": 1})
    assert r.status_code == 302 and account(m.member).balance == 700
    slip = client.get(r["Location"])
    assert slip.status_code == 200 and "电动牙刷" in slip.content.decode()
    rid = r["Location"].rstrip("/").split("/")[-1]
    cancel = reverse("loyalty:reward_cancel", args=[m.member.pk, rid])
    assert client.post(cancel, {"reason": "x"}).status_code == 403  # front desk may not cancel
