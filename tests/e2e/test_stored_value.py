"""Stored value (储值) in a real browser: the front desk tops up ¥1000 under 充1000送100 on the
member's 储值 tab, then checks a visit out paid partly by the member balance and partly by
WeChat Pay; the receipt shows what the balance paid and what is left."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse
from playwright.sync_api import expect

from tests.appointments.factories import at, book, make_doctor
from tests.members.factories import make_member

from .test_appointments import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_top_up_then_pay_by_balance_at_checkout(
    request, live_server, page, branch, front_desk, cleaning, screenshot
):
    from decimal import Decimal

    from appointments import checkout, services
    from loyalty.models import StoredValueAccount, StoredValueBonusRule

    StoredValueBonusRule.objects.create(name="充1000送100", threshold=Decimal("1000"), bonus=Decimal("100"))
    member = make_member(branch, name="王储值", phone="13900003333")
    doctor = make_doctor(branch, "doc_sv", "陈医生")
    clock = time_machine.travel(at(0, 9), tick=True)
    clock.start()
    request.addfinalizer(clock.stop)
    appt = book(front_desk, branch, member, cleaning, doctor, at(0, 10))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    visit = services.appointment_start_treatment(actor=front_desk, appointment=appt).visit
    checkout.charge_line_add(actor=front_desk, visit=visit, item=cleaning)
    due = visit.lines.get().list_amount

    log_in(page, live_server.url, "front_desk")
    page.goto(live_server.url + reverse("members:detail", args=[member.pk]) + "?tab=stored_value")
    form = page.get_by_test_id("sv-top-up-form")
    form.get_by_label("充值金额（元）").fill("1000")
    form.get_by_label("付款方式").select_option("wechat_pay")
    form.get_by_label("付款流水号").fill("WX-0001")
    screenshot("stored-value-1-top-up")
    page.get_by_test_id("sv-top-up-submit").click()
    expect(page.get_by_test_id("sv-balance")).to_have_text("¥1,100.00")
    expect(page.get_by_test_id("sv-bonus")).to_have_text("¥100.00")
    expect(page.get_by_test_id("sv-history")).to_contain_text("WX-0001")

    page.goto(live_server.url + reverse("appointments:visit", args=[visit.pk]))
    expect(page.get_by_test_id("checkout-stored-value")).to_contain_text("¥1,100.00")
    pay = page.get_by_test_id("checkout-form")
    pay.locator("select[name=method]").select_option("member_balance")
    pay.get_by_label("实付金额").fill("200.00")
    pay.get_by_label("第二种支付方式").select_option("wechat_pay")
    pay.get_by_label("第二笔金额").fill(str(due - Decimal("200.00")))
    screenshot("stored-value-2-checkout")
    page.get_by_test_id("checkout-submit").click()
    expect(page.get_by_test_id("receipt-stored-value")).to_contain_text("¥200.00")
    expect(page.get_by_test_id("receipt-balance-left")).to_contain_text("¥900.00")
    screenshot("stored-value-3-receipt")
    account = StoredValueAccount.objects.get(member=member)
    assert (account.paid_balance, account.bonus_balance) == (Decimal("800.00"), Decimal("100.00"))


def test_manager_opens_the_liability_report_from_the_menu(live_server, page, branch, manager, front_desk):
    from decimal import Decimal

    from loyalty import services

    member = make_member(branch, name="负债", phone="13900004444")
    services.stored_value_top_up(
        actor=front_desk, member=member, amount=Decimal("1234"), method="cash", idempotency_key="e2e"
    )
    log_in(page, live_server.url, manager.username)
    page.wait_for_load_state()
    page.get_by_test_id("nav-benefits").get_by_role("button", name="会员权益").click()
    page.get_by_role("link", name="储值负债").click()
    expect(page.get_by_test_id("liability-total")).to_contain_text("¥1,234.00")
    with page.expect_download() as download:
        page.get_by_test_id("liability-xlsx").click()
    assert download.value.suggested_filename.startswith("stored-value-")
