"""The decorators every portal view wears.

``member_required``: a member session (``request.portal.member``), else the portal's log-in
page (never the staff one, whatever staff session the browser also has). ``portal_public``:
pages a friend without any session opens (log-in, the referral share page). Both are exempt
from the staff ``LoginRequiredMiddleware``: the portal decides for itself.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def portal_login_url(next_url: str = "") -> str:
    url = reverse("portal:login")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def safe_next(request, default: str = "") -> str:
    """A ``next`` inside the portal, or the home page."""
    from .session import PREFIX

    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target
        and target.startswith(PREFIX)
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    ):
        return target
    return default or reverse("portal:home")


def member_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.portal.is_authenticated:
            return redirect(portal_login_url(request.get_full_path() if request.method == "GET" else ""))
        return view(request, *args, **kwargs)

    return login_not_required(wrapped)


def portal_public(view):
    return login_not_required(view)
