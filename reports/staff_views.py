"""Staff performance (thin view over staff.py): a manager reads every person of the active
branch; anyone else reads only their own figures, live."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import dashboard, exports, staff
from .db import reads_replica

PERIODS = ("mtd", "last_month")


def _period(request: HttpRequest) -> tuple[str, dt.date, dt.date]:
    period = request.GET.get("period", "mtd")
    if period not in PERIODS:
        period = "mtd"
    today = timezone.localdate()
    first = today.replace(day=1)
    if period == "last_month":
        return period, dashboard._shift_month(first, -1), first
    return period, first, today + dt.timedelta(days=1)


@require_GET
@reads_replica
def performance(request: HttpRequest) -> HttpResponse:
    if request.branch is None:
        raise PermissionDenied
    all_staff = request.user.has_perm(staff.VIEW_ALL_PERM)
    period, lo, hi = _period(request)
    sections = staff.performance(request.branch, lo, hi, user_id=None if all_staff else request.user.pk)
    return render(
        request,
        "reports/staff.html",
        {
            "branch": request.branch,
            "sections": [s for s in sections if s.rows or all_staff],
            "all_staff": all_staff,
            "period": period,
            "lo": lo,
            "last_day": hi - dt.timedelta(days=1),
            "may_export": all_staff and request.user.has_perm(exports.EXPORT_PERM),
        },
    )


@require_GET
@reads_replica
def performance_export(request: HttpRequest, ext: str) -> HttpResponse:
    if request.branch is None or not request.user.has_perm(staff.VIEW_ALL_PERM):
        raise PermissionDenied
    if not request.user.has_perm(exports.EXPORT_PERM) or ext not in exports.FORMATS:
        raise PermissionDenied
    _period_name, lo, hi = _period(request)
    sections = staff.performance(request.branch, lo, hi)
    return exports.staff_response(
        actor=request.user, branch=request.branch, sections=sections, fmt=ext, lo=lo, hi=hi
    )
