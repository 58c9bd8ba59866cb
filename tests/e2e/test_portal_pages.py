"""The member portal's pages in Chromium: every page at 390×844 (and 360×640, 1280) with
axe-core, no sideways scrolling and 44 px touch targets; the coupon QR shown at the desk; a
marketing consent withdrawn from the phone, effective at once."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from playwright.sync_api import expect

from tests.e2e.portal_helpers import check_phone_page, member_context, phone_context
from tests.portal.conftest import make_family

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def family(branch):
    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)
    importlib.import_module("portal.migrations.0002_login_template").add_templates(apps, None)
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)
    from loyalty.coupon_models import CouponTemplate, RewardItem
    from loyalty.coupons import coupon_issue
    from loyalty.referrals import referral_code_for
    from tests.loyalty.factories import earn

    fam = make_family(branch, phone="+8613911110001", surname="陈")
    earn(fam.parent, 800, "e2e:earn")
    from django.utils import timezone

    from portal.demo import _expiring_earned_on

    today = timezone.localdate()
    earn(fam.parent, 120, "e2e:old", days_ago=(today - _expiring_earned_on(today)).days)  # expires soon
    template = CouponTemplate.objects.create(name="洁牙立减50元", kind="amount", amount_off=Decimal("50"))
    fam.coupon = coupon_issue(actor=None, template=template, member=fam.parent, system=True)
    reward_coupon = CouponTemplate.objects.create(name="兑换洁牙券", kind="amount", amount_off=Decimal("50"))
    RewardItem.objects.create(
        name="50元洁牙券", kind="coupon", points_cost=300, stock=5, coupon_template=reward_coupon
    )
    RewardItem.objects.create(name="电动牙刷", kind="gift", points_cost=2000, stock=2)
    fam.code = referral_code_for(fam.parent)
    return fam


PAGES = [
    ("home", "/portal/"),
    ("points", "/portal/points/"),
    ("coupons", "/portal/coupons/"),
    ("rewards", "/portal/rewards/"),
    ("referral", "/portal/referral/"),
    ("profile", "/portal/profile/"),
    ("consents", "/portal/consents/"),
    ("family", "/portal/family/"),
    ("me", "/portal/me/"),
]


@pytest.mark.parametrize("size", ["390", "360"])
def test_every_member_page_fits_a_phone_without_violations(live_server, browser, family, size):
    context = member_context(browser, live_server, family.phone, size, member=family.parent)
    page = context.new_page()
    for name, url in [*PAGES, ("coupon", f"/portal/coupons/{family.coupon.pk}/")]:
        page.goto(url)
        check_phone_page(page, f"{name}-{size}")
    context.close()
    # The pages without a session: the friend's share page and the log-in steps.
    anonymous = phone_context(browser, live_server, size)
    page = anonymous.new_page()
    page.goto(f"/portal/invite/?ref={family.code}")
    check_phone_page(page, f"share-{size}")
    page.get_by_label("您的姓名").fill("好朋友")
    page.get_by_label("手机号", exact=True).fill("13955550001")
    page.get_by_label("我同意").check()
    page.get_by_role("button", name="登记").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("share-done").is_visible()
    check_phone_page(page, f"share-done-{size}")
    anonymous.close()


def test_pages_at_desktop_width(live_server, browser, family):
    context = member_context(
        browser, live_server, family.phone, member=family.parent, viewport={"width": 1280, "height": 800}
    )
    page = context.new_page()
    for name, url in PAGES:
        page.goto(url)
        check_phone_page(page, f"{name}-1280")
    context.close()


def test_coupon_qr_to_show_at_the_desk(live_server, browser, family):
    context = member_context(browser, live_server, family.phone, member=family.parent)
    page = context.new_page()
    page.goto("/portal/")
    page.get_by_role("link", name="我的优惠券").click()
    page.get_by_test_id("coupons-usable").get_by_role("link").first.click()
    qr = page.get_by_test_id("coupon-qr")
    qr.wait_for()
    # The image arrived and decoded (an SVG from the server, not a broken image).
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=coupon-qr]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    from loyalty.coupons import code_format

    assert page.get_by_test_id("coupon-code").inner_text() == code_format(family.coupon.code)
    assert qr.bounding_box()["width"] >= 250  # big enough for the desk's scanner
    check_phone_page(page, "coupon-qr")
    context.close()


def test_redeem_a_reward_from_the_phone(live_server, browser, family):
    from loyalty.coupon_models import RewardRedemption

    context = member_context(browser, live_server, family.phone, member=family.parent)
    page = context.new_page()
    page.goto("/portal/rewards/")
    page.get_by_test_id("rewards").locator("li", has_text="50元洁牙券").get_by_role(
        "button", name="兑换"
    ).click()
    expect(page.locator(".alert").first).to_contain_text("已兑换")
    assert RewardRedemption.objects.filter(member=family.parent).count() == 1
    check_phone_page(page, "rewards-redeemed")
    context.close()


def test_withdraw_a_marketing_consent_from_the_phone(live_server, browser, family):
    from members.models import Consent
    from members.services import consent_grant

    consent = consent_grant(actor=None, member=family.parent, kind="marketing_sms", channel="paper")
    context = member_context(browser, live_server, family.phone, member=family.parent)
    page = context.new_page()
    page.goto("/portal/me/")
    page.get_by_role("link", name="消息与授权").click()
    box = page.get_by_test_id("consent-marketing-sms")
    assert box.is_checked()
    box.uncheck()
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("alert").filter(has_text="立即生效")).to_be_visible()
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert not page.get_by_test_id("consent-marketing-sms").is_checked()
    assert not Consent.objects.filter(
        member=family.parent, kind="marketing_sms", withdrawn_at__isnull=True
    ).exists()
    check_phone_page(page, "consents-withdrawn")
    context.close()
