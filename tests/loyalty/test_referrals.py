"""Referrals: codes, guards, the reward once after a first paid visit as a member, the
monthly cap, reversal on void, and the screens."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty import referrals
from loyalty.coupon_models import Referral, ReferralStatus
from loyalty.errors import LoyaltyError
from loyalty.models import BonusRule, PointsEntry
from members.models import FamilyLink
from tests.members.factories import make_member

from .factories import account, buy, enrolled, invariant_holds

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(branch):
    referrer = enrolled(branch, name="推荐人", phone="13900005001").member
    referee = enrolled(branch, name="新朋友", phone="13900005002").member
    return referrer, referee


def bonus() -> int:
    return BonusRule.objects.get(kind="referral").points


def test_codes_and_lookup_by_code_or_phone(pair):
    referrer, _referee = pair
    code = referrals.referral_code_for(referrer)
    assert referrals.referral_code_for(referrer) == code and len(code) == 7
    assert referrals.find_referrer(code.lower()) == referrer
    assert referrals.find_referrer("139 0000 5001") == referrer
    assert referrals.find_referrer("nothing") is None


def test_guards(branch, pair, front_desk, doctor):
    referrer, referee = pair
    with pytest.raises(LoyaltyError) as err:
        referrals.referral_set(actor=front_desk, referee=referee, referrer=referee)
    assert err.value.code == "self"
    relative = enrolled(branch, name="家属", phone="13900005003").member
    FamilyLink.objects.create(member=referee, relative=relative, relation="spouse")
    with pytest.raises(LoyaltyError) as err:
        referrals.referral_set(actor=front_desk, referee=referee, referrer=relative)
    assert err.value.code == "family"
    with pytest.raises(LoyaltyError) as err:
        referrals.referral_set(actor=doctor, referee=referee, referrer=referrer)
    assert err.value.code == "forbidden"
    referrals.referral_set(actor=front_desk, referee=referee, referrer=referrer)
    third = enrolled(branch, name="第三人", phone="13900005004").member
    with pytest.raises(LoyaltyError) as err:
        referrals.referral_set(actor=front_desk, referee=referee, referrer=third)
    assert err.value.code == "exists"


def test_same_phone_is_refused(pair, front_desk):
    referrer, referee = pair
    referee.phone_digits = referrer.phone_digits
    with pytest.raises(LoyaltyError) as err:
        referrals.referral_set(actor=front_desk, referee=referee, referrer=referrer)
    assert err.value.code == "same_phone"


def test_reward_once_after_the_first_paid_visit_and_reversed_on_void(pair, front_desk):
    referrer, referee = pair
    referrals.referral_set(actor=front_desk, referee=referee, referrer=referrer)
    before = account(referrer).balance
    buy(referee, "300", "visit:1")
    r = referrals.referral_reward_check(actor=None, member=referee, source_key="visit:1")
    assert r.status == ReferralStatus.REWARDED
    assert account(referrer).balance == before + bonus()
    referrals.referral_reward_check(actor=None, member=referee, source_key="visit:1")  # retry
    buy(referee, "300", "visit:2")
    referrals.referral_reward_check(actor=None, member=referee, source_key="visit:2")  # not the first
    assert account(referrer).balance == before + bonus()
    assert PointsEntry.objects.filter(idempotency_key__startswith=f"referral:{r.pk}:").count() == 2
    referrals.referral_reverse(actor=None, source_key="visit:1")
    referrals.referral_reverse(actor=None, source_key="visit:1")
    r.refresh_from_db()
    assert r.status == ReferralStatus.REVERSED
    assert account(referrer).balance == before
    assert invariant_holds(referrer) and invariant_holds(referee)


def test_no_reward_before_enrolment(branch, front_desk):
    referrer = enrolled(branch, name="推荐人", phone="13900005001").member
    walk_in = make_member(branch, name="散客", phone="13900005009")
    referrals.referral_set(actor=front_desk, referee=walk_in, referrer=referrer)
    buy(walk_in, "300", "visit:1")
    assert referrals.referral_reward_check(actor=None, member=walk_in, source_key="visit:1").status == (
        ReferralStatus.PENDING
    )


def test_monthly_cap(branch, front_desk, settings):
    settings.LOYALTY_REFERRAL_MONTHLY_CAP = 1
    referrer = enrolled(branch, name="推荐人", phone="13900005001").member
    statuses = []
    for i in range(2):
        friend = enrolled(branch, name=f"朋友{i}", phone=f"1390000600{i}").member
        referrals.referral_set(actor=front_desk, referee=friend, referrer=referrer)
        buy(friend, "300", f"visit:{i}")
        statuses.append(
            referrals.referral_reward_check(actor=None, member=friend, source_key=f"visit:{i}").status
        )
    assert statuses == [ReferralStatus.REWARDED, ReferralStatus.CAPPED]


def test_checkout_rewards_through_appointments_integration(pair, front_desk):
    """appointments' after_checkout calls referral_reward_check after purchase_record."""
    from appointments import integration

    assert (
        integration._optional("loyalty.referrals", "referral_reward_check") is referrals.referral_reward_check
    )
    assert integration._optional("loyalty.referrals", "referral_reverse") is referrals.referral_reverse


# --- screens --------------------------------------------------------------------------------


def test_referral_screen_set_referrer_and_permissions(
    client_for, pair, front_desk, doctor, outsider, marketer
):
    referrer, referee = pair
    code = referrals.referral_code_for(referrer)
    url = reverse("loyalty:referrer_set", args=[referee.pk])
    assert client_for(outsider).post(url, {"referrer": code}).status_code == 404
    assert client_for(doctor).post(url, {"referrer": code}).status_code == 403
    assert client_for(front_desk).post(url, {"referrer": code}).status_code == 302
    assert Referral.objects.get(referee=referee).referrer == referrer
    page = client_for(front_desk).get(reverse("loyalty:referrals", args=[referrer.pk]))
    assert page.status_code == 200 and page.content.decode().count("referral-row") == 1
    board = reverse("loyalty:referral_leaderboard")
    assert client_for(front_desk).get(board).status_code == 403
    assert client_for(marketer).get(board).status_code == 200


def test_enrolling_after_the_first_paid_visit_rewards_the_referral(branch, front_desk):
    from loyalty import services

    referrer = enrolled(branch, name="推荐人", phone="13900005001").member
    walk_in = make_member(branch, name="散客", phone="13900005009")
    referrals.referral_set(actor=front_desk, referee=walk_in, referrer=referrer)
    buy(walk_in, "300", "visit:1")
    services.membership_enrol(actor=None, member=walk_in, branch=branch, welcome_points=0)
    r = Referral.objects.get(referee=walk_in)
    assert (r.status, r.source_key) == (ReferralStatus.REWARDED, "visit:1")
    assert account(referrer).balance == bonus()
