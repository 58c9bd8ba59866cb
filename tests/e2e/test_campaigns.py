"""Campaigns in a real browser: marketing creates an event from the 市场 menu, signs two
people up by searching, the front desk checks one in at the door by typing the card code,
and marketing rewards that person once (the button goes; points given once). Screenshots
of the campaign page at a desk screen and on a phone."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.members.factories import make_member

from .conftest import nav_click
from .test_appointments import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("CAMPAIGN_SHOTS", "var/screenshots")


def _shot(page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True, caret="initial")


def test_create_sign_up_check_in_reward_once(live_server, page, branch, marketer, front_desk, cleaning):
    from loyalty.models import PointsEntry
    from loyalty.services.ledger import account_open
    from marketing.models import Campaign, CampaignSignup, SignupStatus
    from members.models import Member

    a = make_member(branch, name="陈小雨", phone="13700102001")
    b = make_member(branch, name="王大山", phone="13700102002")
    account_open(member=a)
    Member.objects.filter(pk=a.pk).update(card_no="CPGE2E01")

    log_in(page, live_server.url, marketer.username)
    nav_click(page, "活动")
    page.get_by_test_id("campaign-new").click()
    form = page.get_by_test_id("campaign-form")
    start = timezone.localtime() + dt.timedelta(days=2)
    form.get_by_label("活动名称").fill("儿童护牙健康讲座")
    form.locator("select[name=kind]").select_option("talk")
    form.locator("input[name=starts_at]").fill(start.strftime("%Y-%m-%dT10:00"))
    form.locator("input[name=ends_at]").fill(start.strftime("%Y-%m-%dT12:00"))
    form.get_by_label("名额").fill("10")
    form.get_by_label("到场积分").fill("100")
    form.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("儿童护牙健康讲座")
    campaign = Campaign.objects.get(name="儿童护牙健康讲座")
    assert timezone.localtime(campaign.starts_at).hour == 10

    for person in (a, b):
        page.locator("#pick-q").fill(person.phone)
        signup = page.get_by_test_id("pick-result").filter(has_text=person.name).get_by_test_id("pick-signup")
        signup.click()
        expect(page.get_by_test_id("campaign-signups")).to_contain_text(person.name)
    assert CampaignSignup.objects.filter(campaign=campaign, status=SignupStatus.CONFIRMED).count() == 2

    # the front desk, at the door, types the card code
    desk = page.context.browser.new_context(base_url=live_server.url, locale="zh-CN")
    desk_page = desk.new_page()
    log_in(desk_page, live_server.url, front_desk.username)
    desk_page.goto(live_server.url + reverse("marketing:campaign_detail", args=[campaign.pk]))
    desk_page.get_by_label("现场签到：输入或扫描会员卡号/二维码").fill("cpge2e01")
    desk_page.get_by_test_id("checkin-submit").click()
    expect(desk_page.locator("[data-testid=signup-row][data-status=attended]")).to_contain_text("陈小雨")
    expect(desk_page.get_by_test_id("signup-reward")).to_have_count(0)  # the desk gives no rewards
    desk_page.set_viewport_size({"width": 390, "height": 900})
    _shot(desk_page, "campaign-desk-390")
    desk.close()

    page.reload()
    expect(page.get_by_test_id("signup-reward")).to_have_count(1)
    page.get_by_test_id("signup-reward").click()
    expect(page.get_by_test_id("rewarded")).to_have_count(1)
    expect(page.get_by_test_id("signup-reward")).to_have_count(0)
    assert PointsEntry.objects.filter(account__member=a, kind="earn").count() == 1

    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the campaign page is wider than {width} px"
        _shot(page, f"campaign-detail-{width}")
    page.goto(live_server.url + reverse("marketing:campaign_list"))
    _shot(page, "campaign-list-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("marketing:campaign_create"))
    _shot(page, "campaign-form-1280")


def test_edit_a_campaign_and_set_a_member_day_price(live_server, page, branch, marketer, cleaning):
    from marketing import campaigns
    from marketing.models import CampaignKind

    now = timezone.now()
    campaign = campaigns.campaign_create(
        actor=marketer,
        branch=branch,
        name="十二月会员日",
        kind=CampaignKind.MEMBER_DAY,
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(days=2),
    )
    log_in(page, live_server.url, marketer.username)
    page.goto(live_server.url + reverse("marketing:campaign_detail", args=[campaign.pk]))
    page.get_by_test_id("campaign-edit").click()
    form = page.get_by_test_id("campaign-form")
    expect(form.locator("select[name=branch]")).to_be_disabled()
    form.get_by_label("活动名称").fill("十二月会员日·洁牙特惠")
    form.get_by_label("名额").fill("40")
    form.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("十二月会员日·洁牙特惠")
    expect(page.get_by_test_id("campaign-no-prices")).to_be_visible()

    prices = page.get_by_test_id("campaign-price-form")
    prices.get_by_label("项目").select_option(str(cleaning.pk))
    prices.get_by_label("特价", exact=True).fill("198")
    prices.get_by_test_id("campaign-price-save").click()
    row = page.get_by_test_id("campaign-prices").locator(f"tr[data-item={cleaning.code}]")
    expect(row).to_contain_text("¥198.00")
    expect(row).to_contain_text("¥280.00")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the campaign page is wider than {width} px"
        _shot(page, f"campaign-prices-{width}")


def test_the_unsubscribe_page_on_a_phone(live_server, page):
    from clinic.notifications.models import OptOut
    from clinic.notifications.unsubscribe import unsubscribe_token

    page.set_viewport_size({"width": 390, "height": 844})
    token = unsubscribe_token("email", "zhang@example.com")
    page.goto(live_server.url + reverse("notifications:unsubscribe", kwargs={"unsub_token": token}))
    expect(page.get_by_role("heading", level=1)).to_have_text("退订营销消息")
    expect(page.locator("main")).to_contain_text("z***@example.com")
    _shot(page, "unsubscribe-390")
    page.get_by_test_id("unsubscribe-confirm").click()
    expect(page.get_by_test_id("unsubscribe-done")).to_be_visible()
    _shot(page, "unsubscribe-done-390")
    assert OptOut.objects.filter(channel="email", recipient="zhang@example.com").exists()
