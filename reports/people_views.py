"""Marketing analysis page (thin view over people.py), the active branch."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import dashboard, people
from .db import reads_replica
from .operations_views import PERIODS, _period_label, period_of


@require_GET
@permission_required(dashboard.VIEW_PERM, raise_exception=True)
@reads_replica
def marketing_page(request: HttpRequest) -> HttpResponse:
    if request.branch is None:
        raise PermissionDenied
    dimension = request.GET.get("by", "channel")
    if dimension not in people.DIMENSIONS:
        dimension = "channel"
    period, lo, hi = period_of(request)
    groups = people.analysis(request.branch, dimension, lo, hi)
    return render(
        request,
        "reports/marketing.html",
        {
            "branch": request.branch,
            "dimension": dimension,
            "dimensions": list(people.DIMENSIONS.items()),
            "dimension_label": people.DIMENSIONS[dimension],
            "period": period,
            "periods": [(code, _period_label(code)) for code in PERIODS],
            "lo": lo,
            "last_day": hi - dt.timedelta(days=1),
            "groups": groups,
            "total": people.totals(groups),
        },
    )
