"""Naming a referrer on the registration form: by referral code (or the scanned link of a
referral QR), phone number, card number or name; unknown or ambiguous answers are clear
errors in Chinese and register nobody; ``?ref=<code>`` prefills the field."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation

from loyalty import referrals
from loyalty.coupon_models import Referral
from loyalty.errors import LoyaltyError
from members.models import Member
from tests.members.factories import make_member

from .factories import enrolled

pytestmark = pytest.mark.django_db


@pytest.fixture
def friend(branch):
    return enrolled(branch, name="老朋友", phone="13900005001")


def resolve_error(query, user=None) -> LoyaltyError:
    with pytest.raises(LoyaltyError) as err:
        referrals.referrer_resolve(query, user=user)
    assert err.value.field == "referrer"
    return err.value


def test_by_code_link_phone_card_and_name(friend, front_desk):
    member = friend.member
    code = referrals.referral_code_for(member)
    assert referrals.referrer_resolve(code.lower()) == member
    assert referrals.referrer_resolve(f"{code[:3]}-{code[3:]}") == member
    link = f"http://clinic.example/members/new/?ref={code}"
    assert referrals.referrer_resolve(link) == member
    assert referrals.referrer_resolve("+86 139 0000 5001") == member
    assert referrals.referrer_resolve(friend.card_no.lower()) == member
    assert referrals.referrer_resolve(" 老朋友 ", user=front_desk) == member


def test_unknown_typo_and_empty_are_clear_errors(friend):
    code = referrals.referral_code_for(friend.member)
    typo = code[:-1] + next(c for c in "23456789ABCDEFGHJKMNPQRSTUVWXYZ" if c != code[-1])
    with translation.override("zh-hans"):
        assert resolve_error(typo).code == "typo"
        unknown = resolve_error("13911112222")
        assert unknown.code == "unknown" and "139****2222" in str(unknown.message)
        assert resolve_error("没这个人").code == "unknown"
        assert resolve_error("   ").code == "invalid"


def test_a_shared_phone_or_name_is_ambiguous(branch, friend, front_desk):
    make_member(branch, name="老朋友", phone="13900005001")  # a family member on the same phone
    err = resolve_error("13900005001")
    assert err.code == "ambiguous" and "139****5001" in str(err.message)
    err = resolve_error("老朋友", user=front_desk)
    assert err.code == "ambiguous" and "静安店" in str(err.message)
    # The code still names exactly one of them.
    assert referrals.referrer_resolve(referrals.referral_code_for(friend.member)) == friend.member


def test_names_are_searched_only_in_the_users_branches(other_branch, front_desk):
    far = enrolled(other_branch, name="外店老客", phone="13900005011")
    assert resolve_error("外店老客", user=front_desk).code == "unknown"
    assert referrals.referrer_resolve(referrals.referral_code_for(far.member), user=front_desk) == far.member


def test_closed_records_cannot_refer(friend):
    code = referrals.referral_code_for(friend.member)
    Member.objects.filter(pk=friend.member_id).update(status="closed")
    assert resolve_error(code).code == "unknown"


# --- the registration form --------------------------------------------------------------------


def post(client, **data):
    return client.post(reverse("members:create"), {"name": "新朋友", "stage": "lead", **data})


def test_registering_with_a_referral_code_records_the_referral(client_for, front_desk, friend):
    code = referrals.referral_code_for(friend.member)
    response = post(client_for(front_desk), phone="13900005002", referrer=code)
    assert response.status_code == 302
    referee = Member.objects.get(name="新朋友")
    referral = Referral.objects.get(referee=referee)
    assert referral.referrer == friend.member and referral.created_by == front_desk


def test_the_referral_qr_link_prefills_the_field(client_for, front_desk, friend):
    code = referrals.referral_code_for(friend.member)
    page = client_for(front_desk).get(reverse("members:create"), {"ref": code}).content.decode()
    assert 'name="referrer"' in page and f'value="{code}"' in page
    assert "推荐人" in page


def test_an_unknown_referrer_is_a_form_error_and_nobody_is_registered(client_for, front_desk, friend):
    response = post(client_for(front_desk), phone="13900005002", referrer="13911112222")
    assert response.status_code == 200
    assert "没有找到手机号为 139****2222 的推荐人" in response.content.decode()
    assert not Member.objects.filter(name="新朋友").exists()


def test_a_refused_referral_rolls_the_registration_back(client_for, front_desk, friend):
    """Same phone as the referrer: the person would be saved first, then the referral is
    refused — one transaction, so neither is kept."""
    code = referrals.referral_code_for(friend.member)
    response = post(client_for(front_desk), phone="13900005001", referrer=code, allow_duplicate="on")
    assert response.status_code == 200
    html = response.content.decode()
    assert "推荐人" in html and "手机号" in html
    assert not Member.objects.filter(name="新朋友").exists()
    assert not Referral.objects.exists()


def test_without_the_referral_permission_there_is_no_field(client_for, staff_factory, friend):
    from clinic.models import Role

    user = staff_factory(Role.MARKETING, username="mkt_plus")
    user.user_permissions.add(
        Permission.objects.get(codename="add_member", content_type__app_label="members")
    )
    page = client_for(user).get(reverse("members:create")).content.decode()
    assert 'name="referrer"' not in page
    code = referrals.referral_code_for(friend.member)
    response = post(client_for(user), phone="13900005002", referrer=code)
    assert response.status_code == 302  # the field is ignored, not an error
    assert not Referral.objects.exists()


def test_the_referrals_page_uses_the_same_lookup(client_for, branch, front_desk, friend):
    referee = make_member(branch, name="新朋友", phone="13900005002")
    url = reverse("loyalty:referrer_set", args=[referee.pk])
    response = client_for(front_desk).post(url, {"referrer": "老朋友"}, follow=True)
    assert response.status_code == 200
    assert Referral.objects.get(referee=referee).referrer == friend.member
