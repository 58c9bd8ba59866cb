"""HQ's every-branch view (thin view over reports.hq): the branches the viewer may see."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic.selectors import branches_for_user

from . import hq


@require_GET
@permission_required(hq.VIEW_PERM, raise_exception=True)
def hq_dashboard(request: HttpRequest) -> HttpResponse:
    data = hq.hq_dashboard(branches_for_user(request.user).order_by("code"))
    return render(request, "reports/hq.html", data)
