"""Campaign pages (活动, issue 16): the list, the create form, and the campaign page with
its results, sign-ups (add by search, cancel), check-in at the door by card/QR code or from
the list, attendance rewards, no-show follow-ups and the lucky draw. Every write goes
through ``marketing.campaigns`` (one transaction and an audit row each)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.params import parse_int
from members.models import Member
from members.selectors import member_search

from . import campaign_prices, campaigns
from . import campaign_selectors as sel
from .campaign_forms import CampaignForm, CampaignPriceForm, CheckinForm, DrawForm
from .errors import MarketingError
from .models import CampaignSignup, SignupStatus

SECTION = "campaigns"


def _need(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _back(campaign) -> HttpResponse:
    return redirect("marketing:campaign_detail", pk=campaign.pk)


@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    rows = sel.campaigns_for_user(request.user)
    now = timezone.now()
    upcoming = list(rows.filter(ends_at__gt=now).order_by("starts_at", "pk")[:200])
    past = list(rows.filter(ends_at__lte=now).order_by("-starts_at", "-pk")[:100])
    context = {"upcoming": upcoming, "past": past, "section": SECTION}
    return render(request, "marketing/campaign_list.html", context)


@require_http_methods(["GET", "POST"])
def campaign_create(request: HttpRequest) -> HttpResponse:
    _need(request, "marketing.view_campaign")
    _need(request, "marketing.add_campaign")
    form = CampaignForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            campaign = campaigns.campaign_create(
                actor=request.user,
                branch=data.pop("branch"),
                name=data.pop("name"),
                kind=data.pop("kind"),
                starts_at=data.pop("starts_at"),
                ends_at=data.pop("ends_at"),
                **data,
            )
        except MarketingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Campaign %(name)s created.") % {"name": campaign.name})
            return _back(campaign)
    return render(request, "marketing/campaign_form.html", {"form": form, "section": SECTION})


@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = sel.get_campaign_for_user(request.user, pk, perm="marketing.change_campaign")
    form = CampaignForm(request.POST or None, user=request.user, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data.pop("branch", None)
        try:
            campaigns.campaign_update(actor=request.user, campaign=campaign, **data)
        except MarketingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Campaign %(name)s saved.") % {"name": data["name"]})
            return _back(campaign)
    context = {"form": form, "campaign": campaign, "section": SECTION}
    return render(request, "marketing/campaign_form.html", context)


@require_POST
def campaign_price_add(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = sel.get_campaign_for_user(request.user, pk, perm="marketing.change_campaign")
    form = CampaignPriceForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, e)
        return _back(campaign)
    data = form.cleaned_data
    try:
        campaign_prices.campaign_price_set(actor=request.user, campaign=campaign, **data)
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Member-day price of %(item)s saved.") % {"item": data["item"]})
    return _back(campaign)


@require_POST
def campaign_price_remove(request: HttpRequest, pk: int, price_id: int) -> HttpResponse:
    campaign = sel.get_campaign_for_user(request.user, pk, perm="marketing.change_campaign")
    row = campaign.prices.filter(pk=price_id).select_related("campaign").first()
    if row is None:
        raise Http404
    try:
        campaign_prices.campaign_price_remove(actor=request.user, row=row)
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Member-day price removed."))
    return _back(campaign)


def _search(request: HttpRequest) -> tuple[str, list]:
    q = (request.GET.get("q") or "").strip()[:50]
    return q, ([m for m in member_search(request.user, q) if m.in_scope][:10] if q else [])


@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = sel.get_campaign_for_user(request.user, pk)
    q, results = _search(request)
    if request.headers.get("HX-Request") and "q" in request.GET:
        return render(
            request, "marketing/_campaign_pick.html", {"campaign": campaign, "q": q, "results": results}
        )
    signups = list(campaign.signups.select_related("member").order_by("signed_up_at", "id"))
    waiting = [s for s in signups if s.status == SignupStatus.WAITING]
    for s in signups:
        s.line = waiting.index(s) + 1 if s.status == SignupStatus.WAITING else None
    draws = list(campaign.draws.order_by("drawn_at", "id"))
    names = dict(
        Member.objects.filter(pk__in={pk for d in draws for pk in d.candidates}).values_list("pk", "name")
    )
    for d in draws:
        d.verified = campaigns.draw_verify(d)
        d.winner_names = [names.get(pk, "—") for pk in d.winners]
        d.candidate_names = [names.get(pk, "—") for pk in d.candidates]
    now = timezone.now()
    context = {
        "campaign": campaign,
        "results": sel.campaign_results(campaign),
        "signups": signups,
        "draws": draws,
        "q": q,
        "pick_results": results,
        "checkin_form": CheckinForm(),
        "prices": list(campaign.prices.select_related("item").order_by("id")),
        "price_form": CampaignPriceForm(),
        "is_over": campaign.ends_at <= now,
        "has_reward": bool(campaign.reward_points or campaign.reward_coupon_id),
        "can_signup": request.user.has_perm("marketing.add_campaignsignup") and campaign.ends_at > now,
        "can_change": request.user.has_perm("marketing.change_campaignsignup"),
        "can_checkin": request.user.has_perm("marketing.checkin_campaign"),
        "can_run": request.user.has_perm("marketing.change_campaign"),
        "section": SECTION,
    }
    return render(request, "marketing/campaign_detail.html", context)


def _member(request: HttpRequest) -> Member | None:
    from members.selectors import get_member_for_user

    pk = parse_int(request.POST.get("member"))
    if pk is None:
        return None
    try:
        return get_member_for_user(request.user, pk)
    except (Http404, PermissionDenied):  # outside the user's branches or gone: as if not chosen
        return None


def _signup(request: HttpRequest, campaign) -> CampaignSignup | None:
    pk = parse_int(request.POST.get("signup"))
    return (
        CampaignSignup.objects.filter(pk=pk, campaign=campaign).select_related("member").first()
        if pk
        else None
    )


@require_POST
def campaign_signup(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = sel.get_campaign_for_user(request.user, pk, perm="marketing.add_campaignsignup")
    member = _member(request)
    if member is None:
        messages.error(request, _("Choose a person to sign up."))
        return _back(campaign)
    try:
        signup = campaigns.signup_create(actor=request.user, campaign=campaign, member=member)
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        if signup.status == SignupStatus.WAITING:
            messages.warning(request, _("%(name)s is on the waiting list.") % {"name": member.name})
        else:
            messages.success(request, _("%(name)s signed up.") % {"name": member.name})
    return _back(campaign)


@require_POST
def campaign_signup_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = sel.get_campaign_for_user(request.user, pk, perm="marketing.change_campaignsignup")
    signup = _signup(request, campaign)
    if signup is None:
        messages.error(request, _("Choose a sign-up."))
        return _back(campaign)
    try:
        promoted = campaigns.signup_cancel(actor=request.user, signup=signup)
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Sign-up of %(name)s cancelled.") % {"name": signup.member.name})
        for p in promoted:
            messages.info(request, _("%(name)s moved up from the waiting list.") % {"name": p.member.name})
    return _back(campaign)


@require_POST
def campaign_checkin(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = sel.get_campaign_for_user(request.user, pk, perm="marketing.checkin_campaign")
    member = _member(request)
    code = ""
    if member is None:
        form = CheckinForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Type or scan the person's card or QR code."))
            return _back(campaign)
        code = form.cleaned_data["code"]
    try:
        signup = campaigns.checkin(actor=request.user, campaign=campaign, member=member, code=code)
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s checked in.") % {"name": signup.member.name})
    return _back(campaign)


@require_POST
def campaign_reward(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = sel.get_campaign_for_user(request.user, pk, perm="marketing.change_campaignsignup")
    signup = _signup(request, campaign)
    if signup is None:
        messages.error(request, _("Choose a sign-up."))
        return _back(campaign)
    already = signup.rewarded_at is not None
    try:
        campaigns.attendance_reward(actor=request.user, signup=signup)
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        if already:
            messages.info(request, _("%(name)s was already rewarded.") % {"name": signup.member.name})
        else:
            messages.success(request, _("%(name)s rewarded.") % {"name": signup.member.name})
    return _back(campaign)


@require_POST
def campaign_noshows(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = sel.get_campaign_for_user(request.user, pk, perm="marketing.change_campaign")
    try:
        made = campaigns.no_show_followups(actor=request.user, campaign=campaign)
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(n)s follow-up tasks made.") % {"n": made})
    return _back(campaign)


@require_POST
def campaign_draw(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = sel.get_campaign_for_user(request.user, pk, perm="marketing.change_campaign")
    form = DrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Name the prize and how many winners to draw."))
        return _back(campaign)
    try:
        draw = campaigns.draw_create(
            actor=request.user,
            campaign=campaign,
            prize=form.cleaned_data["prize"],
            count=form.cleaned_data["count"],
        )
    except MarketingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Drawn: %(n)s winners of %(prize)s.") % {"n": len(draw.winners), "prize": draw.prize}
        )
    return _back(campaign)
