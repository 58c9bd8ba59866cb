"""Referral partners in a real browser: marketing creates a partner with a 10% term, a person
the partner sent is checked out at the front desk, the partner's statement shows the rebate,
and after the month the manager settles it. Then every partner page at a desk screen and on a
phone: no serious axe violation, nothing wider than the screen, screenshots kept."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from playwright.sync_api import expect

from tests.appointments.factories import TZ, book, make_doctor
from tests.members.factories import make_member

from .conftest import nav_click
from .test_accessibility import AXE, AXE_RUN, open_as, world  # noqa: F401 — the demo world
from .test_appointments import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _travel(request, when):
    traveller = time_machine.travel(when, tick=True)
    clock = traveller.start()
    request.addfinalizer(traveller.stop)
    return clock


def test_partner_term_checkout_statement_settlement(
    request, live_server, page, branch, marketer, front_desk, manager, cleaning, screenshot
):
    from marketing.models import Attribution, Partner, Statement, TouchSource

    clock = _travel(request, dt.datetime(2026, 11, 27, 9, tzinfo=TZ))
    log_in(page, live_server.url, marketer.username)
    nav_click(page, "转诊单位")
    page.get_by_test_id("partner-new").click()
    form = page.get_by_test_id("partner-form")
    form.get_by_label("单位名称").fill("阳光实验小学")
    form.get_by_label("类型").select_option("school")
    form.get_by_label("负责人").select_option(str(marketer.pk))
    form.get_by_label("电话").fill("021-62881101")
    screenshot("partner-1-create")
    form.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("阳光实验小学")
    page.get_by_test_id("term-new").click()
    term = page.get_by_test_id("term-form")
    term.locator("select[name=kind]").select_option("percent")
    term.get_by_label("比例").fill("10")
    screenshot("partner-2-term")
    term.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("terms")).to_contain_text("实收金额的 10%")
    screenshot("partner-3-detail")

    # a person the school sent is treated and checked out at the front desk
    partner = Partner.objects.get(name="阳光实验小学")
    member = make_member(branch, name="陈小雨", phone="13700101001")
    Attribution.objects.create(member=member, partner=partner, source=TouchSource.REGISTRATION)
    doctor = make_doctor(branch, "doc_partner", "李医生")
    from appointments import checkout, services

    appt = book(front_desk, branch, member, cleaning, doctor, dt.datetime(2026, 11, 27, 10, tzinfo=TZ))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    visit = services.appointment_start_treatment(actor=front_desk, appointment=appt).visit
    checkout.charge_line_add(actor=front_desk, visit=visit, item=cleaning)
    desk = page.context.browser.new_context(base_url=live_server.url, locale="zh-CN")
    desk_page = desk.new_page()
    log_in(desk_page, live_server.url, front_desk.username)
    desk_page.goto(live_server.url + reverse("appointments:visit", args=[visit.pk]))
    pay = desk_page.get_by_test_id("checkout-form")
    pay.locator("select[name=method]").select_option("wechat_pay")
    pay.get_by_label("实付金额").fill("280.00")
    desk_page.get_by_test_id("checkout-submit").click()
    desk_page.wait_for_url(lambda u: "receipt" in u or "visits" in u)
    desk.close()

    # marketing sees the rebate on November's statement
    nav_click(page, "返佣对账单")
    page.get_by_test_id("statement-table").get_by_role("link", name="2026-11").click()
    lines = page.get_by_test_id("statement-lines")
    expect(lines).to_contain_text("陈小雨")
    expect(lines).to_contain_text("¥280.00")
    expect(page.get_by_test_id("statement-total")).to_contain_text("¥28.00")
    expect(page.get_by_test_id("settle-form")).to_have_count(0)  # marketing does not settle
    screenshot("partner-4-statement")
    statement = Statement.objects.get(partner=partner)

    # in December the manager settles November
    clock.move_to(dt.datetime(2026, 12, 2, 10, tzinfo=TZ))
    page.context.clear_cookies()
    log_in(page, live_server.url, manager.username)
    page.goto(live_server.url + reverse("marketing:statement_detail", args=[statement.pk]))
    settle = page.get_by_test_id("settle-form")
    expect(settle.get_by_label("实付金额")).to_have_value("28.00")
    settle.get_by_label("付款流水号").fill("转账 20261202-001")
    screenshot("partner-5-settle")
    settle.get_by_role("button", name="结算").click()
    expect(page.get_by_test_id("settled")).to_contain_text("转账 20261202-001")
    expect(page.get_by_test_id("settled")).to_contain_text("¥28.00")
    screenshot("partner-6-settled")
    statement.refresh_from_db()
    assert (statement.status, statement.paid_amount, statement.settled_by) == ("settled", 28, manager)


PAGES = [
    ("marketing:partner_list", None),
    ("marketing:partner_create", None),
    ("marketing:partner_detail", "partner"),
    ("marketing:partner_edit", "partner"),
    ("marketing:partner_term_add", "partner"),
    ("marketing:partner_people", "partner"),
    ("marketing:partner_analysis", None),
    ("marketing:statement_list", None),
    ("marketing:statement_detail", "statement"),
]


@pytest.mark.parametrize("width", [1280, 390])
def test_partner_pages_pass_axe_and_fit_the_screen(live_server, browser, world, width):  # noqa: F811
    import os

    from tests.e2e.conftest import SCREENSHOTS

    context, page = open_as(
        browser,
        live_server.url,
        "marketing",
        viewport={"width": width, "height": 900},
        **({"is_mobile": True} if width < 500 else {}),
    )
    problems = []
    os.makedirs(SCREENSHOTS, exist_ok=True)
    for name, key in PAGES:
        url = reverse(name, kwargs={"pk": world[key].pk} if key else {})
        page.goto(url)
        page.wait_for_load_state()
        assert page.locator("h1").count() == 1, url
        page.add_script_tag(path=str(AXE))
        for v in page.evaluate(AXE_RUN):
            problems.append(f"{url}: {v['impact']} {v['id']} {v['nodes']}")
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            problems.append(f"{url}: {scroll} px wide in a {inner} px screen")
        page.screenshot(
            path=os.path.join(SCREENSHOTS, f"partners-{width}-{name.split(':')[1]}.png"), full_page=True
        )
    context.close()
    assert not problems, "\n".join(problems)
