"""QR images (segno, SVG): the member card number and the referral link.

Pure functions: text in, SVG bytes out, no database. The views that serve them check the
user's permission and branch first (``loyalty.views.card_qr``, ``referral_views.referral_qr``).
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

import segno
from django.http import HttpResponse
from django.urls import reverse

SVG_TYPE = "image/svg+xml"


def qr_svg(data: str, *, title: str = "") -> bytes:
    """A standalone, scalable SVG (``viewBox``, no fixed size; the page sets the width) with
    a white quiet zone, so it scans from a screen and from paper. Error correction M (15%)
    survives a crease or a smudge on a printed card."""
    qr = segno.make(data, error="m", micro=False)
    buffer = io.BytesIO()
    qr.save(
        buffer,
        kind="svg",
        scale=1,
        border=2,
        xmldecl=False,
        omitsize=True,
        svgclass=None,
        lineclass=None,
        dark="#000",
        light="#fff",
        title=title or None,
    )
    return buffer.getvalue()


def svg_response(data: str, *, title: str = "") -> HttpResponse:
    """The image for an ``<img src>``: not stored (it names a person's card or code; the
    front-desk PCs are shared). ``NoStoreMiddleware`` does the same for every signed-in
    response; this keeps the image right wherever it is served from."""
    from clinic.middleware import add_no_store

    return add_no_store(HttpResponse(qr_svg(data, title=title), content_type=SVG_TYPE))


# A higher app (the member portal) registers the public page a friend opens; loyalty never
# imports it (DESIGN.md §2: lower apps offer registries).
_REFERRAL_LINK = None


def register_referral_link(fn) -> None:
    """``fn(request, code) -> absolute URL`` that referral QRs and links open from now on."""
    global _REFERRAL_LINK
    _REFERRAL_LINK = fn


def referral_link(request, code: str) -> str:
    """What a referral QR encodes: the public share page a friend opens on their own phone
    (registered by the member portal: ``/portal/invite/?ref=<code>``), or without a portal
    the registration page with the code filled in (``/members/new/?ref=<code>``). Either way
    the link carries ``?ref=<code>``, so a scanner gun into the 推荐人 field still works
    (``referrer_resolve`` reads the code back out of the link)."""
    if _REFERRAL_LINK is not None:
        return _REFERRAL_LINK(request, code)
    return request.build_absolute_uri(reverse("members:create")) + "?" + urlencode({"ref": code})
