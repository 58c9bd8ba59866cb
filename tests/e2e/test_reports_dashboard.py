"""The branch manager's dashboard in a real browser: the manager lands on it after signing in,
its chart renders (ECharts from static) with no console error, and a tile's drill-down opens
with as many rows as the tile says. Screenshots at 1280 px and on a 390 px phone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Appointment, Visit
from reports import rollups
from tests.appointments.factories import make_doctor
from tests.clinic.factories import ServiceItemFactory
from tests.conftest import PASSWORD
from tests.members.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda u: "/login/" not in u)


@pytest.fixture
def history(branch):
    item = ServiceItemFactory(code="RE01", name="洁牙", price="300.00")
    doctor = make_doctor(branch, "doc_li", "李医生")
    today = timezone.localdate()
    for n in range(0, 20):
        day = today - dt.timedelta(days=n)
        m = make_member(branch, name=f"顾客{n}")
        start = timezone.make_aware(dt.datetime.combine(day, dt.time(9 + n % 8)))
        status = "completed" if n else "arrived"
        appt = Appointment.objects.create(
            branch=branch,
            member=m,
            service=item,
            doctor=doctor,
            start=start,
            end=start + dt.timedelta(minutes=30),
            channel="phone",
            status=status,
            arrived_at=start,
        )
        if n:
            Visit.objects.create(
                branch=branch,
                member=m,
                doctor=doctor,
                appointment=appt,
                opened_at=start,
                status="checked_out",
                amount_due=Decimal(300 + n),
                amount_paid=Decimal(300 + n),
                checked_out_at=start,
            )
    rollups.rollup_refresh(full=True)


def test_manager_dashboard_renders_its_chart_and_a_drill_down_opens(
    live_server, page, browser, manager, history
):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server.url, manager.username)
    assert page.url.rstrip("/").endswith("/reports")
    expect(page.get_by_role("heading", name="门店经营看板", exact=False)).to_be_visible()
    expect(page.get_by_test_id("daily-chart")).to_have_attribute("data-rendered", "1")
    expect(page.locator("#daily-chart canvas")).to_have_count(1)
    expect(page.get_by_test_id("kpi-complaint_sla")).to_contain_text("暂无数据")
    page.screenshot(path="/tmp/reports-dashboard.png", full_page=True)
    waiting = page.get_by_test_id("tile-waiting").locator(".fs-4").inner_text()
    page.get_by_test_id("tile-waiting").click()
    expect(page.get_by_test_id("drill-table")).to_be_visible()
    assert page.get_by_test_id("drill-table").locator("tbody tr").count() == int(waiting) == 1
    expect(page.get_by_test_id("drill-table")).to_contain_text("顾客0")
    page.screenshot(path="/tmp/reports-drill.png", full_page=True)
    assert errors == []

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{live_server.url}/reports/")
    expect(phone.get_by_test_id("daily-chart")).to_have_attribute("data-rendered", "1")
    phone.screenshot(path="/tmp/reports-dashboard-phone.png", full_page=True)
    phone.close()


def test_dashboard_and_drill_down_have_no_serious_axe_violation(live_server, browser, manager, history):
    from tests.e2e.test_accessibility import audit, report

    context = browser.new_context(base_url=live_server.url, bypass_csp=True, locale="zh-CN")
    page = context.new_page()
    log_in(page, live_server.url, manager.username)
    found = {}
    for url in ("/reports/", "/reports/drill/visits/?period=mtd", "/reports/drill/no_show_rate/?period=mtd"):
        violations = audit(page, f"{live_server.url}{url}")
        if violations:
            found[("branch_manager", url)] = violations
    context.close()
    assert not found, report(found)
