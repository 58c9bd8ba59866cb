"""The front desk's rewards screen (find a person, see their points and the catalogue) and
the staff navigation to the loyalty screens, by role."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.navigation import items_for
from loyalty import rewards
from loyalty.coupon_models import RewardItem, RewardKind
from tests.members.factories import make_member

from .factories import earn, enrolled

pytestmark = pytest.mark.django_db

URL = "loyalty:rewards_desk"


@pytest.fixture
def world(branch, other_branch, front_desk):
    member = enrolled(branch, name="李四", phone="13900002222").member
    earn(member, 600, "t:earn")
    far = enrolled(other_branch, name="李四", phone="13900002223").member
    earn(far, 900, "t:far")
    gift = RewardItem.objects.create(name="漱口水礼盒", kind=RewardKind.GIFT, points_cost=300, stock=5)
    rewards.reward_redeem(actor=front_desk, member=member, item=gift)
    rewards.reward_redeem(actor=None, member=far, item=gift)
    return member, far, gift


def test_search_shows_points_and_links_to_the_members_rewards(client_for, front_desk, world):
    member, far, _gift = world
    client = client_for(front_desk)
    page = client.get(reverse(URL), {"q": "13900002222"}).content.decode()
    assert reverse("loyalty:rewards", args=[member.pk]) in page
    assert "300" in page  # 600 − 300 redeemed
    assert "漱口水礼盒" in page  # the catalogue
    partial = client.get(reverse(URL), {"q": "李四"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and partial.count('data-testid="rewards-desk-result"') == 1
    assert reverse("loyalty:rewards", args=[far.pk]) not in partial  # another branch: no link


def test_latest_redemptions_are_the_users_branches_only(client_for, front_desk, world):
    member, far, _gift = world
    page = client_for(front_desk).get(reverse(URL)).content.decode()
    assert reverse("loyalty:rewards", args=[member.pk]) in page
    assert reverse("loyalty:rewards", args=[far.pk]) not in page


def test_a_non_member_is_found_and_marked(client_for, branch, front_desk, world):
    make_member(branch, name="王五", phone="13900003333")
    page = client_for(front_desk).get(reverse(URL), {"q": "13900003333"}).content.decode()
    assert "王五" in page and "尚未" in page


def test_permissions(client_for, doctor, marketer, front_desk, world):
    assert client_for(doctor).get(reverse(URL)).status_code == 403
    assert client_for(marketer).get(reverse(URL)).status_code == 403
    assert client_for(front_desk).get(reverse(URL), {"q": "x" * 500}).status_code == 200


def test_query_count_is_capped(client_for, front_desk, world, django_assert_max_num_queries):
    client = client_for(front_desk)
    with django_assert_max_num_queries(16):
        assert client.get(reverse(URL), {"q": "李四"}).status_code == 200


def nav(user) -> set[str]:
    return {item.url_name for item in items_for(user)}


LOYALTY_NAV = {"loyalty:rewards_desk", "loyalty:coupon_batches", "loyalty:referral_leaderboard"}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("front_desk", {"loyalty:rewards_desk"}),
        ("customer_service", {"loyalty:rewards_desk"}),
        ("marketer", {"loyalty:coupon_batches", "loyalty:referral_leaderboard"}),
        ("manager", LOYALTY_NAV),
        ("hq_admin", LOYALTY_NAV),
        ("doctor", set()),
        ("consultant", set()),
    ],
)
def test_navigation_by_role(request, client_for, role, expected):
    user = request.getfixturevalue(role)
    assert nav(user) & LOYALTY_NAV == expected
    html = client_for(user).get(reverse("home")).content.decode()
    for name in LOYALTY_NAV:
        assert (f'href="{reverse(name)}"' in html) == (name in expected), name
    for name in expected:  # every link the nav shows opens for that role
        assert client_for(user).get(reverse(name)).status_code == 200, name
