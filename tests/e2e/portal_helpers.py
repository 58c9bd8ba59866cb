"""Browser helpers for the member portal's tests (tests/e2e/test_portal_*.py). Reuse them;
add, do not rename.

``phone_context(browser, live_server, size)`` opens a phone-sized context (390×844 or 360×640,
Chinese, touch); ``portal_log_in(page, phone)`` logs in as a member does, reading the SMS code
from the outbox; ``check_phone_page(page)`` asserts no horizontal scrolling, touch targets of
at least 44 px, no code or English words on a Chinese page, and no serious or critical axe-core
violation."""

from __future__ import annotations

import os

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import audit_current, report

PHONES = {"390": {"width": 390, "height": 844}, "360": {"width": 360, "height": 640}}


def phone_context(browser, live_server, size: str = "390", locale: str = "zh-CN"):
    # axe is injected as an inline script, which the CSP (rightly) refuses on real pages.
    return browser.new_context(
        base_url=live_server.url,
        viewport=PHONES[size],
        is_mobile=True,
        has_touch=True,
        locale=locale,
        bypass_csp=True,
    )


def sms_code(phone: str) -> str:
    """The code of the latest log-in SMS to ``phone``, as the outbox holds it (the file
    backend writes the same text in development)."""
    from clinic.notifications.models import Outbox

    row = Outbox.objects.filter(template_key="portal.login_code", recipient=phone).order_by("-id").first()
    assert row is not None, f"no log-in SMS to {phone} in the outbox"
    return row.params["code"]


def portal_log_in(page, phone: str, *, typed: str | None = None) -> None:
    page.goto("/portal/login/")
    page.get_by_label("手机号").fill(typed or phone)
    page.get_by_role("button", name="获取验证码").click()
    page.wait_for_url("**/portal/login/code/")
    page.get_by_label("短信验证码").fill(sms_code(phone))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda u: "/login/" not in u)


# Elements someone taps, smaller than 44 px either way. A checkbox counts by its whole row
# (.form-check, the label is part of the target); a link inside running text is exempt.
SMALL_TARGETS = """() => [...document.querySelectorAll('a, button, input, select, textarea, summary')]
  .filter(el => el.checkVisibility() && el.type !== 'hidden')
  .filter(el => !(el.tagName === 'A' && el.closest('p, li.small, .small') && !el.classList.contains('btn')))
  .map(el => {
    const box = (el.type === 'checkbox' || el.type === 'radio') && el.closest('.form-check')
      ? el.closest('.form-check') : el;
    const r = box.getBoundingClientRect();
    return {el: el.outerHTML.slice(0, 120), w: Math.round(r.width), h: Math.round(r.height)};
  })
  .filter(t => t.w < 44 || t.h < 44)"""

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def check_phone_page(page, name: str = "") -> None:
    page.wait_for_load_state()
    assert page.evaluate(OVERFLOW) <= 0, f"{page.url}: scrolls sideways"
    small = page.evaluate(SMALL_TARGETS)
    assert not small, f"{page.url}: touch targets under 44 px: {small}"
    if page.evaluate("() => document.documentElement.lang") == "zh-CN":
        from tests.e2e.test_no_raw_codes import VISIBLE_TEXT, offending

        raw = offending(page.evaluate(VISIBLE_TEXT))
        assert not raw, f"{page.url}: codes or English on a Chinese page: {raw}"
    found = audit_current(page)
    assert not found, f"{page.url}:\n{report({('member', page.url): found})}"
    if name:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, f"portal-{name}.png"), full_page=True, caret="initial")


def member_context(browser, live_server, phone: str, size: str = "390", *, member=None, viewport=None):
    """A phone context already logged in as ``phone`` (the session the SMS log-in leaves;
    tests/e2e/test_portal_login.py covers the log-in itself)."""
    from django.test import Client

    from portal.session import cookie_name
    from tests.portal.conftest import portal_login

    client = portal_login(Client(), phone, member=member)
    context = phone_context(browser, live_server, size)
    if viewport:
        context.close()
        context = browser.new_context(
            base_url=live_server.url, viewport=viewport, locale="zh-CN", bypass_csp=True
        )
    context.add_cookies(
        [
            {
                "name": cookie_name(),
                "value": client.cookies[cookie_name()].value,
                "url": f"{live_server.url}/portal/",
            }
        ]
    )
    return context
