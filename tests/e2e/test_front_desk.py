"""The front desk's first minute: log in, land on the Chinese home page, look up a price,
switch language and back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_front_desk_logs_in_and_sees_the_chinese_home_page(live_server, page, front_desk, screenshot):
    basic = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    ServiceItemFactory(code="PV01", name="超声洁牙", category=basic, price="280.00")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    log_in(page, live_server.url, "front_desk")
    # The front desk starts on its day (reports:frontdesk); the home page is one click away.
    expect(page).to_have_url(f"{live_server.url}/reports/front-desk/")
    page.goto(f"{live_server.url}/")
    expect(page.get_by_test_id("greeting")).to_contain_text("你好")
    expect(page.get_by_test_id("role")).to_have_text("前台")
    expect(page.get_by_role("link", name="项目价目")).to_be_visible()
    expect(page.get_by_role("link", name="管理后台")).to_have_count(0)
    screenshot("front-desk-home")

    page.get_by_role("link", name="项目价目").click()
    page.get_by_placeholder("编码或名称，如：洁牙").fill("洁牙")
    expect(page.get_by_test_id("catalog-table")).to_contain_text("¥280.00")
    screenshot("front-desk-catalog")

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("link", name="Services & prices")).to_be_visible()
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("link", name="项目价目")).to_be_visible()

    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_wrong_password_then_lockout_message(live_server, page, front_desk):
    for _ in range(5):
        log_in(page, live_server.url, "front_desk", "wrong-password")
    log_in(page, live_server.url, "front_desk")
    expect(page.get_by_test_id("locked-out")).to_contain_text("登录失败次数过多")
