"""My data and privacy (PIPL art. 44–47) in the portal: download a copy of everything the
clinic holds (JSON or Excel, medical part included: it is the person's own), ask for
deletion (a staff queue answers within 15 working days), and see each request's status."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from members import privacy
from members.errors import MemberError

from .auth import member_required
from .session import PortalActor


class ErasureForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Anything we should know (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy("I ask the clinic to delete my personal data."),
        required=True,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


def _render(request, form, status=200):
    person = request.portal.member
    rows = list(privacy.member_privacy_requests(person)[:20])
    open_erasure = next((r for r in rows if r.kind == "erasure" and r.status == "received"), None)
    return render(
        request,
        "portal/privacy.html",
        {"nav": "me", "rows": rows, "open_erasure": open_erasure, "form": form},
        status=status,
    )


@member_required
@require_GET
def privacy_page(request):
    return _render(request, ErasureForm())


@member_required
@require_GET
def privacy_export(request, fmt: str):
    if fmt not in ("json", "xlsx"):
        raise Http404
    person = request.portal.member
    privacy.privacy_export_record(actor=PortalActor(person), member=person, fmt=fmt)
    response = privacy.export_response(person, fmt=fmt, medical=True)
    response["Cache-Control"] = "no-store"
    return response


@member_required
@require_POST
def privacy_erase(request):
    person = request.portal.member
    form = ErasureForm(request.POST)
    if not form.is_valid():
        return _render(request, form, status=400)
    try:
        req = privacy.privacy_erasure_request(
            actor=PortalActor(person), member=person, reason=form.cleaned_data["reason"]
        )
    except MemberError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Your request is received. We answer by %(date)s.")
            % {"date": timezone.localtime(req.deadline).strftime("%Y-%m-%d")},
        )
    return redirect("portal:privacy")
