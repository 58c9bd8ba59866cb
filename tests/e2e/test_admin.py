"""HQ admin changes a price in Django admin (in Chinese, under the CSP) and the change is audited."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from clinic.models import AuditLog, ServiceItem
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.e2e.conftest import nav_click
from tests.e2e.test_front_desk import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_hq_admin_edits_a_price_in_admin(live_server, page, hq_admin, screenshot):
    category = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    item = ServiceItemFactory(code="PV01", name="超声洁牙", category=category, price="280.00")
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    log_in(page, live_server.url, "hq_admin")
    nav_click(page, "管理后台")
    expect(page.locator("#site-name")).to_contain_text("管理后台")
    screenshot("admin-index")
    page.goto(f"{live_server.url}/admin/clinic/serviceitem/{item.pk}/change/")
    page.locator("#id_price").fill("300.00")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".messagelist")).to_be_visible()
    screenshot("admin-serviceitem-saved")

    item.refresh_from_db()
    assert str(item.price) == "300.00"
    row = AuditLog.objects.get(action="clinic.serviceitem.changed", target_id=str(item.pk))
    assert row.changes["price"] == ["280.00", "300.00"]
    assert row.actor == hq_admin
    assert ServiceItem.objects.get(pk=item.pk).events.count() == 2
    assert csp_errors == []
