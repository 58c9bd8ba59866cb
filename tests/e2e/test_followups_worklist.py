"""Customer service's work list in a real browser: a visit is checked out at the front desk,
its follow-up task appears on the work list, and a customer-service user works it (the next
person to open it sees the attempt). Screenshots at 1280 px and on a 390 px phone."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from appointments import services as appointment_services
from clinic.models import Role
from followups.models import Task
from followups.services import task_create
from tests.appointments.factories import make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.conftest import PASSWORD, make_staff
from tests.e2e.conftest import nav_click
from tests.followups.helpers import make_plan
from tests.members.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda u: "/login/" not in u)


@pytest.fixture
def clinic(branch, front_desk):
    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    importlib.import_module("followups.migrations.0002_plans").add_templates(apps, None)
    surgery = ServiceCategoryFactory(code="SURG", name="口腔外科")
    extraction = ServiceItemFactory(code="SU01", name="普通拔牙", category=surgery, price="300.00")
    make_plan(
        "拔牙术后回访", category=surgery, steps=[("拔牙术后第1天回访", 1, "days")], care="咬紧棉球30分钟。"
    )
    doctor = make_doctor(branch, "doc_chen", "陈医生")
    person = make_member(branch, name="王芳", phone="13900002222")
    cs = make_staff(Role.CUSTOMER_SERVICE, [branch], username="kefu")
    # Something overdue too, so the tabs have more than one row to show.
    task_create(
        actor=None,
        member=make_member(branch, name="李娜"),
        kind="recall",
        title="洁牙复诊提醒",
        due_on=timezone.localdate() - dt.timedelta(days=2),
        source_key="e2e:overdue",
        assignee=cs,
    )
    start = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    appt = appointment_services.appointment_book(
        actor=front_desk,
        branch=branch,
        member=person,
        service=extraction,
        doctor=doctor,
        start=start,
        channel="phone",
    )
    appointment_services.appointment_check_in(actor=front_desk, appointment=appt)
    appt = appointment_services.appointment_start_treatment(actor=front_desk, appointment=appt)
    return {"visit": appt.visit, "person": person, "cs": cs}


def test_a_checked_out_visit_puts_its_follow_up_on_the_list_and_customer_service_works_it(
    live_server, page, browser, clinic, screenshot
):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, live_server.url, "front_desk")
    page.goto(f"{live_server.url}/appointments/visits/{clinic['visit'].pk}/")
    page.locator("#id_line-item").select_option(label="SU01 普通拔牙（30′）")
    page.locator("#id_line-teeth").fill("38")
    page.get_by_test_id("add-line").click()
    expect(page.get_by_test_id("amount-due")).to_have_text("¥300.00")
    page.get_by_test_id("checkout-submit").click()
    expect(page.get_by_test_id("receipt")).to_contain_text("王芳")

    task = Task.objects.get(visit=clinic["visit"])
    assert (task.assignee, task.due_on) == (clinic["cs"], timezone.localdate() + dt.timedelta(days=1))

    page.context.clear_cookies()
    log_in(page, live_server.url, "kefu")
    nav_click(page, "回访工作台")
    expect(page.get_by_test_id("tab-today")).to_have_attribute("aria-current", "page")
    page.get_by_test_id("tab-mine").click()
    rows = page.get_by_test_id("task-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("洁牙复诊提醒")
    expect(rows.nth(1)).to_contain_text("拔牙术后第1天回访")
    screenshot("followups-1-worklist-1280")

    rows.nth(1).get_by_test_id("task-link").click()
    expect(page.get_by_test_id("task-script")).to_contain_text("拔牙术后第1天回访的话术")
    form = page.get_by_test_id("attempt-form")
    form.get_by_label("未接通").check()
    form.get_by_label("备注").fill("无人接听")
    form.get_by_test_id("attempt-save").click()
    expect(page.get_by_test_id("attempts")).to_contain_text("无人接听")
    expect(page.get_by_test_id("task-attempts-count")).to_contain_text("1")
    form = page.get_by_test_id("attempt-form")
    form.get_by_label("已联系上").check()
    form.get_by_label("满意度").select_option("5")
    form.get_by_label("备注").fill("伤口恢复良好，已无出血")
    screenshot("followups-2-task-1280")
    form.get_by_test_id("attempt-save").click()
    expect(page.get_by_test_id("task-status")).to_have_text("已完成")
    expect(page.get_by_test_id("attempts").get_by_test_id("attempt")).to_have_count(2)
    expect(page.get_by_test_id("contacts")).to_contain_text("伤口恢复良好")
    task.refresh_from_db()
    assert (task.status, task.satisfaction, task.attempts_count) == ("done", 5, 2)
    assert not [e for e in errors if "Content Security Policy" in e], errors

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    mobile = phone.new_page()
    log_in(mobile, live_server.url, "kefu")
    mobile.goto(f"{live_server.url}/followups/?tab=team")
    expect(mobile.get_by_test_id("task-row")).to_have_count(1)  # the done one left the list
    width = mobile.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    mobile.screenshot(path="var/screenshots/followups-3-worklist-390.png", full_page=True)
    mobile.goto(f"{live_server.url}/followups/tasks/{task.pk}/")
    expect(mobile.get_by_test_id("attempts")).to_contain_text("无人接听")
    width2 = mobile.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    mobile.screenshot(path="var/screenshots/followups-4-task-390.png", full_page=True)
    phone.close()
    assert width[0] <= width[1] and width2[0] <= width2[1], (width, width2)


def test_the_work_list_and_task_page_have_no_serious_axe_violation(live_server, browser, clinic, manager):
    from tests.e2e.test_accessibility import AXE, AXE_RUN, report

    task = Task.objects.get(source_key="e2e:overdue")
    found = {}
    for username, viewport in (("kefu", (1280, 800)), ("kefu", (390, 844)), ("branch_manager", (1280, 800))):
        context = browser.new_context(
            base_url=live_server.url,
            bypass_csp=True,  # axe is injected as an inline script
            locale="zh-CN",
            viewport={"width": viewport[0], "height": viewport[1]},
            is_mobile=viewport[0] < 500,
        )
        page = context.new_page()
        log_in(page, live_server.url, username)
        for url in ("/followups/?tab=team", f"/followups/tasks/{task.pk}/"):
            page.goto(url)
            page.wait_for_load_state()
            page.add_script_tag(path=str(AXE))
            found[(f"{username}@{viewport[0]}", url)] = page.evaluate(AXE_RUN)
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], (username, url, width)
        context.close()
    errors = {k: v for k, v in found.items() if v}
    assert not errors, report(errors)
