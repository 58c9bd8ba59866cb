"""The staff queue of people's privacy requests (PIPL): open deletion requests of the user's
branches with their deadline, and marking one handled with what was done."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import privacy
from .errors import MemberError
from .forms import PrivacyHandleForm


@require_GET
@permission_required(privacy.HANDLE_PERM, raise_exception=True)
def privacy_queue(request: HttpRequest) -> HttpResponse:
    handled = request.GET.get("show") == "handled"
    rows = list(privacy.privacy_queue(request.user, handled=handled)[:200])
    return render(
        request,
        "members/privacy_queue.html",
        {"rows": rows, "handled": handled, "form": PrivacyHandleForm()},
    )


@require_POST
@permission_required(privacy.HANDLE_PERM, raise_exception=True)
def privacy_handle(request: HttpRequest, pk: int) -> HttpResponse:
    item = privacy.get_privacy_request_for_user(request.user, pk)
    form = PrivacyHandleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write down what was done."))
        return redirect("members:privacy_queue")
    try:
        privacy.privacy_request_handle(actor=request.user, request=item, note=form.cleaned_data["note"])
    except MemberError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The request is marked handled."))
    return redirect("members:privacy_queue")
