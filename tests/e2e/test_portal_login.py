"""The member portal on a phone: log-in by SMS code (read from the outbox), the family
switcher, and the foundation pages at 390×844 and 360×640 with axe-core."""

from __future__ import annotations

import pytest

from tests.e2e.portal_helpers import check_phone_page, phone_context, portal_log_in, sms_code
from tests.portal.conftest import make_family

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def family(branch):
    import importlib

    from django.apps import apps

    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)
    importlib.import_module("portal.migrations.0002_login_template").add_templates(apps, None)
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)
    return make_family(branch, phone="+8613911110001", surname="陈")


@pytest.mark.parametrize("size", ["390", "360"])
def test_log_in_with_an_sms_code_and_switch_to_the_child(live_server, browser, family, size):
    context = phone_context(browser, live_server, size)
    page = context.new_page()
    page.goto("/portal/")
    page.wait_for_url("**/portal/login/**")
    check_phone_page(page, f"login-{size}")
    portal_log_in(page, family.phone, typed="139 1111 0001")
    assert page.url.endswith("/portal/")
    check_phone_page(page, f"home-{size}")
    assert page.get_by_test_id("card-no").is_visible()
    switcher = page.get_by_test_id("person-switcher")
    switcher.locator("summary").click()
    switcher.get_by_role("button", name=family.child.name).click()
    page.wait_for_load_state()
    assert family.child.name in page.get_by_test_id("member-card").inner_text()
    check_phone_page(page, f"home-child-{size}")
    page.goto("/portal/me/")
    check_phone_page(page, f"me-{size}")
    page.get_by_test_id("portal-logout").click()
    page.wait_for_url("**/portal/login/")
    page.goto("/members/")  # a member never reaches a staff page
    assert "/login/" in page.url and "/portal/" not in page.url
    context.close()


def test_wrong_code_and_language_switch(live_server, browser, family):
    context = phone_context(browser, live_server)
    page = context.new_page()
    page.goto("/portal/login/")
    page.get_by_label("手机号").fill("13911110001")
    page.get_by_role("button", name="获取验证码").click()
    page.wait_for_url("**/portal/login/code/")
    wrong = "000000" if sms_code(family.phone) != "000000" else "111111"
    page.get_by_label("短信验证码").fill(wrong)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert "还可尝试 4 次" in page.content()
    check_phone_page(page, "login-wrong-code")
    page.get_by_test_id("portal-language").get_by_role("button").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Log in").is_visible()
    context.close()
