"""Broadcast pages: list, compose (with a live preview per channel), the detail with the
audience waterfall, approval, sending and results."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.notifications.errors import TemplateRenderError

from . import broadcast_selectors as sel
from . import broadcast_services as services
from .broadcast_forms import BroadcastForm
from .broadcast_models import BroadcastStatus, RecipientOutcome
from .errors import MarketingError
from .segment_models import Quadrant
from .segment_selectors import segment_count, segment_scope


def _need(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _compose_preview(request: HttpRequest, form: BroadcastForm) -> dict:
    data = form.cleaned_data if form.is_valid() else {}
    body, channel = request.POST.get("body", ""), request.POST.get("channel", "sms")
    segment = data.get("segment")
    people = (
        segment_count(segment.filters, scope=segment_scope(request.user, segment.branch)) if segment else 0
    )
    try:
        shown = sel.preview(
            channel=channel, body=body, subject=request.POST.get("subject", ""), people=people
        )
    except TemplateRenderError as exc:
        return {"preview": None, "preview_error": exc.message}
    return {"preview": shown, "segment_people": people if segment else None}


@require_GET
def broadcast_list(request: HttpRequest) -> HttpResponse:
    _need(request, "marketing.view_broadcast")
    rows = list(sel.broadcasts_for_user(request.user)[:200])
    return render(request, "marketing/broadcast_list.html", {"rows": rows, "section": "broadcasts"})


@require_http_methods(["GET", "POST"])
def broadcast_create(request: HttpRequest) -> HttpResponse:
    _need(request, "marketing.add_broadcast")
    initial = {"segment": request.GET.get("segment")} if request.GET.get("segment", "").isdigit() else {}
    form = BroadcastForm(request.POST or None, user=request.user, initial=initial)
    context: dict = {"form": form, "section": "broadcasts"}
    if request.method == "POST":
        context.update(_compose_preview(request, form))
        if form.is_valid():
            data = form.cleaned_data
            try:
                broadcast = services.broadcast_create(actor=request.user, **data)
            except MarketingError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Broadcast saved: check the audience before sending."))
                return redirect("marketing:broadcast_detail", pk=broadcast.pk)
    return render(request, "marketing/broadcast_form.html", context)


@require_POST
def broadcast_preview(request: HttpRequest) -> HttpResponse:
    """The composer's live preview (an htmx partial): nothing is saved."""
    _need(request, "marketing.add_broadcast")
    form = BroadcastForm(request.POST, user=request.user)
    return render(request, "marketing/_broadcast_preview.html", _compose_preview(request, form))


def _waterfall_rows(broadcast) -> list[dict]:
    labels = dict(RecipientOutcome.choices)
    w = broadcast.waterfall or {}
    rows = [{"label": _("In the segment"), "removed": None, "remaining": w.get("segment", 0),
             "quadrants": w.get("segment_quadrants", {})}]  # fmt: skip
    for step in w.get("steps", []):
        rows.append(
            {
                "code": step["code"],
                "label": labels.get(step["code"], ""),
                "removed": step["removed"],
                "remaining": step["remaining"],
                "quadrants": step["remaining_quadrants"],
                "removed_quadrants": step["removed_quadrants"],
            }
        )
    return rows


@require_GET
def broadcast_detail(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = sel.get_broadcast_for_user(request.user, pk)
    try:
        shown = sel.preview(
            channel=broadcast.channel,
            body=broadcast.body,
            subject=broadcast.subject,
            people=broadcast.audience_count,
        )
    except TemplateRenderError:
        shown = None
    context = {
        "broadcast": broadcast,
        "section": "broadcasts",
        "waterfall": _waterfall_rows(broadcast),
        "quadrants": Quadrant.choices,
        "preview": shown,
        "results": sel.broadcast_results(broadcast) if broadcast.status == BroadcastStatus.QUEUED else None,
        "can_approve": request.user.has_perm("marketing.approve_broadcast")
        and broadcast.status == BroadcastStatus.AWAITING_APPROVAL
        and broadcast.created_by_id != request.user.pk,
    }
    return render(request, "marketing/broadcast_detail.html", context)


def _act(request: HttpRequest, pk: int, perm: str, action, done: str) -> HttpResponse:
    broadcast = sel.get_broadcast_for_user(request.user, pk, perm=perm)
    try:
        action(actor=request.user, broadcast=broadcast)
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("marketing:broadcast_detail", pk=broadcast.pk)


@require_POST
def broadcast_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request, pk, "marketing.change_broadcast", services.broadcast_refresh, _("Audience fixed again.")
    )


@require_POST
def broadcast_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request, pk, "marketing.approve_broadcast", services.broadcast_approve, _("Broadcast approved.")
    )


@require_POST
def broadcast_send(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request, pk, "marketing.change_broadcast", services.broadcast_send,
        _("Queued: messages go out from the outbox (marketing waits out the quiet hours)."),
    )  # fmt: skip


@require_POST
def broadcast_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request, pk, "marketing.change_broadcast", services.broadcast_cancel, _("Broadcast cancelled.")
    )
