from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required, permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .errors import ClinicError
from .forms import BranchSwitchForm, CatalogSearchForm
from .middleware import ActiveBranchMiddleware
from .selectors import catalog_items, get_branch_for_user, job_heartbeats


class LoginView(auth_views.LoginView):
    """Sign-in that lands each role on its own start page (clinic.navigation.landing_for)."""

    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        from django.urls import reverse

        from .navigation import landing_for

        return reverse(landing_for(self.request.user))


def home(request: HttpRequest) -> HttpResponse:
    from .backups import backup_health
    from .navigation import home_panels_for

    show_jobs = request.user.has_perm("clinic.view_jobheartbeat")
    return render(
        request,
        "clinic/home.html",
        {
            "heartbeats": list(job_heartbeats()) if show_jobs else None,
            "backup": backup_health() if show_jobs else None,
            "catalog_form": CatalogSearchForm(),
            "home_panels": home_panels_for(request),
        },
    )


@require_POST
def branch_switch(request: HttpRequest) -> HttpResponse:
    form = BranchSwitchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a branch from the list."))
        return redirect("home")
    branch = get_branch_for_user(request.user, form.cleaned_data["branch"])
    request.session[ActiveBranchMiddleware.SESSION_KEY] = branch.pk
    messages.success(request, _("You are now working at %(branch)s.") % {"branch": branch})
    target = form.cleaned_data["next"]
    # A path of this site only (redirect() would read "9999-12-31" as a URL name).
    if (
        target.startswith("/")
        and not target.startswith("//")
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    ):
        return redirect(target)
    return redirect("home")


@require_GET
@permission_required("clinic.view_serviceitem", raise_exception=True)
def catalog(request: HttpRequest) -> HttpResponse:
    form = CatalogSearchForm(request.GET or None)
    query, category = "", None
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        category = form.cleaned_data["category"].pk if form.cleaned_data["category"] else None
    items = catalog_items(query=query, category=category)
    template = "clinic/catalog.html#results" if request.htmx else "clinic/catalog.html"
    return render(request, template, {"form": form, "items": items, "query": query})


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For the load balancer and docker healthcheck: the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return JsonResponse({"status": "ok"})
    except Exception:  # the probe reports, it must not raise
        return JsonResponse({"status": "database unavailable"}, status=503)


# How long a page answered 503 asks the browser (and a load balancer) to wait.
RETRY_AFTER_SECONDS = 30


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``. An error that goes away by itself (``clinic.jobs.TRANSIENT_ERRORS``:
    the database restarting or unreachable, a network timeout) is a 503 with ``Retry-After``
    and a page that says so; anything else the usual 500 page. Like Django's own handler it
    renders without a request context: nothing here may need the database."""
    import sys

    from django.template import loader

    from .jobs import TRANSIENT_ERRORS

    error = sys.exc_info()[1]
    if isinstance(error, TRANSIENT_ERRORS):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponseServerError(loader.get_template("500.html").render())


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says: send them to the static icon."""
    from django.templatetags.static import static

    return redirect(static("img/favicon.svg"), permanent=True)


# --- two-step verification (clinic.two_factor) ----------------------------------------------


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    # A path of this site only (redirect() would read "9999-12-31" as a URL name).
    if (
        target.startswith("/")
        and not target.startswith("//")
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    ):
        return target
    return default


def _landing(request: HttpRequest) -> str:
    from django.urls import reverse

    from .navigation import landing_for

    return reverse(landing_for(request.user))


@require_GET
def two_factor(request: HttpRequest) -> HttpResponse:
    """两步验证: status and settings of the signed-in user's own second factor."""
    from . import two_factor as tf

    enrolled = tf.is_enrolled(request.user)
    return render(
        request,
        "clinic/two_factor.html",
        {
            "enrolled": enrolled,
            "required": tf.is_required(request.user),
            "codes_left": tf.backup_codes_left(request.user) if enrolled else 0,
        },
    )


def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrolment: scan the QR code, confirm with a code, receive the backup codes (once)."""
    from . import two_factor as tf
    from .forms import TwoFactorTokenForm

    if tf.is_enrolled(request.user) and not request.user.is_verified():
        # Replacing a device needs the current one first.
        return redirect("clinic:two_factor_verify")
    device = tf.two_factor_setup_start(user=request.user)
    form = TwoFactorTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = tf.two_factor_enrol(actor=request.user, request=request, token=form.cleaned_data["token"])
        except ClinicError as exc:
            form.add_error("token", exc.message)
        else:
            return render(
                request,
                "clinic/two_factor_codes.html",
                {"codes": codes, "next": _safe_next(request, _landing(request))},
            )
    return render(
        request,
        "clinic/two_factor_setup.html",
        {
            "form": form,
            "qr_svg": tf.provisioning_qr_svg(device, label=_("QR code for your authenticator app")),
            "secret": tf.secret_base32(device),
            "required": tf.is_required(request.user),
            "next": _safe_next(request, ""),
        },
    )


def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of log-in: a code from the app or a backup code."""
    from . import two_factor as tf
    from .forms import TwoFactorTokenForm

    if request.user.is_verified():
        return redirect(_safe_next(request, _landing(request)))
    if not tf.is_enrolled(request.user):
        request.session[tf.ENROLLED_SESSION_KEY] = False
        return redirect("clinic:two_factor_setup" if tf.is_required(request.user) else "home")
    form = TwoFactorTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tf.two_factor_verify(request=request, token=form.cleaned_data["token"])
        except ClinicError as exc:
            form.add_error("token", exc.message)
        else:
            return redirect(_safe_next(request, _landing(request)))
    return render(request, "clinic/two_factor_verify.html", {"form": form, "next": _safe_next(request, "")})


@require_POST
def two_factor_backup_codes(request: HttpRequest) -> HttpResponse:
    from . import two_factor as tf

    if request.POST.get("confirm") != "renew":  # the page's button says so; nothing else renews
        messages.error(request, _("Press “New backup codes” to replace your backup codes."))
        return redirect("clinic:two_factor")
    try:
        codes = tf.two_factor_backup_codes_renew(actor=request.user)
    except ClinicError as exc:
        messages.error(request, exc.message)
        return redirect("clinic:two_factor")
    return render(request, "clinic/two_factor_codes.html", {"codes": codes, "next": ""})


@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    from . import two_factor as tf

    try:
        tf.two_factor_disable(actor=request.user, request=request)
    except ClinicError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Two-step verification is off."))
    return redirect("clinic:two_factor")
