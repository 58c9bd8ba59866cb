"""The stock keeper in a real browser (issue 20): receive stock on the form, see the expiry
alert on the home page, and the stock taken at checkout (the existing visit page) — at
1280 px and on a 390 px phone, in Chinese, axe-clean, under the CSP."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from appointments import services as appointment_services
from clinic.models import Role
from inventory.models import Batch, Item, ServiceMaterialDefault, StockBalance
from tests.appointments.factories import book, make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.conftest import PASSWORD
from tests.members.factories import make_member

from .test_accessibility import AXE, AXE_RUN

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda u: "/login/" not in u)


def shot(page, name: str) -> None:
    """A full-page screenshot of this page (the ``screenshot`` fixture shoots its own page)."""
    import os

    from .conftest import SCREENSHOTS

    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True, caret="initial")


def axe(page) -> list:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN)


@pytest.fixture
def stock_world(branch, front_desk, nurse, staff_factory):
    import importlib

    from django.apps import apps

    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)
    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)
    keeper = staff_factory(Role.STOCK_KEEPER, username="keeper")
    basic = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    service = ServiceItemFactory(
        code="PV01", name="超声洁牙", category=basic, price="280.00", duration_minutes=30
    )
    gloves = Item.objects.create(
        code="GL01", name="一次性医用手套", kind="consumable", unit="副", default_reorder_level=20
    )
    ServiceMaterialDefault.objects.create(service=service, item=gloves, quantity=2)
    doctor = make_doctor(branch, "doc_chen", "陈医生")
    member = make_member(branch, name="张三", phone="13900001111")
    # Today's 10:00 visit, whatever the hour the test runs: booked and checked in "as of" then.
    start = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    appt = book(front_desk, branch, member, service, doctor, start, now=start - dt.timedelta(hours=1))
    appointment_services.appointment_check_in(actor=front_desk, appointment=appt, now=start)
    appt = appointment_services.appointment_start_treatment(actor=front_desk, appointment=appt)
    return {"keeper": keeper, "gloves": gloves, "visit": appt.visit, "branch": branch}


def test_receive_see_the_alert_and_use_it_at_checkout(live_server, browser, stock_world):
    w = stock_world
    expiry = timezone.localdate() + dt.timedelta(days=20)
    context = browser.new_context(bypass_csp=True, locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    # The stock keeper receives a lot that expires in 20 days.
    log_in(page, live_server.url, "keeper")
    page.goto(f"{live_server.url}/inventory/")
    expect(page.get_by_test_id("stock-table")).to_contain_text("一次性医用手套")
    expect(page.get_by_test_id("badge-low")).to_be_visible()  # nothing in stock, level 20
    page.get_by_test_id("receive-link").click()
    form = page.get_by_test_id("stock-form")
    form.get_by_label("物品").select_option(label="GL01 一次性医用手套")
    form.get_by_label("批号").fill("GL-2612")
    form.get_by_label("有效期至").fill(expiry.isoformat())
    form.get_by_label("供应商").fill("国药集团医疗器械")
    form.get_by_label("单价（元）").fill("1.20")
    form.get_by_label("数量").fill("30")
    assert axe(page) == []
    shot(page, "inventory-1-receive")
    page.get_by_test_id("stock-submit").click()
    expect(page.get_by_test_id("batch-on-hand")).to_contain_text("30")
    expect(page.get_by_test_id("movements")).to_contain_text("入库")
    shot(page, "inventory-2-batch")

    # The home page shows the alert (within 30 days).
    page.goto(f"{live_server.url}/")
    alerts = page.get_by_test_id("stock-alerts")
    expect(alerts).to_contain_text("GL-2612")
    expect(alerts).to_contain_text("30 天内到期")
    assert axe(page) == []
    shot(page, "inventory-3-home-alert")
    page.goto(f"{live_server.url}/inventory/")
    expect(page.get_by_test_id("badge-expiry")).to_contain_text("30 天内到期")
    assert axe(page) == []
    shot(page, "inventory-4-stock-list")
    context.close()

    # The nurse adds a cleaning (its gloves come with it); the front desk checks out.
    context = browser.new_context(bypass_csp=True, locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/appointments/visits/{w['visit'].pk}/")
    page.locator("#id_line-item").select_option(label="PV01 超声洁牙（30′）")
    page.get_by_test_id("add-line").click()
    expect(page.get_by_test_id("line-materials")).to_contain_text("一次性医用手套 ×2")
    form = page.get_by_test_id("material-form")
    form.locator("#id_item").select_option(label="GL01 一次性医用手套（副）")
    form.locator("#id_quantity").fill("1")
    form.get_by_test_id("add-material").click()
    expect(page.get_by_test_id("line-materials")).to_contain_text("一次性医用手套 ×3")
    assert axe(page) == []
    shot(page, "inventory-5-visit-materials")
    context.close()

    context = browser.new_context(bypass_csp=True, locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, live_server.url, "front_desk")
    page.goto(f"{live_server.url}/appointments/visits/{w['visit'].pk}/")
    page.get_by_test_id("checkout-submit").click()
    expect(page.get_by_test_id("receipt")).to_contain_text("张三")
    page.goto(f"{live_server.url}/appointments/visits/{w['visit'].pk}/")
    expect(page.get_by_test_id("line-materials")).to_contain_text("GL-2612")
    shot(page, "inventory-6-visit-after-checkout")
    context.close()
    batch = Batch.objects.get(lot_number="GL-2612")
    assert StockBalance.objects.get(batch=batch, branch=w["branch"]).quantity == 27
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_the_stock_pages_on_a_phone(live_server, browser, stock_world):
    from inventory import services

    w = stock_world
    services.stock_receive(
        actor=w["keeper"],
        branch=w["branch"],
        item=w["gloves"],
        lot_number="GL-PHONE",
        expiry_date=timezone.localdate() + dt.timedelta(days=50),
        supplier="国药",
        unit_cost="1.20",
        quantity=5,
    )
    context = browser.new_context(
        bypass_csp=True, locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = context.new_page()
    log_in(page, live_server.url, "keeper")
    expect(page.get_by_test_id("stock-alerts")).to_contain_text("60 天内到期")
    assert axe(page) == []
    shot(page, "inventory-phone-1-home")
    for path, name in (
        ("/inventory/", "stock"),
        ("/inventory/stock-take/", "stock-take"),
        ("/inventory/reports/", "reports"),
        ("/inventory/write-off/", "write-off"),
    ):
        page.goto(f"{live_server.url}{path}")
        assert axe(page) == [], path
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, overflow)
        shot(page, f"inventory-phone-{name}")
    context.close()
