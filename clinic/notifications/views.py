"""The staff page of the outbox: list with filters and daily counts, one message, resend."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import services
from .errors import NotificationError
from .forms import OutboxFilterForm
from .selectors import get_outbox_for_user, outbox_daily_counts, outbox_for_user, outbox_list


@require_GET
@permission_required("notifications.view_outbox", raise_exception=True)
def outbox_index(request: HttpRequest) -> HttpResponse:
    form = OutboxFilterForm(request.GET or None)
    page = Paginator(outbox_list(request.user, **form.filters()), 50).get_page(request.GET.get("page"))
    template = "notifications/outbox_list.html#results" if request.htmx else "notifications/outbox_list.html"
    context = {"form": form, "page": page, "daily": outbox_daily_counts(outbox_for_user(request.user))}
    return render(request, template, context)


@require_GET
@permission_required("notifications.view_outbox", raise_exception=True)
def outbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "notifications/outbox_detail.html", {"row": get_outbox_for_user(request.user, pk)})


@require_POST
@permission_required("notifications.view_outbox", raise_exception=True)
def outbox_resend(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_outbox_for_user(request.user, pk, write=True)
    try:
        services.outbox_resend(actor=request.user, message=row)
    except NotificationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The message is queued to be sent again."))
    return redirect("notifications:outbox_detail", pk=row.pk)
