"""Staff screens of the loyalty tab: thin views that call one service each."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from members.selectors import get_member_for_user

from . import qr, services
from .errors import LoyaltyError
from .forms import AdjustForm, TierOverrideForm
from .profile import LoyaltyPanel
from .reasons import reason_label
from .selectors import membership_for, points_history, source_label, source_url


def _back(pk: int) -> HttpResponse:
    return redirect(reverse("members:detail", args=[pk]) + "?tab=loyalty")


def _domain_error(request: HttpRequest, exc: LoyaltyError) -> None:
    if exc.code == "forbidden":
        raise PermissionDenied from exc
    messages.error(request, exc.message)


@require_GET
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk)
    context = {"member": member, "ctx": {"panel": LoyaltyPanel(member, request.user)}}
    template = "loyalty/_panel.html" if request.htmx else "loyalty/panel.html"
    return render(request, template, context)


@require_GET
def history(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk)
    page = Paginator(points_history(member).prefetch_related("consumptions"), 50).get_page(
        request.GET.get("page")
    )
    for entry in page.object_list:
        entry.source_url = source_url(entry.source_key)
        entry.source_text = source_label(entry.source_key)
        entry.reason_text = reason_label(entry.reason)
    return render(request, "loyalty/history.html", {"member": member, "page": page})


@require_GET
def card(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk)
    membership = membership_for(member)
    if membership is None:
        return _back(pk)
    return render(request, "loyalty/card.html", {"member": member, "membership": membership})


@require_GET
def card_qr(request: HttpRequest, pk: int) -> HttpResponse:
    """The card number as a QR image (a scanner gun at the front desk types it into the
    search box). Who may see the profile may see it; 404 outside the branches or without a
    card."""
    member = get_member_for_user(request.user, pk)
    membership = membership_for(member)
    if membership is None:
        raise Http404
    return qr.svg_response(membership.card_no, title=_("Card number %(card)s") % {"card": membership.card_no})


@require_POST
def enrol(request: HttpRequest, pk: int) -> HttpResponse:
    # Nothing in the request sets points or the card number: the welcome points are HQ's
    # policy (PointsPolicy), any other grant is a manual adjustment with a reason.
    member = get_member_for_user(request.user, pk, write=True, perm="loyalty.enrol_member")
    try:
        membership = services.membership_enrol(
            actor=request.user, member=member, branch=request.branch or member.branch
        )
    except LoyaltyError as exc:
        _domain_error(request, exc)
    else:
        messages.success(request, _("Enrolled. Card number %(card)s.") % {"card": membership.card_no})
    return _back(pk)


@require_POST
def adjust(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, write=True, perm="clinic.adjust_points")
    form = AdjustForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _back(pk)
    data = form.cleaned_data
    try:
        entry = services.points_adjust(
            actor=request.user,
            member=member,
            points=data["points"],
            reason=data["reason"],
            idempotency_key=f"adjust:{data['token']}",
        )
    except LoyaltyError as exc:
        _domain_error(request, exc)
    else:
        messages.success(request, _("Points adjusted: %(points)+d.") % {"points": entry.points})
    return _back(pk)


@require_POST
def tier_override(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, write=True, perm="loyalty.override_tier")
    form = TierOverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _back(pk)
    try:
        services.tier_override(
            actor=request.user,
            member=member,
            tier=form.cleaned_data["tier"],
            reason=form.cleaned_data["reason"],
        )
    except LoyaltyError as exc:
        _domain_error(request, exc)
    else:
        messages.success(request, _("Tier changed."))
    return _back(pk)
