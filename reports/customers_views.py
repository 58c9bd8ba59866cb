"""Customer analysis page (thin view over customers.py), the active branch."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from . import customers, dashboard
from .db import reads_replica
from .operations_views import PERIODS, _period_label, period_of

DIRECTIONS = {"up": _("Up"), "new": _("First tier"), "same": _("Same rank"), "down": _("Down")}


@require_GET
@permission_required(dashboard.VIEW_PERM, raise_exception=True)
@reads_replica
def customers_page(request: HttpRequest) -> HttpResponse:
    if request.branch is None:
        raise PermissionDenied
    branch = request.branch
    period, lo, hi = period_of(request)
    movements = customers.tier_movements(branch, lo, hi)
    for m in movements:
        m["direction_label"] = DIRECTIONS[m["direction"]]
    return render(
        request,
        "reports/customers.html",
        {
            "branch": branch,
            "period": period,
            "periods": [(code, _period_label(code)) for code in PERIODS],
            "lo": lo,
            "last_day": hi - dt.timedelta(days=1),
            "growth": customers.growth(branch),
            "dormancy": customers.dormancy(branch),
            "tiers": customers.tiers(branch),
            "movements": movements,
            "quadrants": customers.quadrants(branch),
            "quadrant_moves": customers.quadrant_movements(branch),
        },
    )
