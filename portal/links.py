"""What the portal offers the apps below it at start-up (they never import the portal)."""

from __future__ import annotations


def register() -> None:
    """Hook the portal into the registries of the lower apps (see the functions below)."""
    from loyalty import qr

    qr.register_referral_link(referral_share_link)


def referral_share_link(request, code: str) -> str:
    """A referral QR opens the public share page, where a friend registers themselves
    (``?ref=``: the desk's scanner gun still reads the code out of it)."""
    from urllib.parse import urlencode

    from django.urls import reverse

    return request.build_absolute_uri(reverse("portal:share")) + "?" + urlencode({"ref": code})
