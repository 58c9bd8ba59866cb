"""The unsubscribe link of marketing messages: a signed token naming the channel and the
recipient, so the link works without logging in and cannot be forged for someone else.

Marketing e-mails end with the link and carry ``List-Unsubscribe`` (with one-click
``List-Unsubscribe-Post``, RFC 8058); marketing SMS end with the reply keyword the carriers
expect (回T退订) when the template does not say it already.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from .models import Channel, Purpose

SALT = "notifications.unsubscribe"


def unsubscribe_token(channel: str, recipient: str) -> str:
    return signing.dumps({"c": channel, "r": recipient}, salt=SALT, compress=True)


def read_token(token: str) -> tuple[str, str] | None:
    """``(channel, recipient)``, or None for a token that is not ours. Links do not expire:
    a person may unsubscribe from a message of last year."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if (
        not isinstance(data, dict)
        or data.get("c") not in Channel.values
        or not isinstance(data.get("r"), str)
    ):
        return None
    return data["c"], data["r"]


def unsubscribe_url(channel: str, recipient: str) -> str:
    base = getattr(settings, "PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
    return base + reverse(
        "notifications:unsubscribe", kwargs={"unsub_token": unsubscribe_token(channel, recipient)}
    )


def with_opt_out(*, channel: str, recipient: str, purpose: str, language: str, body: str) -> tuple[str, str]:
    """The body as sent (with the way out added to a marketing message) and the link ("" when none)."""
    if purpose != Purpose.MARKETING:
        return body, ""
    with translation.override(language):
        if channel == Channel.EMAIL:
            url = unsubscribe_url(channel, recipient)
            return body.rstrip() + "\n\n—\n" + _("Unsubscribe from these e-mails: %(url)s") % {
                "url": url
            }, url
        if channel == Channel.SMS and "退订" not in body and "unsubscribe" not in body.lower():
            return body.rstrip() + _(" Reply T to unsubscribe"), ""
    return body, ""
