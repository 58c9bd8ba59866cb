"""The front desk's start page (thin view over reports.frontdesk), scoped to the active
branch."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import frontdesk


@require_GET
@permission_required(frontdesk.VIEW_PERM, raise_exception=True)
def front_desk(request: HttpRequest) -> HttpResponse:
    if request.branch is None:
        raise PermissionDenied
    data = frontdesk.front_desk_board(request.branch)
    return render(request, "reports/frontdesk.html", {**data, "branch": request.branch})
