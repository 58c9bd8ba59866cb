"""The audit-log page in the browser: a manager filters by action and sees translated labels;
the page fits a phone and passes axe."""

from __future__ import annotations

import os

import pytest
from django.db import transaction
from playwright.sync_api import expect

from clinic.services import audit_record
from tests.conftest import PASSWORD
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import audit_current, report
from tests.members.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_manager_filters_the_audit_log(live_server, browser, branch, manager, front_desk, width):
    person = make_member(branch, name="张三", phone="13900001111", actor=front_desk)
    with transaction.atomic():
        audit_record(actor=front_desk, action="members.member.phone_revealed", target=person)
    context = browser.new_context(
        base_url=live_server.url, bypass_csp=True, locale="zh-CN", viewport={"width": width, "height": 900}
    )
    page = context.new_page()
    page.goto("/login/")
    page.get_by_label("用户名").fill("branch_manager")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda u: "/login/" not in u)
    page.goto("/reports/audit-log/")
    expect(page.get_by_role("heading", name="审计日志")).to_be_visible()
    page.get_by_label("操作", exact=True).select_option(label="查看完整手机号")
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_test_id("audit-action").first).to_have_text("查看完整手机号")
    expect(page.get_by_test_id("audit-table")).to_contain_text("张三")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    violations = audit_current(page)
    assert not violations, report({("branch_manager", "audit_log"): violations})
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, f"audit-log-{width}.png"), full_page=True, caret="initial")
    context.close()
