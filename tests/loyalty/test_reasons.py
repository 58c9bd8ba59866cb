"""Reasons the system writes on points entries (and on the coupons it issues) are stored as
codes and read in the reader's language; reasons typed by staff, and the text that entries
written before the codes carry, are shown as stored."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from loyalty import auto_coupons, profile, referrals, rewards, services
from loyalty.coupon_models import Coupon, CouponKind, CouponTemplate, RewardItem, RewardKind
from loyalty.coupon_views import _source
from loyalty.models import EntryKind, PointsEntry
from loyalty.reasons import PointsReason, reason_label
from members.models import Stage
from members.services import member_merge
from tests.members.factories import make_member

from .factories import buy, earn, enrolled

pytestmark = pytest.mark.django_db


def history_table(client, member, language: str) -> str:
    """The points history of the full history page, in ``language``."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    with translation.override(language):  # the middleware activates it; leave no trace
        html = client.get(reverse("loyalty:history", args=[member.pk])).content.decode()
    return html[html.index('data-testid="history"') :]


def panel_table(client, member, language: str) -> str:
    """The points history on the profile's loyalty tab, in ``language``."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    with translation.override(language):
        html = client.get(reverse("loyalty:panel", args=[member.pk])).content.decode()
    start = html.index('data-testid="history"')
    return html[start : html.index("</table>", start)]


def labels(reason: str) -> tuple[str, str]:
    with translation.override("zh-hans"):
        zh = reason_label(reason)
    with translation.override("en"):
        en = reason_label(reason)
    return zh, en


def test_welcome_points_enrolled_in_chinese_read_in_each_readers_language(client_for, branch, front_desk):
    member = make_member(branch, name="韩梅梅", stage=Stage.PATIENT)
    with translation.override("zh-hans"):  # a Chinese-speaking front desk enrols
        membership = services.membership_enrol(
            actor=front_desk, member=member, branch=branch, welcome_points=50
        )
    entry = PointsEntry.objects.get(idempotency_key=f"enrol:{membership.pk}:welcome")
    assert entry.reason == PointsReason.WELCOME == "welcome"  # no language at rest
    client = client_for(front_desk)
    for table in (history_table(client, member, "zh-hans"), panel_table(client, member, "zh-hans")):
        assert "开卡赠送积分" in table and "Welcome points" not in table and ">welcome<" not in table
    for table in (history_table(client, member, "en"), panel_table(client, member, "en")):
        assert "Welcome points" in table and "开卡赠送积分" not in table


def test_staff_reasons_and_reasons_stored_before_the_codes_are_shown_as_stored(client_for, branch, manager):
    m = enrolled(branch)
    services.points_adjust(actor=manager, member=m.member, points=30, reason="活动补录")
    # An entry written before the codes: the translated text of the day stays as it was.
    services.points_earn(
        actor=None, member=m.member, points=20, idempotency_key="legacy:1", reason="开卡赠送积分"
    )
    client = client_for(manager)
    for language in ("zh-hans", "en"):
        table = history_table(client, m.member, language)
        assert "活动补录" in table and "开卡赠送积分" in table
    assert labels("活动补录") == ("活动补录", "活动补录")
    assert labels("") == ("", "")


def test_points_timeline_reads_the_reason_in_the_active_language(branch):
    m = enrolled(branch, welcome_points=50)
    member = m.member
    member.refresh_from_db()
    with translation.override("en"):
        details = [e.detail for e in profile._points_timeline(member, None, 10)]
    assert details == ["Welcome points"]
    with translation.override("zh-hans"):
        details = [e.detail for e in profile._points_timeline(member, None, 10)]
    assert details == ["开卡赠送积分"]


def test_bonus_awards_store_the_bonus_kind(branch):
    m = enrolled(branch)
    entry = services.points_bonus_award(
        actor=None, member=m.member, kind="birthday", idempotency_key="birthday:2026"
    )
    assert entry.reason == "birthday"
    assert labels(entry.reason) == ("生日积分", "Birthday bonus")


def test_review_reward_points_store_the_survey_code(branch, settings):
    settings.LOYALTY_AUTO_COUPONS = {}
    m = enrolled(branch)
    reward = auto_coupons.review_reward(actor=None, member=m.member, source_key="survey:9")
    assert reward.points.reason == "survey"
    assert labels("survey") == ("评价或问卷", "Review or survey")


def test_merge_entries_store_the_merge_code(branch, manager):
    keep = enrolled(branch, name="张三").member
    dup = make_member(branch, name="张三")
    services.account_open(member=dup)
    services.points_adjust(actor=manager, member=dup, points=40, reason="旧卡积分")
    member_merge(actor=manager, source=dup, target=keep)
    moved = PointsEntry.objects.filter(idempotency_key__startswith=f"merge:{dup.pk}:{keep.pk}:")
    assert sorted(moved.values_list("points", flat=True)) == [-40, 40]
    assert set(moved.values_list("reason", flat=True)) == {"merge"}  # what merges always wrote
    assert labels("merge") == ("合并重复档案时转移", "Moved by a merge of duplicate records")


def test_referral_rewards_and_their_reversal_store_codes(branch, front_desk, settings):
    settings.LOYALTY_AUTO_COUPONS = {"referral": "推荐礼"}
    CouponTemplate.objects.create(name="推荐礼", kind=CouponKind.AMOUNT, amount_off=Decimal("20"))
    referrer = enrolled(branch, name="推荐人", phone="13900005001").member
    referee = enrolled(branch, name="新朋友", phone="13900005002").member
    referrals.referral_set(actor=front_desk, referee=referee, referrer=referrer)
    buy(referee, "300", "visit:1")
    with translation.override("zh-hans"):
        referral = referrals.referral_reward_check(actor=None, member=referee, source_key="visit:1")
        referrals.referral_reverse(actor=None, source_key="visit:1")
    entries = PointsEntry.objects.filter(idempotency_key__startswith=f"referral:{referral.pk}:")
    assert {(e.kind, e.reason) for e in entries} == {
        (EntryKind.EARN, "referral"),
        (EntryKind.REVERSE, "referral_reversed"),
    }
    assert labels("referral_reversed") == ("推荐奖励已撤回", "Referral reward reversed")
    coupons = Coupon.objects.filter(issue_key__startswith=f"referral:{referral.pk}:")
    assert coupons.count() == 2 and {c.reason for c in coupons} == {"referral"}
    with translation.override("en"):
        assert _source(coupons[0]) == "Referral reward"
    with translation.override("zh-hans"):
        assert _source(coupons[0]) == "推荐奖励"


def test_a_coupon_reward_stores_its_code(branch, front_desk):
    m = enrolled(branch)
    earn(m.member, 500, "e1")
    tpl = CouponTemplate.objects.create(name="减50", kind=CouponKind.AMOUNT, amount_off=Decimal("50"))
    item = RewardItem.objects.create(
        name="50元券", kind=RewardKind.COUPON, coupon_template=tpl, points_cost=200, stock=None
    )
    with translation.override("zh-hans"):
        rewards.reward_redeem(actor=front_desk, member=m.member, item=item)
    coupon = Coupon.objects.get(member=m.member, template=tpl)
    assert coupon.reason == "reward"
    with translation.override("en"):
        assert _source(coupon) == "Points reward"
    with translation.override("zh-hans"):
        assert _source(coupon) == "积分兑换"
