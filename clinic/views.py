from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required, permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

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
    from .navigation import home_panels_for

    show_jobs = request.user.has_perm("clinic.view_jobheartbeat")
    return render(
        request,
        "clinic/home.html",
        {
            "heartbeats": list(job_heartbeats()) if show_jobs else None,
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
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
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


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says: send them to the static icon."""
    from django.templatetags.static import static

    return redirect(static("img/favicon.svg"), permanent=True)
