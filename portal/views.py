"""The member portal's pages. Thin: bind a form, call one service, map ``DomainError`` to a
form error, redirect. Every page reads through ``request.portal`` (the member session)."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.errors import DomainError
from clinic.phones import mask_phone

from . import conf, services, wechat
from .auth import member_required, portal_public, safe_next
from .dashboard import home_for
from .forms import CodeForm, PhoneForm
from .session import PENDING_NEXT, PENDING_OPENID, PENDING_PHONE, WECHAT_STATE


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def clinic_phone(member=None) -> str:
    from clinic.phones import format_phone

    branch_phone = getattr(getattr(member, "branch", None), "phone", "") if member else ""
    return format_phone(branch_phone) if branch_phone else conf.get("PORTAL_CLINIC_PHONE")


# --- log-in ------------------------------------------------------------------------------------


@portal_public
@require_http_methods(["GET", "POST"])
def login(request):
    """Step 1: the phone number. The same answer whether or not it is registered."""
    if request.portal.is_authenticated and request.method == "GET":
        return redirect(safe_next(request))
    form = PhoneForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            row = services.login_code_request(phone=form.cleaned_data["phone"], ip_address=_ip(request))
        except DomainError as exc:
            form.add_error("phone", exc.message)
        else:
            request.portal.set(PENDING_PHONE, row.phone)
            request.portal.set(PENDING_NEXT, safe_next(request))
            return redirect("portal:login_code")
    return render(
        request,
        "portal/login.html",
        {"form": form, "wechat": wechat.enabled(), "next": safe_next(request)},
    )


@portal_public
@require_http_methods(["GET", "POST"])
def login_code(request):
    """Step 2: the code from the SMS."""
    phone = request.portal.get(PENDING_PHONE)
    if not phone:
        return redirect("portal:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            people = services.login_code_verify(
                phone=phone, code=form.cleaned_data["code"], ip_address=_ip(request)
            )
        except DomainError as exc:
            form.add_error("code", exc.message)
        else:
            openid = request.portal.get(PENDING_OPENID)
            target = request.portal.get(PENDING_NEXT) or reverse("portal:home")
            request.portal.login(phone=phone, via="sms")
            if openid and wechat.enabled():
                services.wechat_identity_bind(
                    app_id=conf.wechat()["app_id"], openid=openid, phone=phone, member=people[0]
                )
            request.portal.pop(PENDING_OPENID)
            services.portal_login_record(member=people[0], via="sms", ip_address=_ip(request))
            return _after_login(request, people[0], target)
    return render(request, "portal/login_code.html", {"form": form, "phone": mask_phone(phone)})


def _after_login(request, member, target: str = ""):
    response = redirect(target or reverse("portal:home"))
    # The member's own language from now on (the language cookie is shared with staff pages,
    # but on a member's phone there are no staff pages).
    _set_language_cookie(response, member.language)
    return response


def _set_language_cookie(response, language: str) -> None:
    from django.conf import settings

    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path="/",
        samesite="Lax",
    )


@portal_public
@require_POST
def logout(request):
    request.portal.logout()
    messages.info(request, _("You are logged out."))
    return redirect("portal:login")


@portal_public
@require_GET
def wechat_start(request):
    """To WeChat's authorize page (snsapi_base: no prompt, the openid only)."""
    if not wechat.enabled():
        raise Http404
    state = secrets.token_urlsafe(16)
    request.portal.set(WECHAT_STATE, state)
    callback = request.build_absolute_uri(reverse("portal:wechat_callback"))
    return HttpResponseRedirect(wechat.authorize_url(redirect_uri=callback, state=state))


@portal_public
@require_GET
def wechat_callback(request):
    """Back from WeChat: a bound openid logs in; a new one waits for the SMS log-in."""
    from .models import WeChatIdentity
    from .selectors import members_for_phone

    if not wechat.enabled():
        raise Http404
    expected = request.portal.pop(WECHAT_STATE)
    if not expected or request.GET.get("state") != expected:
        messages.error(request, _("The WeChat log-in expired. Please try again."))
        return redirect("portal:login")
    try:
        openid = wechat.openid_for_code(request.GET.get("code", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("portal:login")
    identity = WeChatIdentity.objects.filter(app_id=conf.wechat()["app_id"], openid=openid).first()
    people = members_for_phone(identity.phone) if identity else []
    if not people:
        request.portal.set(PENDING_OPENID, openid)
        messages.info(request, _("Log in once with your phone number to link WeChat."))
        return redirect("portal:login")
    request.portal.login(phone=identity.phone, via="wechat")
    services.wechat_identity_touch(identity=identity)
    services.portal_login_record(member=people[0], via="wechat", ip_address=_ip(request))
    return _after_login(request, people[0])


# --- the session: switcher and language ----------------------------------------------------


@member_required
@require_POST
def switch(request, member_id: int):
    """Act for another person this phone reaches (a child, a spouse sharing the phone)."""
    if not request.portal.reaches(member_id):
        raise Http404
    request.portal.switch(member_id)
    return redirect(safe_next(request))


@portal_public
@require_POST
def language(request):
    """The member picks the language; a logged-in member's choice is also their record's
    language (messages to them follow it)."""
    from django.conf import settings

    code = request.POST.get("language", "")
    if code not in {c for c, _n in settings.LANGUAGES}:
        code = settings.LANGUAGE_CODE
    member = request.portal.member
    if member is not None and member.language != code:
        from members.services import member_update

        try:
            member_update(actor=request.portal.actor, member=member, language=code)
        except DomainError as exc:
            messages.error(request, exc.message)
    response = redirect(safe_next(request))
    _set_language_cookie(response, code)
    return response


# --- pages --------------------------------------------------------------------------------------


@member_required
@require_GET
def home(request):
    home = home_for(request.portal)
    return render(
        request,
        "portal/home.html",
        {"home": home, "clinic_phone": clinic_phone(request.portal.member), "nav": "home"},
    )


@member_required
@require_GET
def card_qr(request):
    """The membership card number as a QR, shown at the desk to be scanned."""
    from loyalty.qr import svg_response
    from loyalty.selectors import membership_for

    membership = membership_for(request.portal.member)
    if membership is None:
        raise Http404
    return svg_response(membership.card_no, title=_("Membership card"))


@member_required
@require_GET
def me(request):
    """The member's own menu: profile, consents, family, referral, log-out."""
    return render(
        request, "portal/me.html", {"nav": "me", "clinic_phone": clinic_phone(request.portal.member)}
    )


# --- the public referral share page ------------------------------------------------------------


def _referrer_for(code: str):
    from loyalty.coupon_models import ReferralCode
    from loyalty.referrals import _code_in
    from members.models import MemberStatus

    code = _code_in(code)
    if not code:
        return None
    row = (
        ReferralCode.objects.select_related("member__branch")
        .filter(code=code, member__status=MemberStatus.ACTIVE)
        .first()
    )
    return row.member if row else None


@portal_public
@require_http_methods(["GET", "POST"])
def share(request):
    """The page a referral QR or link opens on a friend's phone: who invites them (first
    character of the name only), and a form to register themselves, with their consent."""
    from .forms import ShareRegisterForm
    from .referral import friend_register

    ref = request.GET.get("ref", "")
    referrer = _referrer_for(ref)
    form = ShareRegisterForm(request.POST or None)
    done = False
    if referrer is not None and request.method == "POST" and form.is_valid():
        try:
            friend_register(
                referrer=referrer,
                name=form.cleaned_data["name"],
                phone=form.cleaned_data["phone"],
                marketing_sms=form.cleaned_data["marketing_sms"],
                ip_address=_ip(request),
            )
        except DomainError as exc:
            form.add_error("phone" if exc.field in (None, "phone", "referrer") else exc.field, exc.message)
        else:
            done = True
    context = {
        "referrer_initial": (referrer.name[:1] + "**") if referrer else "",
        "branch": referrer.branch if referrer else None,
        "form": form,
        "done": done,
        "ref": ref,
        "valid": referrer is not None,
    }
    return render(request, "portal/share.html", context)
