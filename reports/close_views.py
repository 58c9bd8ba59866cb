"""Closed months (thin views over month_close.py): the list of the active branch's last
twelve months, closing one by hand, and a closed month against today's figures."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import month_close, staff
from .close_models import MonthClose
from .db import reads_replica
from .errors import ReportsError


def _branch(request: HttpRequest):
    """The active branch, or the one a link names (``?branch=<code>``: the monthly report's
    e-mail), which must be one of the viewer's branches."""
    code = (request.GET.get("branch") or "").strip()[:20]
    if code:
        for branch in getattr(request, "available_branches", []):
            if branch.code == code:
                return branch
        raise Http404
    if request.branch is None:
        raise PermissionDenied
    return request.branch


def _month(year: int, month: int) -> dt.date:
    try:
        return dt.date(year, month, 1)
    except (ValueError, OverflowError):  # month 13, year 0, a number past any date
        raise Http404 from None


def _closed(request: HttpRequest, year: int, month: int) -> MonthClose:
    """The active branch's close of that month (404: no such month, or not closed)."""
    close = (
        MonthClose.objects.filter(branch=_branch(request), month=_month(year, month))
        .select_related("branch")
        .first()
    )
    if close is None:
        raise Http404
    return close


@require_GET
@permission_required(month_close.VIEW_PERM, raise_exception=True)
@reads_replica
def months(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    return render(
        request,
        "reports/months.html",
        {
            "branch": branch,
            "months": month_close.months_of(branch),
            "may_close": request.user.has_perm(month_close.CLOSE_PERM),
        },
    )


@require_POST
@permission_required(month_close.CLOSE_PERM, raise_exception=True)
def close(request: HttpRequest, year: int, month: int) -> HttpResponse:
    branch = _branch(request)
    first = _month(year, month)
    try:
        month_close.month_close(actor=request.user, branch=branch, month=first)
    except ReportsError as exc:
        messages.error(request, exc.message)
        return redirect("reports:months")
    messages.success(request, _("%(month)s is closed: its figures are frozen.") % {"month": f"{first:%Y-%m}"})
    return redirect("reports:month", year=year, month=month)


@require_GET
@permission_required(month_close.VIEW_PERM, raise_exception=True)
@reads_replica
def month(request: HttpRequest, year: int, month: int) -> HttpResponse:
    close = _closed(request, year, month)
    branch = close.branch
    lines = month_close.comparison(close)
    return render(
        request,
        "reports/month.html",
        {
            "branch": branch,
            "close": close,
            "lines": lines,
            "changed": any(line.changed for line in lines),
            "changes": month_close.changes_since(close),
            "staff_sections": staff.load(close.staff),
            "shown_limit": month_close.CHANGES_SHOWN,
        },
    )


@require_GET
@permission_required(month_close.VIEW_PERM, raise_exception=True)
@reads_replica
def month_pdf(request: HttpRequest, year: int, month: int) -> HttpResponse:
    """The monthly management report of a closed month (PDF; the HTML page without WeasyPrint)."""
    from django.template.loader import render_to_string

    from clinic import pdf

    from . import month_pdf as report

    close = _closed(request, year, month)
    branch, first = close.branch, close.month
    context = report.context(close)
    data = pdf.render("reports/month_report.html", "reports/month_report.css", context, request)
    if data is None:
        return HttpResponse(render_to_string("reports/month_report.html", context, request=request))
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="report-{branch.code}-{first:%Y-%m}.pdf"'
    return response
