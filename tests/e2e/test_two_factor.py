"""Two-step verification in the browser: a branch manager's first log-in goes to enrolment
(QR code, code from the app, backup codes), the next log-in asks for a code. The code is
computed from the secret the page shows, as an authenticator app would."""

from __future__ import annotations

import os
import re
from base64 import b32decode

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import audit_current, report

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.two_factor]


def app_code(secret: str, drift: int = 0) -> str:
    secret = "".join(secret.split())  # groups of four, thin-spaced
    key = b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, drift=drift):06d}"


def shot(page, name: str) -> None:
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True, caret="initial")


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_manager_enrols_on_first_log_in_then_logs_in_with_a_code(live_server, browser, manager):
    context = browser.new_context(base_url=live_server.url, bypass_csp=True, locale="zh-CN")
    page = context.new_page()
    log_in(page, live_server.url, "branch_manager")
    expect(page).to_have_url(re.compile(r"/clinic/two-factor/setup/"))
    expect(page.get_by_role("heading", name="设置两步验证")).to_be_visible()
    expect(page.get_by_test_id("two-factor-qr").locator("svg")).to_be_visible()
    violations = audit_current(page)
    assert not violations, report({("branch_manager", "setup"): violations})
    shot(page, "two-factor-setup")

    # Until enrolled, other pages lead back here.
    page.goto(f"{live_server.url}/reports/")
    expect(page).to_have_url(re.compile(r"/clinic/two-factor/setup/"))

    secret = page.get_by_test_id("two-factor-secret").inner_text()
    page.get_by_label("验证码").fill("123")
    page.get_by_role("button", name="确认并开启").click()
    expect(page.get_by_role("alert")).to_contain_text("验证码不正确")
    # django-otp throttles after a wrong code (1 s, doubling): a person takes that long anyway.
    page.wait_for_timeout(1500)
    secret = page.get_by_test_id("two-factor-secret").inner_text()
    page.get_by_label("验证码").fill(app_code(secret))
    page.get_by_role("button", name="确认并开启").click()
    expect(page.get_by_test_id("backup-codes").locator("li")).to_have_count(10)
    shot(page, "two-factor-backup-codes")
    page.get_by_role("link", name="我已保存，继续").click()
    expect(page).not_to_have_url(re.compile(r"two-factor"))

    page.get_by_test_id("current-user").click()
    expect(page.get_by_test_id("two-factor-status")).to_contain_text("已开启")
    page.get_by_role("button", name="退出").first.click()
    expect(page).to_have_url(re.compile(r"/login/"))

    log_in(page, live_server.url, "branch_manager")
    expect(page).to_have_url(re.compile(r"/clinic/two-factor/verify/"))
    violations = audit_current(page)
    assert not violations, report({("branch_manager", "verify"): violations})
    page.get_by_label("验证码").fill(app_code(secret, drift=1))
    page.get_by_role("button", name="验证").click()
    expect(page).not_to_have_url(re.compile(r"two-factor|login"))
    context.close()


def test_verify_page_fits_a_phone(live_server, browser, manager):
    context = browser.new_context(
        base_url=live_server.url, bypass_csp=True, locale="zh-CN", viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    log_in(page, live_server.url, "branch_manager")
    expect(page).to_have_url(re.compile(r"/clinic/two-factor/setup/"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    violations = audit_current(page)
    assert not violations, report({("branch_manager", "setup-phone"): violations})
    shot(page, "two-factor-setup-phone")
    context.close()
