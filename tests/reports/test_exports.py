"""Exports of the reports: a drill-down's xlsx and CSV hold exactly the rows the tile counts,
phones masked without reveal_contact, formulas made harmless, each export audited; an xlsx
longer than a sheet continues on the next one."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from clinic.models import AuditLog
from reports import exports
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def people_today(branch, other_branch):
    make_member(branch, name='=HYPERLINK("x")', phone="+8613900000001")
    make_member(branch, name="导出乙", phone="+8613900000002")
    make_member(other_branch, name="别店", phone="+8613900000003")
    return branch


def test_drill_xlsx_and_csv_match_the_tile_masked_and_audited(people_today, manager, client_for):
    client = client_for(manager)
    response = client.get(reverse("reports:drill_export", args=["new_people", "xlsx"]) + "?period=today")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxml")
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("时间", "客户", "电话", "详情")
    body = rows[1:]
    assert len(body) == 2  # not the other branch's person
    names = {r[1] for r in body}
    assert '\'=HYPERLINK("x")' in names  # a formula is text
    reveal = manager.has_perm("clinic.reveal_contact")
    assert all(("****" in r[2]) != reveal for r in body)  # as the viewer's role allows

    response = client.get(reverse("reports:drill_export", args=["new_people", "csv"]) + "?period=today")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(lines) == 3 and all(("****" in line[2]) != reveal for line in lines[1:])

    audits = AuditLog.objects.filter(action="reports.exported").order_by("pk")
    assert [a.changes["format"] for a in audits] == ["xlsx", "csv"]
    assert audits[0].changes["rows"] == 2
    assert audits[0].changes["phones"] == ("full" if reveal else "masked")


def test_masked_rows_for_a_viewer_who_may_not_reveal(people_today):
    from django.utils import timezone

    from reports import drill

    day = timezone.localdate()
    rows = list(drill.iter_rows("new_people", people_today, day, day + dt.timedelta(days=1), reveal=False))
    assert len(rows) == 2 and all("****" in r.phone for r in rows)


def test_dashboard_xlsx_has_its_sheets(people_today, manager, client_for):
    response = client_for(manager).get(reverse("reports:dashboard_export"))
    wb = load_workbook(io.BytesIO(response.content))
    assert len(wb.sheetnames) == 4
    today = list(wb.worksheets[0].iter_rows(values_only=True))
    assert ("新客", "2") in today


def test_a_long_list_continues_on_the_next_sheet(monkeypatch):
    monkeypatch.setattr(exports, "SHEET_ROWS", 2)
    sheets = list(exports._sheets("名单", ["a"], ([i] for i in range(5))))
    assert [len(s[2]) for s in sheets] == [2, 2, 1]
    assert [s[0] for s in sheets] == ["名单 1", "名单 2", "名单 3"]
    assert [s[0] for s in exports._sheets("名单", ["a"], iter(()))] == ["名单"]


def test_export_needs_the_permission_and_a_known_tile(people_today, front_desk, manager, client_for):
    assert (
        client_for(front_desk).get(reverse("reports:drill_export", args=["visits", "xlsx"])).status_code
        == 403
    )
    client = client_for(manager)
    assert client.get("/reports/drill/nope/export.xlsx").status_code == 404
    assert client.get("/reports/drill/visits/export.exe").status_code == 404
