"""Exports of the reports (docs/reports.md, "Exports"): the dashboard's figures and every
drill-down list, as xlsx and CSV. The same definitions as the pages (kpis, drill), the cells
made formula-safe (members.exports.escape_cell), phones masked unless the viewer may reveal
contacts, and every export audited. An xlsx sheet holds at most ``SHEET_ROWS`` rows: a longer
list continues on the next sheet; CSV streams any length."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.services import audit_record
from members.exports import XLSX, escape_cell, workbook_bytes

from . import drill
from .templatetags.reports_tags import figure

EXPORT_PERM = "reports.export_reports"
SHEET_ROWS = 1_000_000  # below xlsx's 1,048,576, with room for the header
FORMATS = ("xlsx", "csv")


def _audit(actor, branch, report: str, fmt: str, rows: int | None, **extra) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="reports.exported",
            branch=branch,
            changes={
                "report": report,
                "format": fmt,
                "rows": rows,
                "phones": "full" if actor.has_perm("clinic.reveal_contact") else "masked",
                **extra,
            },
        )


def _cell(value):
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    return escape_cell(value)


def _csv_text(value) -> str:
    value = _cell(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def _csv_stream(header: list, rows: Iterable[Iterable]) -> Iterator[bytes]:
    """UTF-8 with a BOM, so that Excel opens the Chinese text correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    yield "\ufeff".encode()
    writer.writerow([_csv_text(h) for h in header])
    for row in rows:
        writer.writerow([_csv_text(v) for v in row])
        if buf.tell() > 64 * 1024:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


def _sheets(title: str, header: list, rows: Iterable[Iterable]):
    """(title, header, rows) per sheet of at most SHEET_ROWS rows; always at least one."""
    chunk: list = []
    n = 0
    for row in rows:
        chunk.append(row)
        if len(chunk) == SHEET_ROWS:
            n += 1
            yield (f"{title} {n}", header, chunk)
            chunk = []
    if chunk or n == 0:
        yield (f"{title} {n + 1}" if n else title, header, chunk)


def _filename(stem: str, fmt: str) -> str:
    return f"{stem}-{timezone.localtime():%Y%m%d-%H%M}.{fmt}"


def table_response(
    *, actor, branch, report: str, title: str, header: list, rows, fmt: str, stem: str, **extra
):
    """One list as an xlsx (split into sheets) or a streamed CSV; audited with its row count
    (CSV: counted as the rows stream, so the audit is written before streaming and says so)."""
    if fmt == "csv":
        _audit(actor, branch, report, fmt, None, **extra)
        response = StreamingHttpResponse(_csv_stream(header, rows), content_type="text/csv; charset=utf-8")
    else:
        materialised = list(rows)
        data = workbook_bytes(_sheets(title, header, materialised))
        _audit(actor, branch, report, fmt, len(materialised), **extra)
        response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{_filename(stem, fmt)}"'
    return response


def drill_header() -> list:
    return [_("Time"), _("Person"), _("Phone"), _("Detail")]


def drill_table(*, code: str, branch, lo: dt.date, hi: dt.date, reveal: bool):
    """(title, header, rows, stem) of a drill-down list: the one definition the inline export
    and the export job (export_jobs) both write."""
    rows = (
        (r.when, r.person, r.phone, r.detail) for r in drill.iter_rows(code, branch, lo, hi, reveal=reveal)
    )
    stem = f"{code}-{lo:%Y%m%d}-{(hi - dt.timedelta(days=1)):%Y%m%d}"
    return str(drill.title(code)), drill_header(), rows, stem


def drill_response(*, actor, branch, code: str, period: str, lo: dt.date, hi: dt.date, fmt: str):
    title, header, rows, stem = drill_table(
        code=code, branch=branch, lo=lo, hi=hi, reveal=actor.has_perm("clinic.reveal_contact")
    )
    return table_response(
        actor=actor,
        branch=branch,
        report=f"drill:{code}",
        title=title,
        header=header,
        rows=rows,
        fmt=fmt,
        stem=stem,
        period=period,
    )


def write_table(out, *, title: str, header: list, rows: Iterable, fmt: str) -> None:
    """The same file ``table_response`` answers with, written to the binary file ``out``."""
    if fmt == "csv":
        for chunk in _csv_stream(header, rows):
            out.write(chunk)
    else:
        out.write(workbook_bytes(_sheets(title, header, rows)))


def dashboard_workbook(data: dict) -> bytes:
    """The dashboard as a workbook: today, the month table, the targets and the 30 days."""
    today_rows = [(str(t.name), figure(t.value, t.kind)) for t in data["tiles"]]
    month_rows = [
        (
            str(f.name),
            figure(f.value, f.kind),
            "—" if f.code == "points_liability" else figure(f.last_month, f.kind),
            "—" if f.code == "points_liability" else figure(f.last_year, f.kind),
        )
        for f in data["month"]
    ]
    target_rows = [
        (str(t["label"]), figure(t["value"], "ratio"), figure(t["target"], "ratio")) for t in data["targets"]
    ]
    chart_rows = [(r["day"], r["revenue"], r["visits"], r["bookings"]) for r in data["chart"]]
    return workbook_bytes(
        [
            (_("Today"), [_("Indicator"), _("Value")], today_rows),
            (
                _("This month so far"),
                [_("Indicator"), _("This month"), _("Last month"), _("Same month last year")],
                month_rows,
            ),
            (_("Programme targets"), [_("Target"), _("Now"), _("Target value")], target_rows),
            (_("Last 30 days"), [_("Day"), _("Revenue"), _("Visits"), _("Bookings")], chart_rows),
        ]
    )


def dashboard_response(*, actor, branch, data: dict) -> HttpResponse:
    content = dashboard_workbook(data)
    _audit(actor, branch, "dashboard", "xlsx", None, day=f"{data['today']:%Y-%m-%d}")
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{_filename("dashboard", "xlsx")}"'
    return response


def staff_response(*, actor, branch, sections, fmt: str, lo: dt.date, hi: dt.date):
    """Staff performance: a workbook with a sheet per section (xlsx), or every section's rows
    in one CSV with the section as the first column."""
    from .templatetags.reports_tags import figure as fig

    def body(section):
        for r in section.rows:
            yield [r["name"], *(fig(r.get(c.code), c.kind) for c in section.columns)]

    stem = f"staff-{lo:%Y%m%d}-{(hi - dt.timedelta(days=1)):%Y%m%d}"
    if fmt == "csv":
        header = [_("Section"), _("Name"), _("Figure"), _("Value")]
        rows = (
            (s.title, r["name"], c.label, fig(r.get(c.code), c.kind))
            for s in sections
            for r in s.rows
            for c in s.columns
        )
        return table_response(
            actor=actor,
            branch=branch,
            report="staff",
            title=_("Staff performance"),
            header=header,
            rows=rows,
            fmt=fmt,
            stem=stem,
        )
    content = workbook_bytes(
        [(s.title, [_("Name"), *(c.label for c in s.columns)], body(s)) for s in sections]
    )
    _audit(actor, branch, "staff", "xlsx", sum(len(s.rows) for s in sections), period=f"{lo}…{hi}")
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{_filename(stem, "xlsx")}"'
    return response
