"""Campaign pages (issue 16): create (and bad input, nothing saved), sign-up by search, the
waiting list promoted on a cancellation, check-in by card/QR code, rewarding once, the front
desk checking in but not creating, another branch's campaign a 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.coupon_models import Coupon, CouponKind, CouponTemplate
from loyalty.models import PointsEntry
from loyalty.services.ledger import account_open
from marketing import campaigns
from marketing.models import Campaign, CampaignKind, CampaignSignup, SignupStatus
from members.models import Member
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


def _campaign(actor, branch, **kw):
    start = timezone.now() + dt.timedelta(days=2)
    return campaigns.campaign_create(
        actor=actor,
        branch=branch,
        name=kw.pop("name", "会员日"),
        kind=CampaignKind.MEMBER_DAY,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=3),
        **kw,
    )


def _form(branch, **over):
    start = timezone.localtime() + dt.timedelta(days=3)
    data = {
        "name": "儿童护牙讲座",
        "kind": "talk",
        "branch": branch.pk,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "capacity": "20",
        "budget": "800",
        "reward_points": "50",
        "channels": "微信、短信",
    }
    data.update(over)
    return data


def test_marketing_creates_a_campaign(client_for, marketer, branch):
    c = client_for(marketer)
    assert c.get(reverse("marketing:campaign_create")).status_code == 200
    r = c.post(reverse("marketing:campaign_create"), _form(branch))
    campaign = Campaign.objects.get(name="儿童护牙讲座")
    assert r.status_code == 302 and r["Location"] == reverse("marketing:campaign_detail", args=[campaign.pk])
    assert campaign.capacity == 20 and campaign.budget == Decimal("800.00") and campaign.reward_points == 50
    # the local time typed is the Shanghai time kept
    assert timezone.localtime(campaign.starts_at).strftime("%Y-%m-%dT%H:%M") == _form(branch)["starts_at"]
    page = c.get(reverse("marketing:campaign_list")).content.decode()
    assert "儿童护牙讲座" in page


@pytest.mark.parametrize(
    "over, needle",
    [
        ({"name": " "}, "name"),
        ({"kind": "nope"}, "kind"),
        ({"starts_at": "2026-13-45T99:00"}, "starts_at"),
        ({"budget": "-5"}, "budget"),
        ({"capacity": "abc"}, "capacity"),
    ],
)
def test_bad_input_is_refused_and_nothing_saved(client_for, marketer, branch, over, needle):
    r = client_for(marketer).post(reverse("marketing:campaign_create"), _form(branch, **over))
    assert r.status_code == 200
    assert needle in r.context["form"].errors
    assert not Campaign.objects.exists()


def test_end_before_start_is_explained(client_for, marketer, branch):
    data = _form(branch)
    data["ends_at"] = data["starts_at"]
    c = client_for(marketer)
    r = c.post(reverse("marketing:campaign_create"), data, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "ends_at" in r.context["form"].errors
    assert not Campaign.objects.exists()


def test_other_branch_refused_on_create(client_for, marketer, branch, other_branch):
    r = client_for(marketer).post(reverse("marketing:campaign_create"), _form(other_branch))
    assert r.status_code == 200 and "branch" in r.context["form"].errors
    assert not Campaign.objects.exists()


def test_signup_by_search_and_waiting_list_promotion(client_for, marketer, branch):
    campaign = _campaign(marketer, branch, capacity=1)
    a, b = make_member(branch, name="甲某"), make_member(branch, name="乙某")
    c = client_for(marketer)
    url = reverse("marketing:campaign_detail", args=[campaign.pk])
    found = c.get(url, {"q": "甲某"}, HTTP_HX_REQUEST="true").content.decode()
    assert "甲某" in found and reverse("marketing:campaign_signup", args=[campaign.pk]) in found
    for m in (a, b):
        assert (
            c.post(reverse("marketing:campaign_signup", args=[campaign.pk]), {"member": m.pk}).status_code
            == 302
        )
    sa, sb = (CampaignSignup.objects.get(campaign=campaign, member=m) for m in (a, b))
    assert (sa.status, sb.status) == (SignupStatus.CONFIRMED, SignupStatus.WAITING)
    page = c.get(url).content.decode()
    assert "乙某" in page
    c.post(reverse("marketing:campaign_signup_cancel", args=[campaign.pk]), {"signup": sa.pk})
    sa.refresh_from_db(), sb.refresh_from_db()
    assert (sa.status, sb.status) == (SignupStatus.CANCELLED, SignupStatus.CONFIRMED)


def test_signup_again_is_a_clear_message(client_for, marketer, branch):
    campaign = _campaign(marketer, branch)
    a = make_member(branch, name="甲某")
    c = client_for(marketer)
    url = reverse("marketing:campaign_signup", args=[campaign.pk])
    c.post(url, {"member": a.pk})
    r = c.post(url, {"member": a.pk}, follow=True)
    assert "此人已报名" in r.content.decode()  # the default language: Chinese
    assert c.post(url, {"member": "x"}).status_code == 302  # garbage: a message, no 500
    assert CampaignSignup.objects.filter(campaign=campaign).count() == 1


def test_front_desk_checks_in_by_code_but_may_not_create(client_for, front_desk, marketer, branch):
    campaign = _campaign(marketer, branch)
    a = make_member(branch, name="甲某")
    Member.objects.filter(pk=a.pk).update(card_no="CPG0001")
    c = client_for(front_desk)
    assert c.get(reverse("marketing:campaign_create")).status_code == 403
    assert c.post(reverse("marketing:campaign_create"), _form(branch)).status_code == 403
    url = reverse("marketing:campaign_checkin", args=[campaign.pk])
    r = c.post(url, {"code": "nobody"}, follow=True)
    assert "找不到持有此卡号或二维码的客户" in r.content.decode()
    c.post(url, {"code": " cpg0001 "})
    s = CampaignSignup.objects.get(campaign=campaign, member=a)
    assert s.status == SignupStatus.ATTENDED
    # the front desk gives no rewards, cancels nothing and draws nothing
    assert (
        c.post(reverse("marketing:campaign_reward", args=[campaign.pk]), {"signup": s.pk}).status_code == 403
    )
    assert (
        c.post(reverse("marketing:campaign_draw", args=[campaign.pk]), {"prize": "x", "count": 1}).status_code
        == 403
    )


def test_marketing_may_not_check_in(client_for, marketer, branch):
    campaign = _campaign(marketer, branch)
    a = make_member(branch, name="甲某")
    r = client_for(marketer).post(reverse("marketing:campaign_checkin", args=[campaign.pk]), {"member": a.pk})
    assert r.status_code == 403


def test_reward_once_and_the_button_goes(client_for, marketer, front_desk, branch):
    tpl = CouponTemplate.objects.create(
        name="活动券", kind=CouponKind.AMOUNT, amount_off=Decimal("50"), per_member_limit=0, valid_days=30
    )
    campaign = _campaign(marketer, branch, reward_points=100, reward_coupon=tpl)
    a = make_member(branch, name="甲某")
    account_open(member=a)
    campaigns.checkin(actor=front_desk, campaign=campaign, member=a)
    s = CampaignSignup.objects.get(campaign=campaign, member=a)
    c = client_for(marketer)
    url = reverse("marketing:campaign_detail", args=[campaign.pk])
    assert 'data-testid="signup-reward"' in c.get(url).content.decode()
    for _ in range(2):
        c.post(reverse("marketing:campaign_reward", args=[campaign.pk]), {"signup": s.pk})
    assert PointsEntry.objects.filter(account__member=a, kind="earn").count() == 1
    assert Coupon.objects.filter(member=a, template=tpl).count() == 1
    assert 'data-testid="signup-reward"' not in c.get(url).content.decode()


def test_draw_shows_seed_winners_and_verifies(client_for, marketer, front_desk, branch):
    campaign = _campaign(marketer, branch)
    for n in ("甲某", "乙某", "丙某"):
        campaigns.checkin(actor=front_desk, campaign=campaign, member=make_member(branch, name=n))
    c = client_for(marketer)
    c.post(reverse("marketing:campaign_draw", args=[campaign.pk]), {"prize": "电动牙刷", "count": "2"})
    draw = campaign.draws.get()
    page = c.get(reverse("marketing:campaign_detail", args=[campaign.pk])).content.decode()
    assert draw.seed in page and 'data-testid="draw-verified"' in page and "电动牙刷" in page
    r = c.post(reverse("marketing:campaign_draw", args=[campaign.pk]), {"prize": "", "count": "0"})
    assert r.status_code == 302 and campaign.draws.count() == 1


def test_no_show_followups_after_the_event(client_for, marketer, branch):
    campaign = _campaign(marketer, branch)
    campaigns.signup_create(actor=marketer, campaign=campaign, member=make_member(branch, name="甲某"))
    c = client_for(marketer)
    r = c.post(reverse("marketing:campaign_noshows", args=[campaign.pk]), follow=True)
    assert "活动尚未结束" in r.content.decode()
    Campaign.objects.filter(pk=campaign.pk).update(
        starts_at=timezone.now() - dt.timedelta(hours=5), ends_at=timezone.now() - dt.timedelta(hours=1)
    )
    r = c.post(reverse("marketing:campaign_noshows", args=[campaign.pk]), follow=True)
    assert "已生成 1 条回访任务" in r.content.decode()


def test_other_branch_gets_404(client_for, marketer, outsider, branch):
    campaign = _campaign(marketer, branch)
    c = client_for(outsider)
    assert c.get(reverse("marketing:campaign_detail", args=[campaign.pk])).status_code == 404
    assert c.post(reverse("marketing:campaign_checkin", args=[campaign.pk]), {"code": "x"}).status_code == 404
    assert "会员日" not in c.get(reverse("marketing:campaign_list")).content.decode()
