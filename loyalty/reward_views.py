"""Front-desk rewards screen: choose a member, see what they can afford, redeem, print a
slip; cancel (managers)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from clinic.fields import ShortTextField
from clinic.selectors import scope_to_branches
from members.selectors import get_member_for_user, member_search

from . import rewards
from .coupon_models import RewardItem, RewardRedemption
from .errors import LoyaltyError
from .selectors import open_balance, open_balances


class RedeemForm(forms.Form):
    item = forms.ModelChoiceField(RewardItem.objects.filter(is_active=True), label=gettext_lazy("Reward"))
    quantity = forms.IntegerField(
        label=gettext_lazy("Quantity"), min_value=1, max_value=rewards.MAX_QUANTITY, initial=1
    )


class CancelForm(forms.Form):
    reason = ShortTextField(label=gettext_lazy("Reason"), max_length=200)


def _back(pk: int) -> HttpResponse:
    return redirect(reverse("loyalty:rewards", args=[pk]))


def _error(request: HttpRequest, exc: LoyaltyError) -> None:
    if exc.code == "forbidden":
        raise PermissionDenied from exc
    messages.error(request, exc.message)


@require_GET
def rewards_desk(request: HttpRequest) -> HttpResponse:
    """The front desk's rewards screen: find the person (phone, name, pinyin, card no.),
    see their points next to the catalogue, and open their rewards to redeem; the latest
    redemptions at the user's branches below. htmx gets just the results."""
    if not request.user.has_perm(rewards.REDEEM_PERMISSION) or not request.user.has_perm(
        "members.view_member"
    ):
        raise PermissionDenied
    query = (request.GET.get("q") or "")[:50]
    hits = member_search(request.user, query) if query.strip() else []
    balances = open_balances(h.pk for h in hits)
    results = [(hit, balances.get(hit.pk)) for hit in hits]
    context = {"query": query, "results": results}
    if request.htmx:
        return render(request, "loyalty/_rewards_desk_results.html", context)
    context["items"] = list(RewardItem.objects.filter(is_active=True).order_by("points_cost", "name"))
    context["recent"] = list(
        scope_to_branches(RewardRedemption.objects.all(), request.user, field="member__branch")
        .select_related("member", "item")
        .order_by("-created_at", "-id")[:20]
    )
    return render(request, "loyalty/rewards_desk.html", context)


@require_GET
def member_rewards(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk)
    balance = open_balance(member)
    items = list(RewardItem.objects.filter(is_active=True).prefetch_related("tiers"))
    refusals = rewards.reward_refusals(member, items, balance=balance)
    for item in items:
        item.refusal = refusals[item.pk]
    history = RewardRedemption.objects.filter(member=member).select_related("item", "handed_over_by")[:50]
    context = {"member": member, "balance": balance, "items": items, "history": history}
    return render(request, "loyalty/rewards.html", context)


@require_POST
def reward_redeem(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, perm=rewards.REDEEM_PERMISSION)
    form = RedeemForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _back(pk)
    try:
        redemption = rewards.reward_redeem(
            actor=request.user,
            member=member,
            item=form.cleaned_data["item"],
            qty=form.cleaned_data["quantity"],
        )
    except LoyaltyError as exc:
        _error(request, exc)
        return _back(pk)
    messages.success(request, _("Redeemed %(points)s points.") % {"points": redemption.points})
    return redirect(reverse("loyalty:reward_slip", args=[pk, redemption.pk]))


@require_POST
def reward_cancel(request: HttpRequest, pk: int, rid: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, perm=rewards.CANCEL_PERMISSION)
    redemption = RewardRedemption.objects.filter(member=member, pk=rid).first()
    if redemption is None:
        raise Http404
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for the cancellation."))
        return _back(pk)
    try:
        rewards.reward_cancel(actor=request.user, redemption=redemption, reason=form.cleaned_data["reason"])
    except LoyaltyError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Redemption cancelled; points and stock returned."))
    return _back(pk)


@require_GET
def reward_slip(request: HttpRequest, pk: int, rid: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk)
    redemption = (
        RewardRedemption.objects.filter(member=member, pk=rid)
        .select_related("item", "handed_over_by")
        .first()
    )
    if redemption is None:
        raise Http404
    context = {"member": member, "r": redemption, "balance": open_balance(member)}
    return render(request, "loyalty/reward_slip.html", context)
