"""The staff page of the outbox: list with filters and daily counts, one message, resend; and
the public ends: the unsubscribe link and the SMS providers' pushes (replies, delivery reports)."""

from __future__ import annotations

import json
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import inbound as inbound_sms
from . import services
from .errors import NotificationError
from .forms import OutboxFilterForm
from .models import Channel, OptOutScope
from .selectors import get_outbox_for_user, mask_recipient, outbox_daily_counts, outbox_for_user, outbox_list
from .unsubscribe import read_token

logger = logging.getLogger(__name__)


@require_GET
@permission_required("notifications.view_outbox", raise_exception=True)
def outbox_index(request: HttpRequest) -> HttpResponse:
    form = OutboxFilterForm(request.GET or None)
    page = Paginator(outbox_list(request.user, **form.filters()), 50).get_page(request.GET.get("page"))
    template = "notifications/outbox_list.html#results" if request.htmx else "notifications/outbox_list.html"
    context = {"form": form, "page": page, "daily": outbox_daily_counts(outbox_for_user(request.user))}
    return render(request, template, context)


@require_GET
@permission_required("notifications.view_outbox", raise_exception=True)
def outbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "notifications/outbox_detail.html", {"row": get_outbox_for_user(request.user, pk)})


@require_POST
@permission_required("notifications.view_outbox", raise_exception=True)
def outbox_resend(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_outbox_for_user(request.user, pk, write=True)
    try:
        services.outbox_resend(actor=request.user, message=row)
    except NotificationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The message is queued to be sent again."))
    return redirect("notifications:outbox_detail", pk=row.pk)


# --- public: the unsubscribe link and the providers' pushes ---------------------------------


@login_not_required
@csrf_exempt  # the signed token is the key; mail clients' one-click POST carries no CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, unsub_token: str) -> HttpResponse:
    """GET asks (link scanners must not unsubscribe anyone); POST, from the page's button or
    from a mail client's one-click unsubscribe (RFC 8058), records the opt-out at once."""
    found = read_token(unsub_token)
    if found is None:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=400)
    channel, recipient = found
    context = {"channel": Channel(channel).label, "recipient": mask_recipient(channel, recipient)}
    # The page's button (confirm) or a mail client's RFC 8058 one-click body; any other POST
    # only shows the question again.
    confirmed = (
        request.POST.get("confirm") == "unsubscribe" or request.POST.get("List-Unsubscribe") == "One-Click"
    )
    if request.method == "POST" and confirmed:
        try:
            services.optout_set(
                actor=None,
                channel=channel,
                recipient=recipient,
                scope=OptOutScope.MARKETING,
                reason=_("Unsubscribe link"),
            )
        except NotificationError as exc:
            return render(
                request, "notifications/unsubscribe.html", {"invalid": True, "error": exc.message}, status=400
            )
        context["done"] = True
    return render(request, "notifications/unsubscribe.html", context)


_ANSWER = {
    "tencent": ({"result": 0, "errmsg": "OK"}, {"result": 1, "errmsg": "bad request"}),
    "aliyun": ({"code": 0, "msg": "成功"}, {"code": 1, "msg": "bad request"}),
}


@login_not_required
@csrf_exempt  # a provider's server calls this; the secret in the URL is the key
@require_POST
def inbound(request: HttpRequest, provider: str, kind: str, inbound_token: str) -> HttpResponse:
    """A provider's push: replies (``kind`` = reply) or delivery reports (``report``)."""
    if (
        provider not in inbound_sms.PROVIDERS
        or kind not in ("reply", "report")
        or not inbound_sms.token_ok(inbound_token)
    ):
        raise Http404
    ok, bad = _ANSWER[provider]
    try:
        # The providers post JSON; a form post (its body already parsed) is not theirs.
        if request.content_type != "application/json":
            raise inbound_sms.PayloadError(f"content type {request.content_type!r}")
        payload = json.loads(request.body or b"null")
        if kind == "reply":
            items = inbound_sms.parse_replies(provider, payload)
        else:
            items = inbound_sms.parse_reports(provider, payload)
    except (ValueError, inbound_sms.PayloadError) as exc:
        logger.warning("inbound %s %s: %s", provider, kind, exc)
        return JsonResponse(bad, status=400)
    for item in items:
        if kind == "reply":
            inbound_sms.reply_record(provider=provider, reply=item)
        else:
            inbound_sms.report_record(report=item)
    return JsonResponse(ok)
