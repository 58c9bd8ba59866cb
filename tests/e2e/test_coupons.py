"""Coupons and rewards in a real browser: a checkout with a coupon shows it on the receipt;
the front desk redeems 500 points for a free cleaning entitlement and prints the slip."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse
from playwright.sync_api import expect

from tests.appointments.factories import at, book, make_doctor
from tests.members.factories import make_member

from .test_appointments import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_checkout_with_a_coupon_shows_it_on_the_receipt(
    request, live_server, page, branch, front_desk, manager, cleaning, screenshot
):
    from decimal import Decimal

    from appointments import checkout, services
    from loyalty.coupon_models import CouponKind, CouponTemplate
    from loyalty.coupons import code_format, coupon_issue

    member = make_member(branch, name="张三", phone="13900001111")
    doctor = make_doctor(branch, "doc_chen", "陈医生")
    # Booked, checked in and treated "today" at 10:00 (the clock moved to that morning).
    clock = time_machine.travel(at(0, 9), tick=True)
    clock.start()
    request.addfinalizer(clock.stop)
    appt = book(front_desk, branch, member, cleaning, doctor, at(0, 10))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    visit = services.appointment_start_treatment(actor=front_desk, appointment=appt).visit
    checkout.charge_line_add(actor=front_desk, visit=visit, item=cleaning)
    tpl = CouponTemplate.objects.create(
        name="满200减50", kind=CouponKind.AMOUNT, amount_off=Decimal("50"), min_spend=Decimal("200")
    )
    coupon = coupon_issue(actor=manager, template=tpl, member=member)

    log_in(page, live_server.url, "front_desk")
    page.goto(live_server.url + reverse("appointments:visit", args=[visit.pk]))
    form = page.get_by_test_id("checkout-form")
    form.get_by_label("优惠券码").fill(code_format(coupon.code).lower())
    form.get_by_label("实付金额").fill("230.00")
    screenshot("coupons-1-checkout")
    page.get_by_test_id("checkout-submit").click()
    expect(page.get_by_test_id("receipt")).to_contain_text(code_format(coupon.code))
    expect(page.get_by_test_id("receipt-due")).to_have_text("¥230.00")
    screenshot("coupons-2-receipt")
    coupon.refresh_from_db()
    assert coupon.used_source == f"visit:{visit.pk}"


def test_front_desk_redeems_500_points_for_a_free_cleaning(
    live_server, page, branch, front_desk, cleaning, screenshot
):
    from loyalty import services
    from loyalty.coupon_models import Entitlement, RewardItem, RewardKind

    member = make_member(branch, name="李四", phone="13900002222")
    services.membership_enrol(actor=None, member=member, branch=branch, welcome_points=0)
    services.points_earn(actor=None, member=member, points=600, idempotency_key="e2e:earn")
    free = RewardItem.objects.create(
        name="免费洁牙一次", kind=RewardKind.SERVICE, points_cost=500, service_item=cleaning
    )
    RewardItem.objects.create(name="电动牙刷", kind=RewardKind.GIFT, points_cost=800, stock=3)

    log_in(page, live_server.url, "front_desk")
    page.goto(live_server.url + reverse("loyalty:rewards", args=[member.pk]))
    expect(page.get_by_test_id("reward-balance")).to_have_text("600")
    screenshot("rewards-1-catalogue")
    page.get_by_test_id(f"redeem-{free.pk}").click()
    expect(page.get_by_test_id("reward-slip")).to_contain_text("免费洁牙一次")
    expect(page.get_by_test_id("slip-points")).to_have_text("500")
    screenshot("rewards-2-slip")
    assert Entitlement.objects.filter(member=member, service_item=cleaning, used_at__isnull=True).count() == 1
