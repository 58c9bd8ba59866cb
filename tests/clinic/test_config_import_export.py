"""django-import-export on the configuration tables: Chinese headers, preview (dry run)
writes nothing, a real import is audited like an admin edit."""

from __future__ import annotations

import pytest
import tablib
from django.urls import reverse
from django.utils import translation

from appointments.resources import ChairResource
from clinic.models import AuditLog, ServiceCategory, ServiceItem
from clinic.resources import ServiceItemResource
from loyalty.resources import CouponTemplateResource, RewardItemResource, TierResource

pytestmark = pytest.mark.django_db


def zh(model, name: str) -> str:
    with translation.override("zh-hans"):
        return str(model._meta.get_field(name).verbose_name)


def test_price_list_round_trip_with_chinese_headers_preview_and_audit(hq_admin):
    category = ServiceCategory.objects.create(code="TESTC", name="测试类")
    headers = ServiceItemResource().get_export_headers()
    assert zh(ServiceItem, "price") in headers and zh(ServiceItem, "category") in headers
    assert all(not h.isascii() or h == "ID" for h in headers), headers
    data = tablib.Dataset(headers=headers)
    row = {zh(ServiceItem, "code"): "TST01", zh(ServiceItem, "name"): "测试洁牙",
           zh(ServiceItem, "category"): category.code, zh(ServiceItem, "price"): "180.00",
           zh(ServiceItem, "duration_minutes"): "30", zh(ServiceItem, "per_tooth"): "0",
           zh(ServiceItem, "is_active"): "1"}  # fmt: skip
    data.append([row.get(h, "") for h in headers])
    preview = ServiceItemResource().import_data(data, dry_run=True, user=hq_admin)
    assert not preview.has_errors() and not preview.has_validation_errors(), preview.invalid_rows
    assert [r.import_type for r in preview.rows] == ["new"]
    assert not ServiceItem.objects.filter(code="TST01").exists()  # a preview writes nothing

    result = ServiceItemResource().import_data(data, dry_run=False, user=hq_admin)
    assert not result.has_errors() and not result.has_validation_errors()
    item = ServiceItem.objects.get(code="TST01")
    assert item.category == category and str(item.price) == "180.00"
    audit = AuditLog.objects.get(action="clinic.serviceitem.created")
    assert audit.actor == hq_admin and audit.changes["price"][1] == "180.00"

    exported = ServiceItemResource().export()
    assert "TST01" in exported.csv and zh(ServiceItem, "price") in exported.csv.splitlines()[0]


def test_bad_row_is_a_row_error_not_a_500(hq_admin):
    headers = ServiceItemResource().get_export_headers()
    data = tablib.Dataset(headers=headers)
    data.append([{zh(ServiceItem, "code"): "TST02", zh(ServiceItem, "name"): "x",
                  zh(ServiceItem, "price"): "-5"}.get(h, "") for h in headers])  # fmt: skip
    result = ServiceItemResource().import_data(data, dry_run=False, user=hq_admin)
    assert result.has_validation_errors() or result.has_errors()
    assert not ServiceItem.objects.filter(code="TST02").exists()


@pytest.mark.parametrize(
    "resource", [TierResource, CouponTemplateResource, RewardItemResource, ChairResource]
)
def test_other_configuration_tables_export(resource):
    dataset = resource().export()
    assert dataset.headers and all(not h.isascii() or h == "ID" for h in dataset.headers), dataset.headers


def test_admin_import_page(hq_admin, client_for):
    client = client_for(hq_admin)
    for name in ["clinic_serviceitem", "clinic_servicecategory", "clinic_branch", "loyalty_tier",
                 "loyalty_coupontemplate", "loyalty_rewarditem", "appointments_chair"]:  # fmt: skip
        response = client.get(reverse(f"admin:{name}_import"))
        assert response.status_code == 200, name
