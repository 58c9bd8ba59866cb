"""Operations analysis page (thin view over operations.py), the active branch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import dashboard, operations
from .db import reads_replica

PERIODS = ("last_30", "mtd", "last_month")


def period_of(request: HttpRequest) -> tuple[str, dt.date, dt.date]:
    period = request.GET.get("period", "last_30")
    if period not in PERIODS:
        period = "last_30"
    today = timezone.localdate()
    first = today.replace(day=1)
    if period == "mtd":
        return period, first, today + dt.timedelta(days=1)
    if period == "last_month":
        return period, dashboard._shift_month(first, -1), first
    return period, today - dt.timedelta(days=29), today + dt.timedelta(days=1)


def _rate(pair) -> Decimal | None:
    missed, over = pair
    return None if not over else (Decimal(missed) / Decimal(over)).quantize(Decimal("0.0001"))


@require_GET
@permission_required(dashboard.VIEW_PERM, raise_exception=True)
@reads_replica
def operations_page(request: HttpRequest) -> HttpResponse:
    from appointments.models import Channel
    from clinic.models import Weekday

    if request.branch is None:
        raise PermissionDenied
    branch = request.branch
    period, lo, hi = period_of(request)
    shows = operations.no_shows(branch, lo, hi)
    weekdays = [(wd, label) for wd, label in Weekday.choices]
    channel_rows = [
        {
            "label": label,
            "cells": [_rate(shows["cells"].get((code, wd), (0, 0))) for wd, _label in weekdays],
            "total": _rate(shows["channels"].get(code, (0, 0))),
            "over": shows["channels"].get(code, (0, 0))[1],
        }
        for code, label in Channel.choices
        if code in shows["channels"]
    ]
    use = operations.chair_use(branch, lo, hi, today=timezone.localdate())
    labels = dict(Weekday.choices)
    for r in use["rows"]:
        r["label"] = labels[r["weekday"]]
    return render(
        request,
        "reports/operations.html",
        {
            "branch": branch,
            "period": period,
            "periods": [
                ("last_30", _period_label("last_30")),
                ("mtd", _period_label("mtd")),
                ("last_month", _period_label("last_month")),
            ],
            "lo": lo,
            "last_day": hi - dt.timedelta(days=1),
            "waiting": operations.waiting(branch, lo, hi),
            "weekdays": weekdays,
            "channel_rows": channel_rows,
            "weekday_totals": [_rate(shows["weekdays"].get(wd, (0, 0))) for wd, _label in weekdays],
            "chairs": use,
        },
    )


def _period_label(code: str):
    from django.utils.translation import gettext_lazy as _
    from django.utils.translation import pgettext_lazy

    return {
        "last_30": _("Last 30 days"),
        "mtd": _("This month"),
        "last_month": pgettext_lazy("period", "Last month"),
    }[code]
