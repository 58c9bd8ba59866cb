"""Issue 6's front-desk flows in a real browser: from the navigation to the rewards screen,
find a member and redeem 500 points for a free cleaning; register a friend with the code of
a referral QR; see why a coupon that excludes the tier discount replaced it at checkout.
No console errors (CSP: no inline script), QR images load."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from playwright.sync_api import expect

from tests.appointments.factories import at, book, make_doctor
from tests.e2e.conftest import nav_click
from tests.members.factories import make_member

from .test_appointments import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def console_errors(page):
    """Console errors and failed responses (a CSP violation shows up here)."""
    errors: list[str] = []

    def on_console(msg):
        if msg.type == "error":
            errors.append(msg.text)

    page.on("console", on_console)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return errors


def image_loaded(page, test_id: str) -> bool:
    return page.get_by_test_id(test_id).evaluate("img => img.complete && img.naturalWidth > 0")


def test_front_desk_redeems_500_points_from_the_rewards_screen(
    live_server, page, branch, front_desk, cleaning, screenshot, console_errors
):
    from loyalty import services
    from loyalty.coupon_models import Entitlement, RewardItem, RewardKind

    member = make_member(branch, name="李四", phone="13900002222")
    services.membership_enrol(actor=None, member=member, branch=branch, welcome_points=0)
    services.points_earn(actor=None, member=member, points=600, idempotency_key="e2e:earn")
    free = RewardItem.objects.create(
        name="免费洁牙一次", kind=RewardKind.SERVICE, points_cost=500, service_item=cleaning
    )

    log_in(page, live_server.url, "front_desk")
    nav_click(page, "积分兑换")
    page.get_by_label("兑换会员").fill("2222")
    result = page.get_by_test_id("rewards-desk-result").filter(has_text="李四")
    expect(result).to_contain_text("600 积分")
    screenshot("rewards-desk-search")
    result.click()
    expect(page.get_by_test_id("reward-balance")).to_have_text("600")
    page.get_by_test_id(f"redeem-{free.pk}").click()
    expect(page.get_by_test_id("reward-slip")).to_contain_text("免费洁牙一次")
    expect(page.get_by_test_id("slip-points")).to_have_text("500")
    assert Entitlement.objects.filter(member=member, service_item=cleaning, used_at__isnull=True).count() == 1
    nav_click(page, "积分兑换")
    expect(page.get_by_test_id("rewards-desk-recent")).to_contain_text("免费洁牙一次")
    assert not console_errors, console_errors


def test_a_friend_registers_with_the_code_of_a_referral_qr(
    live_server, page, branch, front_desk, cleaning, screenshot, console_errors
):
    from loyalty import referrals, services
    from loyalty.coupon_models import Referral
    from members.models import Member

    friend = make_member(branch, name="老朋友", phone="13900005001")
    membership = services.membership_enrol(actor=None, member=friend, branch=branch, welcome_points=0)
    code = referrals.referral_code_for(friend)

    log_in(page, live_server.url, "front_desk")
    page.goto(live_server.url + reverse("loyalty:referrals", args=[friend.pk]))
    expect(page.get_by_test_id("referral-code")).to_have_text(code)
    assert image_loaded(page, "referral-qr")
    screenshot("referral-qr")
    page.goto(live_server.url + reverse("loyalty:card", args=[friend.pk]))
    expect(page.get_by_test_id("printable-card")).to_contain_text(membership.card_no)
    assert image_loaded(page, "card-qr")
    screenshot("card-qr")

    # What the QR opens: the registration form with the referrer filled in.
    page.goto(live_server.url + reverse("members:create") + f"?ref={code}")
    expect(page.get_by_label("推荐人")).to_have_value(code)
    page.get_by_label("姓名").fill("新朋友")
    page.get_by_label("手机号").fill("13900005002")
    page.get_by_label("推荐人").fill("13911112222")  # a typo'd phone first: a clear error
    page.get_by_role("button", name="登记").click()
    expect(page.get_by_text("没有找到手机号为 139****2222 的推荐人")).to_be_visible()
    assert not Member.objects.filter(name="新朋友").exists()
    page.get_by_label("推荐人").fill(code)
    screenshot("register-with-referrer")
    page.get_by_role("button", name="登记").click()
    expect(page).to_have_url(re.compile(r"/members/\d+/$"))
    referee = Member.objects.get(name="新朋友")
    assert Referral.objects.get(referee=referee).referrer == friend
    assert not console_errors, console_errors


def test_checkout_explains_a_coupon_that_replaces_the_tier_discount(
    request, live_server, page, branch, front_desk, manager, cleaning, screenshot, console_errors
):
    from appointments import checkout
    from appointments import services as appt
    from loyalty import services
    from loyalty.coupon_models import CouponKind, CouponTemplate
    from loyalty.coupons import code_format, coupon_issue

    member = make_member(branch, name="张三", phone="13900001111")
    services.membership_enrol(actor=None, member=member, branch=branch, welcome_points=0)
    doctor = make_doctor(branch, "doc_chen", "陈医生")
    clock = time_machine.travel(at(0, 9), tick=True)
    clock.start()
    request.addfinalizer(clock.stop)
    a = book(front_desk, branch, member, cleaning, doctor, at(0, 10))
    appt.appointment_check_in(actor=front_desk, appointment=a)
    visit = appt.appointment_start_treatment(actor=front_desk, appointment=a).visit
    checkout.charge_line_add(actor=front_desk, visit=visit, item=cleaning)
    tpl = CouponTemplate.objects.create(
        name="周年庆减50", kind=CouponKind.AMOUNT, amount_off=Decimal("50"), with_tier_discount=False
    )
    coupon = coupon_issue(actor=manager, template=tpl, member=member)

    log_in(page, live_server.url, "front_desk")
    page.goto(live_server.url + reverse("appointments:visit", args=[visit.pk]))
    expect(page.get_by_test_id("amount-due")).to_have_text("¥266.00")  # 普通会员 −5%
    page.get_by_test_id("coupon-preview").get_by_label("优惠券码").fill(code_format(coupon.code))
    page.get_by_test_id("coupon-preview-submit").click()
    expect(page.get_by_test_id("amount-due")).to_have_text("¥230.00")
    expect(page.get_by_test_id("price-note")).to_contain_text("不与会员折扣同享")
    form = page.get_by_test_id("checkout-form")
    expect(form.get_by_label("实付金额")).to_have_value("230.00")
    screenshot("checkout-coupon-instead-of-tier")
    page.get_by_test_id("checkout-submit").click()
    expect(page.get_by_test_id("receipt-due")).to_have_text("¥230.00")
    expect(page.get_by_test_id("receipt-note")).to_contain_text("优惠更多")
    assert not console_errors, console_errors
