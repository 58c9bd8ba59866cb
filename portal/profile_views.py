"""The member's own record: contact details, consents per channel and purpose, family."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from clinic.errors import DomainError

from . import consents as consent_rules
from .auth import member_required
from .forms import ProfileForm
from .selectors import family_of


@member_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """Contact details, address and the preferred channel. Name and mobile number are changed
    at the desk (the number is the log-in: changing it here would let anyone holding the
    phone for a minute take the account)."""
    from members.services import member_update

    member = request.portal.member
    form = ProfileForm(request.POST or None, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            member_update(actor=request.portal.actor, member=member, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Your details are saved."))
            return redirect("portal:profile")
    return render(request, "portal/profile.html", {"form": form, "nav": "me"})


@member_required
@require_http_methods(["GET", "POST"])
def consents(request):
    """What the member agrees to receive, per channel and purpose; a change takes effect at
    once (a withdrawal stops even messages already queued: the sender checks again)."""
    member = request.portal.member
    if request.method == "POST":
        try:
            changed = consent_rules.consents_apply(
                actor=request.portal.actor, member=member, wanted=set(request.POST.getlist("on"))
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if changed:
                messages.success(request, _("Saved. The change applies from now on."))
            return redirect("portal:consents")
    rows = consent_rules.consent_rows(member)
    return render(
        request,
        "portal/consents.html",
        {"rows": rows, "child": member.needs_guardian_consent, "nav": "me"},
    )


@member_required
@require_GET
def family(request):
    """The active person's family links; the people this phone may act for can be switched
    to (a guardian manages a child's pages that way)."""
    member = request.portal.member
    links = family_of(member)
    reachable = set(request.portal.member_ids)
    for link in links:
        link.can_manage = link.relative_id in reachable
    wards = [m for m in request.portal.members if m.pk != member.pk]
    return render(request, "portal/family.html", {"links": links, "people": wards, "nav": "me"})
