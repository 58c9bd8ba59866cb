"""The audit-log page: managers see their branch, HQ every branch; filters by person, staff,
action and date; export as xlsx and CSV (audited, not cached); others refused."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from clinic.models import AuditLog
from clinic.services import audit_record
from tests.conftest import login
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(branch, other_branch, front_desk, outsider):
    here = make_member(branch, name="张三", phone="13900001111", actor=front_desk)
    there = make_member(other_branch, name="李四", phone="13900002222", actor=outsider)
    with transaction.atomic():
        audit_record(actor=front_desk, action="members.member.phone_revealed", target=here)
        audit_record(actor=outsider, action="members.member.phone_revealed", target=there)
    return here, there


def test_manager_sees_own_branch_only_with_translated_labels(manager, rows):
    page = login(manager).get(reverse("reports:audit_log"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "张三" in html and "李四" not in html
    assert ">members.member.phone_revealed<" not in html  # the label, never the code
    assert "查看完整手机号" in html


def test_hq_sees_every_branch(hq_admin, rows):
    html = login(hq_admin).get(reverse("reports:audit_log")).content.decode()
    assert "张三" in html and "李四" in html


def test_filters(hq_admin, front_desk, rows):
    client = login(hq_admin)
    here, _there = rows
    url = reverse("reports:audit_log")
    assert "李四" not in client.get(url, {"person": "张"}).content.decode()
    assert "张三" in client.get(url, {"person": str(here.pk)}).content.decode()
    by_staff = client.get(url, {"staff": front_desk.pk}).content.decode()
    assert "张三" in by_staff and "李四" not in by_staff
    assert "张三" in client.get(url, {"action": "members.member.phone_revealed"}).content.decode()
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    assert "张三" not in client.get(url, {"date_from": tomorrow}).content.decode()
    today = timezone.localdate().isoformat()
    assert "张三" in client.get(url, {"date_from": today, "date_to": today}).content.decode()


@pytest.mark.parametrize(
    "params",
    [{"date_from": "2026-13-01"}, {"date_from": "2026-12-07", "date_to": "2026-12-01"}, {"action": "x" * 70}],
)
def test_bad_filters_say_what_is_wrong(hq_admin, rows, params):
    response = login(hq_admin).get(reverse("reports:audit_log"), params)
    assert response.status_code == 200
    assert response.context["form"].errors


def test_export_xlsx_and_csv_are_audited_and_not_stored(manager, rows):
    client = login(manager)
    xlsx = client.get(reverse("reports:audit_log_export", args=["xlsx"]), {"person": "张"})
    assert xlsx.status_code == 200 and "no-store" in xlsx["Cache-Control"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert any("张三" in str(v) for v in values) and not any("李四" in str(v) for v in values)
    csv = client.get(reverse("reports:audit_log_export", args=["csv"]))
    assert csv.status_code == 200 and "no-store" in csv["Cache-Control"]
    body = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert "张三" in body and "李四" not in body
    assert AuditLog.objects.filter(action="reports.exported", actor=manager).count() == 2


def test_refused_to_other_roles(front_desk, marketer, doctor):
    for user in (front_desk, marketer, doctor):
        client = login(user)
        assert client.get(reverse("reports:audit_log")).status_code == 403
        assert client.get(reverse("reports:audit_log_export", args=["csv"])).status_code == 403


def test_query_count_is_bounded(hq_admin, rows, django_assert_max_num_queries, branch, front_desk):
    with transaction.atomic():
        for i in range(30):
            audit_record(
                actor=front_desk, action="members.member.phone_revealed", target=rows[0], changes={"n": i}
            )
    client = login(hq_admin)
    with django_assert_max_num_queries(20):
        assert client.get(reverse("reports:audit_log")).status_code == 200
