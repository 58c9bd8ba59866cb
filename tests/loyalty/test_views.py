"""The loyalty tab and its forms: happy paths, outsiders, wrong roles, read-only POSTs,
query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.models import Role
from loyalty.models import Membership, PointsEntry
from members.models import Stage
from tests.members.factories import make_member

from .factories import buy, earn, enrolled, tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(branch):
    return make_member(branch, name="韩梅梅", stage=Stage.PATIENT)


@pytest.fixture
def gold(branch):
    m = enrolled(branch, name="金卡客户")
    buy(m.member, "3000", "visit:1")
    for i in range(12):
        earn(m.member, 10 + i, f"e{i}", days_ago=i * 20)
    return m


def test_front_desk_enrols_from_the_profile(client_for, front_desk, member):
    client = client_for(front_desk)
    page = client.get(reverse("members:detail", args=[member.pk]) + "?tab=loyalty")
    assert page.status_code == 200
    assert "办理会员卡" in page.content.decode()
    response = client.post(reverse("loyalty:enrol", args=[member.pk]))
    assert response.status_code == 302
    membership = Membership.objects.get(member=member)
    assert membership.card_no.startswith("JA")
    page = client.get(reverse("members:detail", args=[member.pk]) + "?tab=loyalty")
    html = page.content.decode()
    assert membership.card_no in html and "普通会员" in html


def test_enrolment_grants_the_policys_welcome_points_whatever_the_form_says(client_for, front_desk, member):
    from loyalty.services import policy

    client = client_for(front_desk)
    html = client.get(reverse("loyalty:panel", args=[member.pk])).content.decode()
    assert 'name="welcome_points"' not in html
    assert f"赠送 {policy().welcome_points} 积分" in html
    client.post(reverse("loyalty:enrol", args=[member.pk]), {"welcome_points": "100000"})
    assert member.points_accounts.get().balance == policy().welcome_points == 100


def test_enrolment_keeps_the_card_number_the_person_already_shows(client_for, front_desk, branch):
    from members.services import member_stage_advance

    person = make_member(branch, name="王芳", stage=Stage.PATIENT)
    member_stage_advance(actor=None, member=person, stage=Stage.MEMBER, card_no="JA0001023")
    client = client_for(front_desk)
    html = client.get(reverse("loyalty:panel", args=[person.pk])).content.decode()
    assert "JA0001023" in html
    client.post(reverse("loyalty:enrol", args=[person.pk]))
    person.refresh_from_db()
    assert Membership.objects.get(member=person).card_no == person.card_no == "JA0001023"
    found = client.get(reverse("members:list"), {"q": "JA0001023"}).content.decode()
    assert "王芳" in found


def test_panel_shows_balance_tier_progress_lots_history_allowances(client_for, front_desk, gold):
    response = client_for(front_desk).get(reverse("loyalty:panel", args=[gold.member.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "银卡" in html and 'data-testid="progress"' in html
    assert "本年度剩余免费洁牙 1 次" in html
    assert "就诊 No. 1" in html and "visit:1" not in html  # the source of the earn, in words
    assert str(gold.member.points_accounts.get().balance) in html


def test_profile_tab_and_badge(client_for, front_desk, gold):
    html = (
        client_for(front_desk)
        .get(reverse("members:detail", args=[gold.member.pk]) + "?tab=loyalty")
        .content.decode()
    )
    assert 'data-testid="loyalty-panel"' in html and "银卡" in html


def test_outsider_gets_404(client_for, outsider, gold):
    client = client_for(outsider)
    for name in ("loyalty:panel", "loyalty:history", "loyalty:card"):
        assert client.get(reverse(name, args=[gold.member.pk])).status_code == 404
    assert client.post(reverse("loyalty:enrol", args=[gold.member.pk])).status_code == 404
    assert (
        client.post(
            reverse("loyalty:adjust", args=[gold.member.pk]), {"points": 5, "reason": "x"}
        ).status_code
        == 404
    )


def test_wrong_role_gets_403(client_for, staff_factory, front_desk, member, gold):
    doctor = staff_factory(Role.DOCTOR, username="doc")
    assert client_for(doctor).post(reverse("loyalty:enrol", args=[member.pk])).status_code == 403
    token = "7f6f0c57-6a2d-4a2e-9d0e-9a1c1e1e1e1e"
    url = reverse("loyalty:adjust", args=[gold.member.pk])
    assert client_for(front_desk).post(url, {"points": 5, "reason": "x", "token": token}).status_code == 403
    url = reverse("loyalty:tier_override", args=[gold.member.pk])
    assert client_for(front_desk).post(url, {"tier": tier("gold").pk, "reason": "x"}).status_code == 403
    assert not Membership.objects.filter(member=member).exists()


def test_read_only_role_post_is_refused(client_for, marketer, member):
    # 市场 may look at a profile but change nothing.
    client = client_for(marketer)
    assert client.get(reverse("loyalty:panel", args=[member.pk])).status_code == 200
    assert client.post(reverse("loyalty:enrol", args=[member.pk])).status_code == 403
    assert client.post(reverse("loyalty:panel", args=[member.pk])).status_code == 405


def test_manager_adjusts_once_per_token_and_overrides_tier(client_for, manager, gold):
    client = client_for(manager)
    before = gold.member.points_accounts.get().balance
    data = {"points": "25", "reason": "活动补录", "token": "0b8e51c6-4c4e-4fd5-8c3b-6a0c6e2b9a11"}
    url = reverse("loyalty:adjust", args=[gold.member.pk])
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302  # a double click
    assert gold.member.points_accounts.get().balance == before + 25
    assert PointsEntry.objects.filter(kind="adjust").count() == 1
    response = client.post(
        reverse("loyalty:tier_override", args=[gold.member.pk]),
        {"tier": tier("gold").pk, "reason": "院长特批"},
    )
    assert response.status_code == 302
    gold.refresh_from_db()
    assert gold.tier.code == "gold"


def test_adjust_without_reason_changes_nothing(client_for, manager, gold):
    before = gold.member.points_accounts.get().balance
    client_for(manager).post(
        reverse("loyalty:adjust", args=[gold.member.pk]),
        {"points": "25", "reason": "", "token": "0b8e51c6-4c4e-4fd5-8c3b-6a0c6e2b9a12"},
    )
    assert gold.member.points_accounts.get().balance == before


def test_query_counts_are_capped(client_for, front_desk, gold, django_assert_max_num_queries):
    client = client_for(front_desk)
    client.get(reverse("loyalty:panel", args=[gold.member.pk]))  # warm caches (content types, sessions)
    with django_assert_max_num_queries(25):
        assert client.get(reverse("loyalty:panel", args=[gold.member.pk])).status_code == 200
    with django_assert_max_num_queries(20):
        assert client.get(reverse("loyalty:history", args=[gold.member.pk])).status_code == 200


def test_printable_card(client_for, front_desk, gold):
    html = client_for(front_desk).get(reverse("loyalty:card", args=[gold.member.pk])).content.decode()
    assert gold.card_no in html
