"""The stock reports as xlsx, made formula-safe and audited as the reports app's exports
are (this app is below reports and members, so it has its own small writer)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.functional import Promise
from openpyxl import Workbook

from clinic.services import audit_record

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    return value


def workbook_response(
    *, actor, branch, report: str, sheets: Iterable[tuple[str, list, list]]
) -> HttpResponse:
    wb = Workbook(write_only=True)
    rows = 0
    for title, header, body in sheets:
        ws = wb.create_sheet(title=str(title)[:31])
        ws.append([escape_cell(h) for h in header])
        for row in body:
            ws.append([escape_cell(v) for v in row])
            rows += 1
    out = io.BytesIO()
    wb.save(out)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="inventory.report.exported",
            branch=branch,
            changes={"report": report, "format": "xlsx", "rows": rows},
        )
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = (
        f'attachment; filename="{report}-{timezone.localtime():%Y%m%d-%H%M}.xlsx"'
    )
    return response
