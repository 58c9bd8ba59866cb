"""The clinical flow in a real browser: a doctor charts a visit, writes an implant plan with
an alternative (implant or bridge), a senior doctor reviews it from the queue, the patient
accepts it, and it is carried out in two visits checked out at the existing checkout page.
Axe-core on every clinical page at 1280 px and on a 390 px phone (no sideways scrolling)."""

from __future__ import annotations

import datetime as dt
import importlib
import os

import pytest
import time_machine
from django.apps import apps
from django.urls import reverse
from playwright.sync_api import expect

from appointments import services as appt_services
from clinic.models import Role
from clinical.models import PlanStatus, ToothFinding, TreatmentPlan
from tests.appointments.factories import TZ, book, make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.conftest import make_staff
from tests.members.factories import make_member

from .conftest import SCREENSHOTS, nav_click
from .test_accessibility import AXE, AXE_RUN
from .test_complaints import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic(branch, front_desk, settings, tmp_path):
    settings.CLINICAL_PRIVATE_ROOT = tmp_path / "private"
    clock = time_machine.travel(dt.datetime(2026, 12, 7, 9, 0, tzinfo=TZ), tick=True)
    clock.start()
    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)
    importlib.import_module("clinical.migrations.0002_plan_types").forwards(apps, None)
    from clinic.roles import sync_roles

    sync_roles()
    basic = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    service = ServiceItemFactory(
        code="PV01", name="超声洁牙", category=basic, price="280.00", duration_minutes=30
    )
    endo = ServiceCategoryFactory(code="ENDO", name="牙体牙髓")
    ServiceItemFactory(
        code="EN01", name="树脂补牙", category=endo, price="400.00", duration_minutes=40, per_tooth=True
    )
    impl = ServiceCategoryFactory(code="IMPL", name="种植")
    ServiceItemFactory(
        code="IM01",
        name="种植体（国产）",
        category=impl,
        price="6800.00",
        duration_minutes=90,
        per_tooth=True,
    )
    aest = ServiceCategoryFactory(code="AEST", name="美容修复")
    ServiceItemFactory(
        code="AE02", name="全瓷冠", category=aest, price="4500.00", duration_minutes=60, per_tooth=True
    )
    doctor = make_doctor(branch, "doc_chen", "陈医生")
    make_staff(Role.SENIOR_DOCTOR, [branch], username="senior_wang")
    member = make_member(branch, name="张三", phone="13900001111")
    visits = []
    for hour in (9, 14):
        appt = book(
            front_desk, branch, member, service, doctor, dt.datetime(2026, 12, 7, hour, 30, tzinfo=TZ)
        )
        appt_services.appointment_check_in(actor=front_desk, appointment=appt)
        visits.append(appt_services.appointment_start_treatment(actor=front_desk, appointment=appt).visit)
    yield {"member": member, "visits": visits}
    clock.stop()


def _axe(page, url: str, problems: list[str]) -> None:
    page.add_script_tag(path=str(AXE))
    for v in page.evaluate(AXE_RUN):
        problems.append(f"{url}: {v['impact']} {v['id']} {v['nodes']}")
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if scroll > inner:
        problems.append(f"{url}: {scroll} px wide in a {inner} px screen")


def _checkout(page, base: str, visit) -> None:
    page.goto(base + reverse("appointments:visit", args=[visit.pk]))
    page.get_by_test_id("checkout-submit").click()
    expect(page.get_by_test_id("receipt")).to_contain_text("张三")


def test_chart_plan_review_and_two_visits(live_server, page, browser, clinic, screenshot):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    member, (visit1, visit2) = clinic["member"], clinic["visits"]
    base = live_server.url

    # 1. The doctor charts the first visit from the person's 病历 tab.
    log_in(page, base, "doc_chen")
    page.goto(f"{base}{reverse('members:detail', args=[member.pk])}?tab=clinical")
    page.get_by_test_id("open-chart").click()
    form = page.get_by_test_id("finding-form")
    form.get_by_label("就诊").select_option(str(visit1.pk))
    form.get_by_label("牙位（FDI）").fill("16")
    form.get_by_label("检查所见").select_option("caries")
    form.get_by_label("𬌗面/切端（O）").check()
    form.get_by_label("近中面（M）").check()
    page.get_by_test_id("finding-submit").click()
    expect(page.locator('[data-tooth="16"]')).to_have_attribute("data-condition", "caries")
    form = page.get_by_test_id("finding-form")
    form.get_by_label("牙位（FDI）").fill("36")
    form.get_by_label("检查所见").select_option("missing")
    page.get_by_test_id("finding-submit").click()
    expect(page.locator('[data-tooth="36"]')).to_have_attribute("data-condition", "missing")
    assert ToothFinding.objects.filter(member=member).count() == 3
    screenshot("clinical-1-chart-1280")

    # 2. An implant plan with an alternative (a bridge), and a filling.
    page.goto(f"{base}{reverse('members:detail', args=[member.pk])}?tab=clinical")
    page.get_by_test_id("new-plan").click()
    form = page.get_by_test_id("plan-form")
    form.get_by_label("方案类型").select_option(label="种植")
    form.get_by_label("标题").fill("36 缺失种植修复")
    form.get_by_label("预计疗程（周）").fill("12")
    page.get_by_test_id("plan-create").click()
    for label, teeth, group in (
        ("树脂补牙 · ¥400.00", "16", ""),
        ("种植体（国产） · ¥6800.00", "36", "36 缺牙修复"),
        ("全瓷冠 · ¥4500.00", "35 36 37", "36 缺牙修复"),
    ):
        form = page.get_by_test_id("item-form")
        form.get_by_label("项目", exact=True).select_option(label=label)
        form.get_by_label("牙位（FDI）").fill(teeth)
        form.get_by_label("备选组").fill(group)
        page.get_by_test_id("item-add").click()
        page.wait_for_load_state()
    expect(page.get_by_test_id("plan-total")).to_have_text("¥7,200.00")
    screenshot("clinical-2-plan-editor-1280")
    page.get_by_test_id("plan-submit").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("审核中")
    plan = TreatmentPlan.objects.get(member=member)

    # 3. The senior doctor reviews it from the queue.
    senior_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    senior = senior_ctx.new_page()
    log_in(senior, base, "senior_wang")
    nav_click(senior, "方案审核")
    expect(senior.get_by_test_id("review-queue")).to_contain_text("36 缺失种植修复")
    senior.get_by_role("link", name="36 缺失种植修复").click()
    senior.get_by_test_id("review-form").get_by_label("审核结论").select_option("approve")
    senior.get_by_test_id("review-submit").click()
    expect(senior.get_by_test_id("review-queue")).to_contain_text("暂无待审核的方案")
    senior.screenshot(path=os.path.join(SCREENSHOTS, "clinical-3-review-queue-1280.png"), full_page=True)
    senior_ctx.close()

    # 4. Presented, accepted, printed to sign.
    page.goto(base + reverse("clinical:plan", args=[plan.pk]))
    page.get_by_test_id("plan-present").click()
    page.get_by_test_id("plan-accept").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("已接受")
    pdf = page.request.get(base + reverse("clinical:plan_pdf", args=[plan.pk]))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"

    # 5. The filling on the first visit, the implant on the second; the front desk checks out.
    filling, implant = plan.items.get(item__code="EN01"), plan.items.get(item__code="IM01")
    for n, (item, visit) in enumerate(((filling, visit1), (implant, visit2)), start=1):
        page.goto(base + reverse("clinical:plan", args=[plan.pk]))
        row = page.locator(f'[data-testid="charge-form"]:has(input[name="item"][value="{item.pk}"])')
        row.locator("select").select_option(str(visit.pk))
        row.get_by_role("button").click()
        expect(page.get_by_test_id("plan-progress")).to_contain_text(f"就诊进行中: {n}")
    screenshot("clinical-4-plan-in-progress-1280")
    desk_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    desk = desk_ctx.new_page()
    log_in(desk, base, "front_desk")
    _checkout(desk, base, visit1)
    expect(desk.get_by_test_id("receipt-due")).to_have_text("¥400.00")
    _checkout(desk, base, visit2)
    expect(desk.get_by_test_id("receipt-due")).to_have_text("¥6,800.00")
    desk_ctx.close()
    page.goto(base + reverse("clinical:plan", args=[plan.pk]))
    expect(page.get_by_test_id("plan-status")).to_have_text("已完成")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    screenshot("clinical-5-plan-done-1280")

    # 6. Axe and the phone: every clinical page.
    problems: list[str] = []
    urls = [
        reverse("clinical:chart", args=[member.pk]),
        reverse("clinical:plan", args=[plan.pk]),
        f"{reverse('members:detail', args=[member.pk])}?tab=clinical",
        reverse("clinical:plan_new", args=[member.pk]),
        reverse("clinical:attachment_add", args=[member.pk]),
        reverse("clinical:visit_note", args=[visit1.pk]),
    ]
    for width in (1280, 390):
        ctx = browser.new_context(
            viewport={"width": width, "height": 900},
            locale="zh-CN",
            bypass_csp=True,  # axe is injected as an inline script
            **({"is_mobile": True} if width < 500 else {}),
        )
        p = ctx.new_page()
        log_in(p, base, "doc_chen")
        for url in urls:
            p.goto(base + url)
            p.wait_for_load_state()
            _axe(p, url, problems)
        p.goto(base + reverse("clinical:chart", args=[member.pk]))
        p.screenshot(path=os.path.join(SCREENSHOTS, f"clinical-6-chart-{width}.png"), full_page=True)
        p.goto(base + reverse("clinical:plan", args=[plan.pk]))
        p.screenshot(path=os.path.join(SCREENSHOTS, f"clinical-7-plan-{width}.png"), full_page=True)
        ctx.close()
        ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN", bypass_csp=True)
        p = ctx.new_page()
        log_in(p, base, "senior_wang")
        for url in (
            reverse("clinical:review_queue"),
            reverse("clinical:trace") + "?date_from=2026-12-01&date_to=2026-12-31",
        ):
            p.goto(base + url)
            _axe(p, url, problems)
        p.screenshot(path=os.path.join(SCREENSHOTS, f"clinical-8-trace-{width}.png"), full_page=True)
        expect(p.get_by_test_id("trace-count")).to_contain_text("1")
        ctx.close()
    assert not problems, "\n".join(problems)
    assert not [e for e in errors if "Content Security Policy" in e], errors
