"""The front desk's core flow in a real browser: find a person, book, check in, treat,
charge, check out, and read the receipt — in Chinese, under the CSP."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.appointments.factories import make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.conftest import PASSWORD
from tests.members.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


@pytest.fixture
def clinic_data(branch, front_desk):
    import importlib

    from django.apps import apps

    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)
    basic = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    service = ServiceItemFactory(
        code="PV01", name="超声洁牙", category=basic, price="280.00", duration_minutes=30
    )
    doctor = make_doctor(branch, "doc_chen", "陈医生")
    member = make_member(branch, name="张三", phone="13900001111")
    return service, doctor, member


def test_search_book_check_in_treat_and_check_out(live_server, page, clinic_data, screenshot):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    log_in(page, live_server.url, "front_desk")
    page.get_by_role("link", name="预约").first.click()
    page.get_by_role("link", name="新建预约").click()
    page.get_by_test_id("member-pick").get_by_label("查找客户").fill("张三")
    expect(page.get_by_test_id("pick-result")).to_contain_text("张三")
    screenshot("appointments-1-search")
    page.get_by_test_id("pick-result").first.click()
    expect(page.get_by_test_id("chosen-member")).to_contain_text("张三")

    form = page.get_by_test_id("booking-form")
    form.get_by_label("项目").select_option(label="PV01 超声洁牙（30′）")
    form.get_by_label("医生").select_option(label="陈医生")
    form.get_by_label("日期").fill(tomorrow.isoformat())
    form.get_by_label("开始时间").fill("10:00")
    screenshot("appointments-2-booking-form")
    page.get_by_test_id("book-submit").click()
    expect(page.get_by_test_id("appt-detail")).to_contain_text("已预约")
    expect(page.get_by_test_id("reminders")).to_contain_text("待发送")
    screenshot("appointments-3-booked")

    page.get_by_test_id("check-in").click()
    expect(page.get_by_test_id("appt-detail")).to_contain_text("已到店")
    page.get_by_test_id("start-treatment").click()

    expect(page.get_by_test_id("visit-status")).to_have_text("进行中")
    page.locator("#id_line-item").select_option(label="PV01 超声洁牙（30′）")
    page.locator("#id_line-teeth").fill("11 21")
    page.get_by_test_id("add-line").click()
    expect(page.get_by_test_id("amount-due")).to_have_text("¥280.00")
    screenshot("appointments-4-visit")

    checkout = page.get_by_test_id("checkout-form")
    expect(checkout.get_by_label("实付金额")).to_have_value("280.00")
    page.get_by_test_id("checkout-submit").click()
    expect(page.get_by_test_id("receipt")).to_contain_text("张三")
    expect(page.get_by_test_id("receipt-due")).to_have_text("¥280.00")
    expect(page.get_by_test_id("receipt-points")).to_have_count(0)  # not a card holder: no 获得积分 0
    screenshot("appointments-5-receipt")

    page.get_by_test_id("appointments-nav").get_by_role("link").first.click()
    expect(page.get_by_test_id("today-board")).to_be_visible()
    screenshot("appointments-6-today")
    assert not [e for e in errors if "Content Security Policy" in e], errors
