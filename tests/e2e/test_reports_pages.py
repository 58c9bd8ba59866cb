"""The manager's report pages in a real browser: a drill-down's xlsx export holds as many rows
as the tile says; a month is closed by hand and its PDF report shows Chinese text and its
charts; the analysis pages and staff performance fit a 390 px phone. Screenshots of each."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from appointments.models import Appointment, Visit
from reports import dashboard, rollups
from tests.appointments.factories import make_doctor
from tests.clinic.factories import ServiceItemFactory
from tests.e2e.conftest import nav_click
from tests.e2e.test_reports_dashboard import log_in
from tests.members.factories import make_member
from tests.pdf_checks import pdf_pages

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_months(branch):
    """Paid visits this month and last month (so last month can be closed)."""
    item = ServiceItemFactory(code="RP01", name="补牙", price="500.00")
    doctor = make_doctor(branch, "doc_rp", "周医生")
    today = timezone.localdate()
    last = dashboard._shift_month(today.replace(day=1), -1)
    days = [today - dt.timedelta(days=n) for n in range(min(today.day, 3))]
    days += [last + dt.timedelta(days=n) for n in range(4)]
    for n, day in enumerate(days):
        m = make_member(branch, name=f"报表顾客{n}")
        start = timezone.make_aware(dt.datetime.combine(day, dt.time(10)))
        appt = Appointment.objects.create(
            branch=branch,
            member=m,
            service=item,
            doctor=doctor,
            start=start,
            end=start + dt.timedelta(minutes=30),
            channel="phone",
            status="completed",
            arrived_at=start,
            treatment_started_at=start + dt.timedelta(minutes=5 + n),
        )
        Visit.objects.create(
            branch=branch,
            member=m,
            doctor=doctor,
            appointment=appt,
            opened_at=start,
            status="checked_out",
            amount_due=Decimal(500),
            amount_paid=Decimal(500),
            checked_out_at=start,
        )
    rollups.rollup_refresh(full=True)
    return last


def test_export_matches_the_tile_and_a_closed_month_prints(
    live_server, page, manager, two_months, screenshot
):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server.url, manager.username)
    visits = page.get_by_test_id("kpi-visits").locator("td").first.inner_text()
    page.get_by_test_id("kpi-visits").get_by_role("link").click()
    expect(page.get_by_test_id("drill-table")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_test_id("drill-export").get_by_role("link", name="导出 xlsx").click()
    with open(download.value.path(), "rb") as f:
        sheet = load_workbook(io.BytesIO(f.read())).active
    assert (
        sheet.max_row - 1
        == int(visits.replace(",", ""))
        == page.get_by_test_id("drill-table").locator("tbody tr").count()
    )

    nav_click(page, "月结")
    month = f"{two_months:%Y-%m}"
    row = page.get_by_test_id(f"month-{month}")
    expect(row).to_contain_text("未月结")
    row.get_by_role("button", name=f"月结 {month}").click()
    expect(page.get_by_test_id("close-unchanged")).to_be_visible()
    expect(page.get_by_test_id("close-revenue")).to_contain_text("¥2,000.00")
    screenshot("reports-month-closed")
    href = page.get_by_test_id("month-pdf").get_attribute("href")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.headers["content-type"] == "application/pdf"
    text = "\n".join(pdf_pages(response.body()))
    assert "月度经营报告" in text and "每日营收（元）" in text and "¥2,000.00" in text


@pytest.mark.parametrize("width", [1280, 390])
def test_analysis_pages_fit(live_server, page, manager, two_months, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server.url, manager.username)
    for path, heading, shot in (
        ("/reports/operations/", "运营分析", "reports-operations"),
        ("/reports/marketing/?by=age_band", "营销分析", "reports-marketing"),
        ("/reports/customers/", "客户分析", "reports-customers"),
        ("/reports/staff/?period=mtd", "员工业绩", "reports-staff"),
        ("/reports/months/", "月结", "reports-months"),
    ):
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, (path, scroll, inner)
        screenshot(f"{shot}-{width}")
