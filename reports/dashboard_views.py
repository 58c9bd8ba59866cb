"""The branch manager's dashboard and its drill-downs (thin views over dashboard.py and
drill.py). Scoped to the active branch (clinic.middleware.ActiveBranchMiddleware), which is
always one of the viewer's branches; HQ switches branch with the branch switcher."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import dashboard, drill, export_jobs, exports
from .db import reads_replica
from .exports import EXPORT_PERM

PERIODS = ("today", "mtd", "last_month", "last_year")


def _branch(request: HttpRequest):
    if request.branch is None:
        raise PermissionDenied
    return request.branch


@require_GET
@permission_required(dashboard.VIEW_PERM, raise_exception=True)
@reads_replica
def branch_dashboard(request: HttpRequest) -> HttpResponse:
    branch = _branch(request)
    data = dashboard.branch_dashboard(branch)
    chart = {
        "days": [f"{r['day']:%m-%d}" for r in data["chart"]],
        "revenue": [float(r["revenue"]) for r in data["chart"]],
        "visits": [r["visits"] for r in data["chart"]],
        "bookings": [r["bookings"] for r in data["chart"]],
    }
    return render(
        request,
        "reports/dashboard.html",
        {
            **data,
            "branch": branch,
            "chart_data": chart,
            "chart_rows": data["chart"],
            "may_export": request.user.has_perm(EXPORT_PERM),
            "may_see_months": request.user.has_perm("reports.view_monthclose"),
        },
    )


def period_of(request: HttpRequest) -> tuple[str, dt.date, dt.date]:
    """The ``period`` query parameter (today, this month, last month's or last year's same
    days) as local days [lo, hi); anything else reads as today."""
    period = request.GET.get("period", "today")
    if period not in PERIODS:
        period = "today"
    today = timezone.localdate()
    if period == "today":
        return period, today, today + dt.timedelta(days=1)
    lo, hi = dashboard.periods(today)[period]
    return period, lo, hi


@require_GET
@permission_required(dashboard.VIEW_PERM, raise_exception=True)
@reads_replica
def drilldown(request: HttpRequest, code: str) -> HttpResponse:
    if code not in drill.SOURCES:
        raise Http404
    branch = _branch(request)
    period, lo, hi = period_of(request)
    reveal = request.user.has_perm("clinic.reveal_contact")
    total, rows = drill.rows(code, branch, lo, hi, reveal=reveal)
    return render(
        request,
        "reports/drilldown.html",
        {
            "title": drill.title(code),
            "branch": branch,
            "period": period,
            "lo": lo,
            "last_day": hi - dt.timedelta(days=1),
            "total": total,
            "rows": rows,
            "shown": len(rows),
            "code": code,
            "may_export": request.user.has_perm(EXPORT_PERM),
            "latest_export": (export_jobs.recent_jobs(request.user, 1) or [None])[0]
            if request.user.has_perm(EXPORT_PERM)
            else None,
        },
    )


@require_GET
@permission_required(EXPORT_PERM, raise_exception=True)
@reads_replica
def drill_export(request: HttpRequest, code: str, ext: str) -> HttpResponse:
    if code not in drill.SOURCES or ext not in exports.FORMATS:
        raise Http404
    if not request.user.has_perm(dashboard.VIEW_PERM):
        raise PermissionDenied
    branch = _branch(request)
    period, lo, hi = period_of(request)
    total = export_jobs.drill_count(code=code, branch=branch, lo=lo, hi=hi)
    if total > export_jobs.inline_limit():
        # A long list is written by a Celery job; its page shows the progress.
        job = export_jobs.export_job_create(
            actor=request.user,
            branch=branch,
            code=code,
            period=period,
            lo=lo,
            hi=hi,
            fmt=ext,
            rows_total=total,
        )
        return redirect("reports:export_job", pk=job.pk)
    return exports.drill_response(
        actor=request.user, branch=branch, code=code, period=period, lo=lo, hi=hi, fmt=ext
    )


@require_GET
@permission_required(EXPORT_PERM, raise_exception=True)
@reads_replica
def dashboard_export(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(dashboard.VIEW_PERM):
        raise PermissionDenied
    branch = _branch(request)
    return exports.dashboard_response(
        actor=request.user, branch=branch, data=dashboard.branch_dashboard(branch)
    )
