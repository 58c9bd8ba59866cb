"""Materials used per doctor (issue 20): the stock used on the charge lines of each doctor
in the last 90 days, at cost. In reports (layer 9) because it joins the inventory ledger
with appointments' charge lines; inventory's own reports are in ``inventory``."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from .db import reads_replica

PERM = "inventory.view_stock_reports"


def usage_by_doctor(branch, *, days: int = 90) -> list[dict]:
    """Per doctor of the charge line and stock item: units and cost used on checked-out
    visits; uses returned by a void are left out."""
    from appointments.models import ChargeLineMaterial

    since = timezone.now() - dt.timedelta(days=days)
    return list(
        ChargeLineMaterial.objects.filter(
            movement__isnull=False,
            movement__branch=branch,
            movement__at__gte=since,
            movement__reversed_by__isnull=True,
        )
        .values("line__doctor__staff__full_name", "item__code", "item__name", "item__unit")
        .annotate(
            units=Sum("quantity"),
            cost=Sum(
                ExpressionWrapper(
                    F("quantity") * F("batch__unit_cost"),
                    output_field=DecimalField(max_digits=12, decimal_places=2),
                )
            ),
        )
        .order_by("line__doctor__staff__full_name", "item__code")
    )


@require_GET
@permission_required(PERM, raise_exception=True)
@reads_replica
def stock_usage_page(request: HttpRequest) -> HttpResponse:
    if request.branch is None:
        raise PermissionDenied
    rows = usage_by_doctor(request.branch)
    return render(request, "reports/stock_usage.html", {"rows": rows, "branch": request.branch})
