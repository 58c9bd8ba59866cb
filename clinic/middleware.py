"""Request-wide context: the UI language and the branch the staff member is working at."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import BadRequest
from django.utils import translation
from django.utils.cache import patch_vary_headers

_SUPPORTED = {code for code, _ in settings.LANGUAGES}


class LanguageMiddleware:
    """Simplified Chinese unless the person chose English with the language switch.

    Unlike Django's LocaleMiddleware this ignores the browser's Accept-Language: the clinic's
    UI language is a decision of the clinic, and the front desk's PCs often run English
    Windows.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or settings.LANGUAGE_CODE
        if language not in _SUPPORTED:
            language = settings.LANGUAGE_CODE
        request.LANGUAGE_CODE = language
        # override, not activate: the thread gets its language back after the response, so
        # the next request (or test) on it starts clean. Responses are rendered inside.
        with translation.override(language):
            response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        return response


class ActiveBranchMiddleware:
    """``request.branch``: the branch chosen in the switcher, else the staff's default one.

    Staff of several branches see all of them in lists; the active branch is where new
    bookings, registrations and day lists default to.
    """

    SESSION_KEY = "active_branch_id"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.branch = None
        if request.user.is_authenticated:
            from .selectors import branches_for_user, staff_profile

            branches = list(branches_for_user(request.user))
            chosen = request.session.get(self.SESSION_KEY)
            by_id = {b.id: b for b in branches}
            branch = by_id.get(chosen)
            if branch is None:
                profile = staff_profile(request.user)
                default_id = profile.default_branch_id if profile else None
                branch = by_id.get(default_id) or (branches[0] if branches else None)
            request.branch = branch
            request.available_branches = branches
        return self.get_response(request)


class NoStoreMiddleware:
    """Every response to a signed-in staff member carries ``Cache-Control: no-store``.

    Front-desk PCs are shared: a profile, a ``data.json``, an export or a receipt must not be
    left in the browser's (or a proxy's) cache for the next person at the desk to reopen.
    Pages, htmx fragments and file downloads alike: the class is "what a signed-in person
    sees", so it is decided here rather than view by view. A view's own ``max-age`` is
    dropped; anonymous responses (the login page, static files, the health probe) keep theirs.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_no_store(response)
        return response


def add_no_store(response):
    """``no-store, private`` and no ``max-age`` (a personal-data response on a shared PC)."""
    from django.utils.cache import patch_cache_control

    if "Cache-Control" in response.headers:
        directives = [
            d.strip()
            for d in response.headers["Cache-Control"].split(",")
            if d.strip() and not d.strip().lower().startswith(("max-age", "s-maxage", "public"))
        ]
        response.headers["Cache-Control"] = ", ".join(directives)
        if not response.headers["Cache-Control"]:
            del response.headers["Cache-Control"]
    patch_cache_control(response, no_store=True, private=True)
    response.headers.pop("Expires", None)
    return response


class RefuseNulMiddleware:
    """Refuse (400) any request whose path, query string or form data holds a NUL character.

    No text in the system may contain NUL, and PostgreSQL refuses it in text with an error
    (a 500 wherever a raw ``request.GET`` value reaches a query). Refusing it here, before any
    view, covers every view, form and admin page at once; stripping it instead would silently
    change what was sent. Form fields refuse it too (Django's CharField does), with a message.
    Uploaded files are not inspected: they are bytes, and the importers read them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            "\x00" in request.path
            or _has_nul(request.GET)
            or (request.method == "POST" and _has_nul(request.POST))
        ):
            raise BadRequest("NUL character in the request")
        return self.get_response(request)


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in data.lists())


class TwoFactorMiddleware:
    """Hold a signed-in user who still owes a second factor on the enrolment or verify page.

    After django-otp's ``OTPMiddleware``. Someone who must use two-step verification and has
    not enrolled yet reaches only the enrolment page (and log-out, the language switch); someone
    enrolled reaches only the code page until they enter a code. An htmx request gets an
    ``HX-Redirect`` instead of a page fragment.
    """

    EXEMPT = frozenset(
        {
            "logout",
            "clinic:two_factor_setup",
            "clinic:two_factor_verify",
            "set_language",
            "javascript-catalog",
            "healthz",
            "favicon",
        }
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.http import HttpResponse
        from django.shortcuts import redirect
        from django.urls import Resolver404, resolve, reverse
        from django.utils.http import urlencode

        from .two_factor import pending_step

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if match.view_name in self.EXEMPT:
            return self.get_response(request)
        step = pending_step(user, request.session)
        if step is None:
            return self.get_response(request)
        target = reverse("clinic:two_factor_setup" if step == "setup" else "clinic:two_factor_verify")
        # HtmxMiddleware runs later: read the header itself.
        htmx = request.headers.get("HX-Request") == "true"
        if request.method == "GET" and not htmx:
            target += "?" + urlencode({"next": request.get_full_path()})
        if htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return add_no_store(response)
        return add_no_store(redirect(target))
