"""Automatic coupons beyond welcome and birthday, through the one mechanism
(``LOYALTY_AUTO_COUPONS`` + ``coupon_issue_auto``): a tier's yearly coupon when a member
reaches or keeps a tier, and the review/survey reward (service and staff action)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditLog
from loyalty import auto_coupons, services
from loyalty.coupon_models import Coupon, CouponKind, CouponTemplate
from loyalty.errors import LoyaltyError
from loyalty.models import BonusRule, PointsEntry
from tests.members.factories import make_member

from .factories import account, buy, enrolled

pytestmark = pytest.mark.django_db


def template(name: str, **kw) -> CouponTemplate:
    kw.setdefault("kind", CouponKind.AMOUNT)
    kw.setdefault("amount_off", Decimal("50"))
    kw.setdefault("per_member_limit", 0)
    return CouponTemplate.objects.create(name=name, **kw)


def held(member, name: str) -> list[Coupon]:
    return list(Coupon.objects.filter(member=member, template__name=name))


# --- tier allowance ---------------------------------------------------------------------------


@pytest.fixture
def tier_coupons(settings):
    settings.LOYALTY_AUTO_COUPONS = {"allowance": {"silver": "银卡年度券", "gold": "金卡年度券"}}
    return template("银卡年度券"), template("金卡年度券", amount_off=Decimal("100"))


def test_reaching_a_tier_that_grants_a_coupon_issues_it_once(branch, tier_coupons):
    m = enrolled(branch)
    assert Coupon.objects.filter(member=m.member).count() == 0  # 普通会员 grants none
    buy(m.member, "3000", "v1")  # → 银卡
    m.refresh_from_db()
    [silver] = held(m.member, "银卡年度券")
    assert silver.issue_key == f"allowance:{m.member_id}:silver:{m.review_on.isoformat()}"
    assert silver.reason == "allowance"
    buy(m.member, "100", "v2")  # still 银卡: nothing new
    services.tier_evaluate_upgrade(actor=None, membership=m)
    assert len(held(m.member, "银卡年度券")) == 1
    buy(m.member, "8000", "v3")  # → 金卡
    assert len(held(m.member, "金卡年度券")) == 1 and len(held(m.member, "银卡年度券")) == 1
    assert AuditLog.objects.filter(action="loyalty.coupon.issued", target_id=str(m.member_id)).count() == 2


def test_enrolling_straight_into_a_higher_tier_gives_only_that_tiers_coupon(branch, settings):
    settings.LOYALTY_AUTO_COUPONS = {"allowance": {"basic": "普通年度券", "gold": "金卡年度券"}}
    template("普通年度券")
    template("金卡年度券")
    member = make_member(branch, name="王芳")
    buy(member, "12000", "before")  # paid before enrolling: counts toward the first tier
    services.membership_enrol(actor=None, member=member, branch=branch, welcome_points=0)
    assert [c.template.name for c in Coupon.objects.filter(member=member)] == ["金卡年度券"]


def test_one_name_for_every_tier_includes_the_entry_tier(branch, settings):
    settings.LOYALTY_AUTO_COUPONS = {"allowance": "会员年度券"}
    template("会员年度券")
    m = enrolled(branch)
    assert len(held(m.member, "会员年度券")) == 1


def test_keeping_the_tier_at_the_anniversary_gives_the_next_years_coupon(branch, tier_coupons):
    m = enrolled(branch)
    buy(m.member, "12000", "v0")
    m.refresh_from_db()
    assert m.tier.code == "gold" and len(held(m.member, "金卡年度券")) == 1
    review = m.review_on
    with time_machine.travel(
        timezone.make_aware(dt.datetime.combine(review - dt.timedelta(days=10), dt.time(10)))
    ):
        services.tier_reviews_run()
        buy(m.member, "10000", "keep")
    with time_machine.travel(timezone.make_aware(dt.datetime.combine(review, dt.time(10)))):
        assert services.tier_reviews_run() == {"kept": 1}
        services.tier_reviews_run()  # the job runs again: no second coupon
    m.refresh_from_db()
    coupons = held(m.member, "金卡年度券")
    assert len(coupons) == 2
    assert {c.issue_key.rsplit(":", 1)[1] for c in coupons} == {review.isoformat(), m.review_on.isoformat()}


def test_stepping_down_gives_the_lower_tiers_coupon(branch, tier_coupons):
    m = enrolled(branch)
    buy(m.member, "12000", "v0")
    m.refresh_from_db()
    review = m.review_on
    with time_machine.travel(
        timezone.make_aware(dt.datetime.combine(review - dt.timedelta(days=30), dt.time(10)))
    ):
        services.tier_reviews_run()
    with time_machine.travel(timezone.make_aware(dt.datetime.combine(review, dt.time(10)))):
        assert services.tier_reviews_run() == {"downgraded": 1}
    assert len(held(m.member, "银卡年度券")) == 1


def test_no_allowance_configured_issues_nothing(branch, settings):
    settings.LOYALTY_AUTO_COUPONS = {}
    m = enrolled(branch)
    buy(m.member, "30000", "v1")
    assert not Coupon.objects.filter(member=m.member).exists()


# --- reviews and surveys ------------------------------------------------------------------------


@pytest.fixture
def review_coupon(settings):
    settings.LOYALTY_AUTO_COUPONS = {"review": "好评礼"}
    return template("好评礼", amount_off=Decimal("30"))


def test_coupon_issue_for_review_is_idempotent_per_source(branch, review_coupon):
    member = make_member(branch, name="王芳")
    first = auto_coupons.coupon_issue_for_review(actor=None, member=member, source_key="survey:7")
    again = auto_coupons.coupon_issue_for_review(actor=None, member=member, source_key="survey:7")
    other = auto_coupons.coupon_issue_for_review(actor=None, member=member, source_key="survey:8")
    assert first == again and other != first
    assert first.issue_key == "review:survey:7"


def test_review_reward_gives_points_and_coupon_once_and_is_audited(branch, review_coupon):
    m = enrolled(branch)
    bonus = BonusRule.objects.get(kind="survey").points
    reward = auto_coupons.review_reward(actor=None, member=m.member, source_key="survey:1")
    assert reward.coupon is not None and reward.points.points == bonus and not reward.already
    assert account(m.member).balance == bonus
    again = auto_coupons.review_reward(actor=None, member=m.member, source_key="survey:1")
    assert again.already and again.coupon == reward.coupon
    assert account(m.member).balance == bonus
    assert Coupon.objects.filter(member=m.member).count() == 1
    assert AuditLog.objects.filter(action="loyalty.review.rewarded").count() == 1


def test_a_non_member_gets_the_coupon_without_points(branch, review_coupon):
    member = make_member(branch, name="王芳")
    reward = auto_coupons.review_reward(actor=None, member=member, source_key="survey:2")
    assert reward.coupon is not None and reward.points is None
    assert not PointsEntry.objects.exists()


def test_nothing_configured_is_a_clear_error_and_changes_nothing(branch, settings):
    settings.LOYALTY_AUTO_COUPONS = {}
    BonusRule.objects.filter(kind="survey").update(is_active=False)
    m = enrolled(branch)
    with pytest.raises(LoyaltyError) as err:
        auto_coupons.review_reward(actor=None, member=m.member, source_key="survey:3")
    assert err.value.code == "not_configured"
    assert not AuditLog.objects.filter(action="loyalty.review.rewarded").exists()


def test_survey_points_alone_are_enough(branch, settings):
    settings.LOYALTY_AUTO_COUPONS = {}
    m = enrolled(branch)
    reward = auto_coupons.review_reward(actor=None, member=m.member, source_key="survey:4")
    assert reward.coupon is None and reward.points is not None


def test_review_record_needs_permission_and_a_known_channel(branch, review_coupon, front_desk, doctor):
    member = make_member(branch, name="王芳")
    with pytest.raises(LoyaltyError) as err:
        auto_coupons.review_record(actor=doctor, member=member, channel="dianping")
    assert err.value.code == "forbidden"
    with pytest.raises(LoyaltyError) as err:
        auto_coupons.review_record(actor=front_desk, member=member, channel="weibo")
    assert err.value.field == "channel"
    a = auto_coupons.review_record(actor=front_desk, member=member, channel="dianping", reference="No. 88 21")
    b = auto_coupons.review_record(actor=front_desk, member=member, channel="dianping", reference="No.8821")
    assert b.already and a.coupon == b.coupon  # the same review, typed differently
    c = auto_coupons.review_record(actor=front_desk, member=member, channel="meituan")
    d = auto_coupons.review_record(actor=front_desk, member=member, channel="meituan")
    assert not c.already and d.already  # no reference: once per channel and day


def test_review_view(client_for, branch, review_coupon, front_desk, marketer, outsider):
    member = make_member(branch, name="王芳")
    url = reverse("loyalty:review_record", args=[member.pk])
    data = {"channel": "survey", "reference": "问卷 2026-11"}
    assert client_for(outsider).post(url, data).status_code == 404
    assert client_for(marketer).post(url, data).status_code == 403
    client = client_for(front_desk)
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert Coupon.objects.filter(member=member, template=review_coupon).count() == 1
    client.post(url, data)  # a second click: nothing more
    assert Coupon.objects.filter(member=member).count() == 1
    bad = client.post(url, {"channel": "nowhere"}, follow=True)
    assert bad.status_code == 200 and Coupon.objects.filter(member=member).count() == 1
    page = client.get(reverse("loyalty:coupons", args=[member.pk])).content.decode()
    assert 'data-testid="review-form"' in page and "好评礼" in page


def test_review_view_when_nothing_is_configured(client_for, branch, front_desk, settings):
    settings.LOYALTY_AUTO_COUPONS = {}
    member = make_member(branch, name="王芳")  # not a member: no survey points either
    response = client_for(front_desk).post(
        reverse("loyalty:review_record", args=[member.pk]), {"channel": "survey"}, follow=True
    )
    assert response.status_code == 200
    assert any(m.level_tag == "error" for m in response.context["messages"])
