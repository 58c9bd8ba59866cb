"""Referral screens: a member's code, who referred them and whom they referred (and
recording a referrer); the referrers' leaderboard per branch and period."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from clinic.fields import ShortTextField
from clinic.params import query_int
from clinic.selectors import user_branch_ids
from members.selectors import get_member_for_user

from . import qr, referrals
from .errors import LoyaltyError


class ReferrerForm(forms.Form):
    referrer = ShortTextField(label=gettext_lazy("Referrer's code, phone or name"), max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["referrer"].widget.attrs.update(
            {"class": "form-control form-control-sm", "placeholder": self.fields["referrer"].label}
        )


@require_GET
def member_referrals(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk)
    code = referrals.referral_code_for(member)
    context = {
        "member": member,
        "code": code,
        "link": qr.referral_link(request, code),
        "summary": referrals.referral_summary(member),
        "form": ReferrerForm(),
    }
    return render(request, "loyalty/referrals.html", context)


@require_GET
def referral_qr(request: HttpRequest, pk: int) -> HttpResponse:
    """The member's referral QR: the registration link with their code (``qr.referral_link``).
    Same access as the referrals page: 404 outside the user's branches."""
    member = get_member_for_user(request.user, pk)
    code = referrals.referral_code_for(member)
    return qr.svg_response(
        qr.referral_link(request, code), title=_("Referral code %(code)s") % {"code": code}
    )


@require_POST
def referrer_set(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, perm=referrals.SET_PERMISSION)
    form = ReferrerForm(request.POST)
    back = redirect(reverse("loyalty:referrals", args=[pk]))
    if not form.is_valid():
        messages.error(request, _("Enter the referrer's code, phone number or name."))
        return back
    try:
        referrer = referrals.referrer_resolve(form.cleaned_data["referrer"], user=request.user)
        referrals.referral_set(actor=request.user, referee=member, referrer=referrer)
    except LoyaltyError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Referrer recorded: %(name)s.") % {"name": referrer.name})
    return back


@require_GET
def leaderboard(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("loyalty.view_referral"):
        raise PermissionDenied
    days = query_int(request, "days", maximum=3660) or 30
    since = timezone.now() - dt.timedelta(days=days)
    rows = referrals.referral_leaderboard(branch_ids=user_branch_ids(request.user), since=since)
    return render(request, "loyalty/referral_leaderboard.html", {"rows": rows, "days": days})
