"""A consultant's day in a real browser: log a consultation for a new caller, book from it in
one step; the front desk sees the consultation when the person arrives, checks them out; the
consultant is told, the funnel shows the paid visit, and the referral partner who sent the
caller sees the rebate on its statement."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from tests.appointments.factories import make_doctor
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def log_out(page) -> None:
    page.context.clear_cookies()


def both_widths(page, screenshot, name: str) -> None:
    screenshot(f"{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(f"{name}-390")
    page.set_viewport_size({"width": 1280, "height": 800})


@pytest.fixture
def consult_data(branch, consultant, front_desk, marketer, cleaning):
    from decimal import Decimal

    from marketing import partners

    mine = importlib.import_module("marketing.migrations.0002_consultations")
    mine.add_channels(apps, None)
    mine.add_templates(apps, None)
    doctor = make_doctor(branch, "doc_chen", "陈医生")
    school = partners.partner_create(actor=marketer, branch=branch, name="阳光实验小学", kind="school")
    partners.rebate_term_add(
        actor=marketer,
        partner=school,
        kind="percent",
        percent=Decimal("10"),
        valid_from=timezone.localdate() - dt.timedelta(days=30),
    )
    return cleaning, doctor


def test_consultation_to_booking_to_arrival_to_checkout_to_funnel(
    live_server, page, consult_data, screenshot
):
    from marketing.consultation_models import Consultation

    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    # The consultant takes a call from someone new.
    log_in(page, live_server.url, "consultant")
    page.locator("#main-nav").get_by_role("link", name="咨询", exact=True).click()
    expect(page.get_by_test_id("my-figures")).to_be_visible()
    page.get_by_test_id("consult-nav").get_by_role("link", name="登记咨询").click()
    form = page.get_by_test_id("consult-form")
    form.get_by_label("新客户姓名").fill("林小满")
    form.get_by_label("新客户电话").fill("13987654321")
    form.get_by_label("渠道").select_option(label="电话")
    form.get_by_label("咨询内容").fill("牙龈出血，想洗牙，周末能约吗")
    form.get_by_label("意向项目").select_option(label="PV01 超声洁牙")
    form.get_by_label("报价（元）").fill("280")
    form.get_by_label("转诊单位").select_option(label="阳光实验小学")
    both_widths(page, screenshot, "marketing-1-log")
    page.get_by_test_id("consult-submit").click()
    expect(page.get_by_test_id("consult-detail")).to_contain_text("林小满")
    expect(page.get_by_test_id("consult-detail")).to_contain_text("考虑中")

    # Book in one step: the person and the service are filled in.
    page.get_by_test_id("consult-book").click()
    booking = page.get_by_test_id("booking-form")
    expect(booking.get_by_label("项目")).to_have_value(str(consult_data[0].pk))
    booking.get_by_label("医生").select_option(label="陈医生")
    booking.get_by_label("日期").fill(tomorrow.isoformat())
    booking.get_by_label("开始时间").fill("10:00")
    both_widths(page, screenshot, "marketing-2-book")
    page.get_by_test_id("book-submit").click()
    expect(page.get_by_test_id("consult-detail")).to_contain_text("预约成功")
    expect(page.get_by_test_id("consult-booking")).to_contain_text(f"{tomorrow:%Y-%m-%d} 10:00")
    both_widths(page, screenshot, "marketing-3-detail")
    consultation = Consultation.objects.get(member__name="林小满")
    appt_id = consultation.appointment_id

    # The front desk receives the person: the consultation is on the booking, then checkout.
    log_out(page)
    log_in(page, live_server.url, "front_desk")
    page.goto(f"{live_server.url}/appointments/{appt_id}/")
    notes = page.get_by_test_id("appt-arrival-notes")
    expect(notes).to_contain_text("电话")
    expect(notes).to_contain_text("牙龈出血")
    screenshot("marketing-4-arrival-notes-1280")
    page.get_by_test_id("check-in").click()
    expect(page.get_by_test_id("appt-detail")).to_contain_text("已到店")
    page.get_by_test_id("start-treatment").click()
    page.locator("#id_line-item").select_option(label="PV01 超声洁牙（30′）")
    page.get_by_test_id("add-line").click()
    expect(page.get_by_test_id("amount-due")).to_have_text("¥280.00")
    page.get_by_test_id("checkout-submit").click()
    expect(page.get_by_test_id("receipt-due")).to_have_text("¥280.00")

    # The consultant was told, and the funnel follows the person to the paid visit.
    log_out(page)
    log_in(page, live_server.url, "consultant")
    page.locator("#main-nav").get_by_role("link", name="咨询", exact=True).click()
    expect(page.get_by_test_id("arrival-notices")).to_contain_text("林小满")
    expect(page.get_by_test_id("today-paid")).to_have_text("1")
    both_widths(page, screenshot, "marketing-5-mine")
    page.get_by_test_id("consult-nav").get_by_role("link", name="转化漏斗").click()
    row = page.get_by_test_id("funnel-row").filter(has_text="电话")
    expect(row.get_by_test_id("funnel-consultations")).to_have_text("1")
    expect(row.get_by_test_id("funnel-booked")).to_have_text("1")
    expect(row.get_by_test_id("funnel-arrived")).to_have_text("1")
    expect(row.get_by_test_id("funnel-paid")).to_have_text("1")
    expect(row.get_by_test_id("funnel-revenue")).to_have_text("¥280.00")
    both_widths(page, screenshot, "marketing-6-funnel")
    row.get_by_test_id("funnel-paid").click()
    expect(page.get_by_test_id("funnel-people")).to_contain_text("林小满")
    expect(page.get_by_test_id("funnel-people")).to_contain_text("139****4321")
    both_widths(page, screenshot, "marketing-7-people")

    # The school that sent the caller earns its 10% on the statement of the month of the visit.
    log_out(page)
    log_in(page, live_server.url, "marketing")
    page.goto(f"{live_server.url}/marketing/statements/")
    page.get_by_test_id("statement-table").get_by_role("link", name=f"{timezone.localdate():%Y-%m}").click()
    lines = page.get_by_test_id("statement-lines")
    expect(lines).to_contain_text("林小满")
    expect(lines).to_contain_text("¥280.00")
    expect(page.get_by_test_id("statement-total")).to_contain_text("¥28.00")
    both_widths(page, screenshot, "marketing-8-statement")
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_consultation_pages_have_no_serious_accessibility_violations(
    live_server, browser, consult_data, branch, consultant, manager
):
    """axe-core (WCAG 2 A/AA, serious and critical) on every page of the consultations part, as
    the consultant and as the manager, at 1280 px and on a 390 px phone."""
    from django.urls import reverse

    from marketing import consultations
    from marketing.consultation_models import ConsultationChannel
    from tests.e2e.test_accessibility import audit
    from tests.members.factories import make_member

    service, _doctor = consult_data
    person = make_member(branch, name="周一", phone="13900005555")
    c = consultations.consultation_log(
        actor=consultant,
        branch=branch,
        channel=ConsultationChannel.objects.get(code="wechat"),
        member=person,
        question="想了解种植",
        services=[service],
        next_step="发方案",
        next_step_due=timezone.localdate(),
    )
    urls = [
        reverse("marketing:consult_mine"),
        reverse("marketing:consult_new"),
        reverse("marketing:consult_new") + "?q=周一",
        reverse("marketing:consult_list"),
        reverse("marketing:consult_detail", args=[c.pk]),
        reverse("marketing:consult_edit", args=[c.pk]),
        reverse("marketing:consult_book", args=[c.pk]),
        reverse("marketing:consult_funnel"),
        reverse("marketing:consult_funnel_people") + "?stage=consultations",
        reverse("members:detail", args=[person.pk]) + "?tab=consultations",
    ]
    manager_urls = [reverse("marketing:consult_attribution", args=[person.pk])]
    found = {}
    for username, extra in (("consultant", []), ("manager", manager_urls)):
        for viewport in ({"width": 1280, "height": 800}, {"width": 390, "height": 844}):
            context = browser.new_context(
                base_url=live_server.url, bypass_csp=True, locale="zh-CN", viewport=viewport
            )
            page = context.new_page()
            log_in(page, live_server.url, username)
            for url in urls + extra:
                violations = audit(page, url)
                if violations:
                    found[(username, viewport["width"], url)] = violations
                if viewport["width"] == 390:
                    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                    if width[0] > width[1]:
                        found[(username, 390, url)] = [f"{width[0]} px wide"]
            context.close()
    assert not found, found
