"""The cash-up, the front desk's page and HQ's view in a real browser: a cashier counts their
cash (a bad figure first, then the right one) and the manager signs the day off; the front
desk's landing page renders at 1280 and 390 px; HQ's page shows both branches. Screenshots to
/work/shots/day/ (or SHOTS_DIR)."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Appointment, Payment, Visit
from tests.appointments.factories import make_doctor
from tests.clinic.factories import ServiceItemFactory
from tests.e2e.test_reports_dashboard import log_in
from tests.members.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("SHOTS_DIR", "/tmp/shots-day")


def shot(page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


@pytest.fixture
def takings(branch, other_branch, front_desk):
    """Today at 静安: the front desk took ¥300 cash and ¥200 WeChat; someone is waiting."""
    item = ServiceItemFactory(code="CU01", name="洁牙", price="500.00")
    now = timezone.now()
    day_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    for n, br in enumerate((branch, other_branch)):
        doctor = make_doctor(br, f"cu_doc{n}", f"医生{n}")
        paid = make_member(br, name=f"结账{n}")
        start = day_start + (now - day_start) / 3
        appt = Appointment.objects.create(
            branch=br,
            member=paid,
            service=item,
            doctor=doctor,
            start=start,
            end=start + (now - day_start) / 10,
            channel="phone",
            status="completed",
            arrived_at=start,
        )
        v = Visit.objects.create(
            branch=br,
            member=paid,
            doctor=doctor,
            appointment=appt,
            opened_at=start,
            status="checked_out",
            amount_due=Decimal(500),
            amount_paid=Decimal(500),
            checked_out_at=now,
            checked_out_by=front_desk,
        )
        Payment.objects.create(visit=v, method="cash", amount=Decimal(300), at=now, by=front_desk)
        Payment.objects.create(visit=v, method="wechat_pay", amount=Decimal(200), at=now, by=front_desk)
        waiting = make_member(br, name=f"候诊{n}")
        start2 = day_start + (now - day_start) * 2 / 3
        Appointment.objects.create(
            branch=br,
            member=waiting,
            service=item,
            doctor=doctor,
            start=start2,
            end=start2 + (now - day_start) / 10,
            channel="phone",
            status="arrived",
            arrived_at=start2,
        )


def test_cashier_counts_and_the_manager_signs_off(live_server, page, browser, front_desk, manager, takings):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server.url, front_desk.username)
    assert page.url.rstrip("/").endswith("/reports/front-desk")
    page.goto(f"{live_server.url}/reports/cashup/")
    expect(page.get_by_test_id("expected-cash")).to_have_text("¥300.00")
    page.get_by_label("清点现金（不含备用金）").fill("-20")
    page.get_by_role("button", name="保存清点").click()
    expect(page.get_by_text("清点的现金不能为负数。")).to_be_visible()
    shot(page, "cashup-bad-input-1280")
    page.get_by_label("清点现金（不含备用金）").fill("290")
    page.get_by_role("button", name="保存清点").click()
    expect(page.get_by_test_id("cash-difference")).to_have_text("-¥10.00")
    expect(page.get_by_test_id("sign-form")).to_have_count(0)  # the front desk does not sign off
    shot(page, "cashup-counted-1280")

    mgr = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    log_in(mgr, live_server.url, manager.username)
    mgr.goto(f"{live_server.url}/reports/cashup/")
    mgr.get_by_test_id("sign-form").get_by_label("备注").fill("差十元，已说明")
    mgr.get_by_role("button", name="签核", exact=True).click()
    expect(mgr.get_by_test_id("cashup-status")).to_contain_text("已签核")
    expect(mgr.get_by_test_id("cashup-status")).to_contain_text("差十元，已说明")
    expect(mgr.get_by_test_id("count-form")).to_have_count(0)  # locked
    shot(mgr, "cashup-signed-1280")

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(mgr.context.cookies())
    phone.goto(f"{live_server.url}/reports/cashup/")
    expect(phone.get_by_test_id("cashup-status")).to_contain_text("已签核")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "cashup-signed-390")
    phone.close()


def test_front_desk_landing_at_desk_and_phone_widths(live_server, page, browser, front_desk, takings):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server.url, front_desk.username)
    expect(page.get_by_role("heading", name="前台", exact=False).first).to_be_visible()
    expect(page.get_by_test_id("waiting")).to_contain_text("候诊0")
    expect(page.get_by_test_id("state-arrived")).to_contain_text("1")
    assert "候诊1" not in page.content()  # the other branch's
    shot(page, "frontdesk-1280")
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{live_server.url}/reports/front-desk/")
    expect(phone.get_by_test_id("waiting")).to_contain_text("候诊0")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "frontdesk-390")
    phone.close()


def test_hq_sees_both_branches_and_the_chain_total(live_server, page, browser, hq_admin, takings):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server.url, hq_admin.username)
    assert page.url.rstrip("/").endswith("/reports/hq")
    heads = page.get_by_test_id("hq-today").locator("thead th")
    expect(heads).to_contain_text(["指标", "静安店", "浦东店", "连锁合计"])
    expect(page.get_by_test_id("hq-today").get_by_test_id("hq-revenue")).to_contain_text("¥1,000.00")
    shot(page, "hq-1280")
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{live_server.url}/reports/hq/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "hq-390")
    phone.close()
