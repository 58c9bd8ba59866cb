"""The stock pages: happy paths for the stock keeper, refusals for other roles and for the
other branch, bad input shown as form errors, the home page's alert panel, the xlsx export."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from inventory.models import Batch, MovementKind
from tests.conftest import login

from .factories import expired_batch, make_item, on_hand, receive

pytestmark = pytest.mark.django_db


def test_receive_form_records_stock_and_shows_the_batch(keeper, branch, item):
    c = login(keeper)
    expiry = (timezone.localdate() + dt.timedelta(days=200)).isoformat()
    data = {
        "item": item.pk,
        "lot_number": "LOT-9",
        "expiry_date": expiry,
        "supplier": "国药",
        "unit_cost": "3.20",
        "quantity": 12,
    }
    response = c.post(reverse("inventory:receive"), data)
    batch = Batch.objects.get(lot_number="LOT-9")
    assert response.status_code == 302 and response.url == reverse("inventory:batch", args=[batch.pk])
    assert on_hand(branch, batch) == 12
    page = c.get(response.url)
    assert "LOT-9" in page.content.decode() and page.status_code == 200


def test_bad_input_is_a_form_error_not_a_500(keeper, branch, item):
    c = login(keeper)
    past = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    for data in (
        {
            "item": item.pk,
            "lot_number": "X",
            "expiry_date": past,
            "supplier": "s",
            "unit_cost": "1",
            "quantity": 1,
        },
        {
            "item": item.pk,
            "lot_number": "X",
            "expiry_date": "2099-01-01",
            "supplier": "s",
            "unit_cost": "-1",
            "quantity": 1,
        },
        {
            "item": "x",
            "lot_number": "",
            "expiry_date": "bad",
            "supplier": "",
            "unit_cost": "abc",
            "quantity": "0",
        },
    ):
        response = c.post(reverse("inventory:receive"), data)
        assert response.status_code == 200 and b"is-invalid" in response.content
    assert not Batch.objects.exists()


def test_write_off_transfer_and_stock_take_pages(keeper, branch, other_branch, item):
    batch = receive(keeper, branch, item, quantity=10).batch
    c = login(keeper)
    assert c.get(reverse("inventory:write_off") + f"?batch={batch.pk}").status_code == 200
    r = c.post(reverse("inventory:write_off"), {"batch": batch.pk, "quantity": 2, "reason": "破损"})
    assert r.status_code == 302 and on_hand(branch, batch) == 8
    r = c.post(reverse("inventory:write_off"), {"batch": batch.pk, "quantity": 99, "reason": "破损"})
    assert r.status_code == 200 and "8" in r.content.decode()
    r = c.post(
        reverse("inventory:transfer"), {"batch": batch.pk, "quantity": 3, "to_branch": other_branch.pk}
    )
    assert r.status_code == 302 and on_hand(other_branch, batch) == 3
    r = c.post(reverse("inventory:return_supplier"), {"batch": batch.pk, "quantity": 1, "reason": "退货"})
    assert r.status_code == 302
    assert c.get(reverse("inventory:stock_take")).status_code == 200
    r = c.post(reverse("inventory:stock_take"), {f"count_{batch.pk}": 2})
    assert r.status_code == 302 and on_hand(branch, batch) == 2
    assert batch.movements.filter(kind=MovementKind.COUNT).count() == 1


def test_stock_list_filters_and_badges(keeper, branch, item, django_assert_max_num_queries):
    from inventory.models import ReorderLevel

    receive(keeper, branch, item, lot="NEAR", days=20, quantity=1)
    ReorderLevel.objects.create(item=item, branch=branch, level=5)
    other = make_item("AN01", "阿替卡因", kind="drug", unit="支")
    receive(keeper, branch, other, lot="FAR", days=600, quantity=50)
    c = login(keeper)
    with django_assert_max_num_queries(20):
        page = c.get(reverse("inventory:stock")).content.decode()
    assert 'data-testid="badge-low"' in page and 'data-testid="badge-expiry"' in page
    only_drugs = c.get(reverse("inventory:stock"), {"kind": "drug"}).content.decode()
    assert "阿替卡因" in only_drugs and "医用手套" not in only_drugs
    low = c.get(reverse("inventory:stock"), {"only": "low"}).content.decode()
    assert "医用手套" in low and "阿替卡因" not in low
    assert "阿替卡因" in c.get(reverse("inventory:stock"), {"q": "FAR"}).content.decode()


def test_roles_are_refused_where_they_do_not_belong(
    front_desk, nurse, manager, keeper, outsider, branch, item
):
    batch = receive(keeper, branch, item).batch
    assert login(front_desk).get(reverse("inventory:stock")).status_code == 403
    assert login(nurse).get(reverse("inventory:stock")).status_code == 403
    assert login(manager).get(reverse("inventory:stock")).status_code == 200
    assert (
        login(manager).post(reverse("inventory:receive"), {}).status_code == 403
    )  # reads, does not move stock
    assert login(outsider).get(reverse("inventory:batch", args=[batch.pk])).status_code in (403, 404)


def test_the_home_page_shows_the_alerts_to_keepers_and_managers(keeper, manager, front_desk, branch, item):
    receive(keeper, branch, item, lot="SOON", days=25, quantity=1)
    expired_batch(branch, item, lot="GONE")
    for user in (keeper, manager):
        page = login(user).get(reverse("home")).content.decode()
        assert 'data-testid="stock-alerts"' in page and "SOON" in page and "GONE" in page
    assert 'data-testid="stock-alerts"' not in login(front_desk).get(reverse("home")).content.decode()


def test_reports_page_and_xlsx_export(keeper, manager, branch, item):
    from clinic.models import AuditLog

    receive(keeper, branch, item, quantity=4, cost="2.00")
    c = login(manager)
    assert c.get(reverse("inventory:reports")).status_code == 200
    response = c.get(reverse("inventory:reports"), {"format": "xlsx"})
    wb = load_workbook(io.BytesIO(response.content))
    assert len(wb.sheetnames) == 4
    assert wb.worksheets[0].max_row == 2
    assert AuditLog.objects.filter(action="inventory.report.exported").exists()


def test_the_keeper_sets_and_clears_the_branch_reorder_level_on_the_item_page(keeper, manager, branch, item):
    from clinic.models import AuditLog
    from inventory.models import ReorderLevel

    receive(keeper, branch, item, lot="R1", days=300, quantity=3)
    c = login(keeper)
    page = c.get(reverse("inventory:item", args=[item.pk])).content.decode()
    assert 'data-testid="reorder-level"' in page and 'name="level"' in page
    response = c.post(reverse("inventory:reorder_level", args=[item.pk]), {"level": "5"})
    assert response.status_code == 302 and response.url == reverse("inventory:item", args=[item.pk])
    assert ReorderLevel.objects.get(item=item, branch=branch).level == 5
    low = c.get(reverse("inventory:stock"), {"only": "low"}).content.decode()
    assert item.name in low  # 3 on hand, below 5
    log = AuditLog.objects.get(action="inventory.reorder_level.set")
    assert log.changes["reorder_level"] == [None, 5] and log.branch_id == branch.pk
    # Saving the same value again writes no second audit row; empty goes back to the default.
    c.post(reverse("inventory:reorder_level", args=[item.pk]), {"level": "5"})
    assert AuditLog.objects.filter(action="inventory.reorder_level.set").count() == 1
    c.post(reverse("inventory:reorder_level", args=[item.pk]), {"level": ""})
    assert not ReorderLevel.objects.filter(item=item, branch=branch).exists()
    # Bad input: a form error on the page, nothing saved.
    for bad in ("-1", "abc", "100001"):
        response = c.post(reverse("inventory:reorder_level", args=[item.pk]), {"level": bad})
        assert response.status_code == 400 and "invalid-feedback" in response.content.decode()
    assert not ReorderLevel.objects.filter(item=item, branch=branch).exists()
    # The manager reads the level but may not change it.
    page = login(manager).get(reverse("inventory:item", args=[item.pk])).content.decode()
    assert 'data-testid="reorder-level"' in page and 'name="level"' not in page
    assert (
        login(manager).post(reverse("inventory:reorder_level", args=[item.pk]), {"level": "9"}).status_code
        == 403
    )
