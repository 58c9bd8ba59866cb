"""办卡: card numbers, the entry tier, welcome points and message, the person's stage."""

from __future__ import annotations

import pytest

from clinic.notifications.models import Outbox
from loyalty import services
from loyalty.errors import LoyaltyError
from loyalty.models import Membership, TierCause, TierChange
from members.models import Stage
from tests.members.factories import make_member

from .factories import account, tier

pytestmark = pytest.mark.django_db


def test_enrol_makes_a_member_with_card_entry_tier_welcome_points_and_message(branch, front_desk):
    member = make_member(branch, name="李雷", stage=Stage.PATIENT)
    m = services.membership_enrol(actor=front_desk, member=member, branch=branch, welcome_points=200)
    member.refresh_from_db()
    assert member.stage == Stage.MEMBER
    assert member.card_no == m.card_no
    assert m.card_no.startswith("JA") and len(m.card_no) == 2 + 6 + 1
    assert services.card_is_valid(m.card_no)
    assert m.tier == tier("basic")
    assert account(member).balance == 200
    change = TierChange.objects.get(member=member)
    assert change.cause == TierCause.ENROLMENT and change.from_tier is None
    msg = Outbox.objects.get(dedupe_key=f"loyalty:welcome:{m.pk}")
    assert msg.template_key == "loyalty.welcome" and msg.params["card_no"] == m.card_no


def test_policy_default_welcome_points(branch):
    member = make_member(branch)
    services.membership_enrol(actor=None, member=member, branch=branch)
    assert account(member).balance == services.policy().welcome_points == 100


def test_card_numbers_are_sequential_unique_and_checked(branch, other_branch):
    cards = [
        services.membership_enrol(
            actor=None, member=make_member(b, name=f"客户{i}"), branch=b, welcome_points=0
        ).card_no
        for i, b in enumerate([branch, branch, other_branch])
    ]
    assert cards[0][:8] == "JA000001" and cards[1][:8] == "JA000002" and cards[2][:8] == "PD000001"
    assert len(set(cards)) == 3
    assert not services.card_is_valid(cards[0][:-1] + str((int(cards[0][-1]) + 1) % 10))


def test_cannot_enrol_twice(branch):
    member = make_member(branch)
    services.membership_enrol(actor=None, member=member, branch=branch)
    with pytest.raises(LoyaltyError):
        services.membership_enrol(actor=None, member=member, branch=branch)
    assert Membership.objects.filter(member=member).count() == 1


def test_enrolment_counts_earlier_purchases_toward_the_tier(branch):
    from decimal import Decimal

    member = make_member(branch)
    services.purchase_record(actor=None, member=member, amount=Decimal("3500"), source_key="visit:1")
    m = services.membership_enrol(actor=None, member=member, branch=branch, welcome_points=0)
    assert m.tier == tier("silver")
    assert account(member).balance == 0  # purchases before enrolment earn no points


def test_enrol_with_an_existing_card_number_keeps_it_in_its_own_format(branch, other_branch):
    """The migration import's entry point: ``card_no=`` enrols with the old system's card."""
    member = make_member(branch, name="老会员", stage=Stage.PATIENT)
    m = services.membership_enrol(
        actor=None, member=member, branch=branch, card_no=" vip-00123 ", welcome_points=0
    )
    member.refresh_from_db()
    assert m.card_no == member.card_no == "VIP-00123"
    other = make_member(other_branch, name="另一人")
    with pytest.raises(LoyaltyError) as exc:
        services.membership_enrol(actor=None, member=other, branch=other_branch, card_no="VIP-00123")
    assert exc.value.field == "card_no"
    with pytest.raises(LoyaltyError):
        services.membership_enrol(actor=None, member=other, branch=other_branch, card_no="卡 1")
    assert not Membership.objects.filter(member=other).exists()


def test_enrol_refuses_to_replace_the_card_number_a_person_carries(branch):
    from members.services import member_stage_advance

    member = make_member(branch, stage=Stage.PATIENT)
    member_stage_advance(actor=None, member=member, stage=Stage.MEMBER, card_no="JA0001023")
    with pytest.raises(LoyaltyError):
        services.membership_enrol(actor=None, member=member, branch=branch, card_no="JA0001031")
    member.refresh_from_db()
    assert member.card_no == "JA0001023" and not Membership.objects.filter(member=member).exists()
