"""Names that third-party apps show in admin without a Chinese translation of their own
(django-axes, django-pghistory). Marked here so that makemessages puts them into our
catalogue (locale/), which Django consults before the packages' own."""

from __future__ import annotations

from django.utils.translation import gettext_noop

THIRD_PARTY_MSGIDS = [
    # Django admin 5.x: the app list's table headers (read by screen readers), which
    # Django's own Chinese catalogue lacks.
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # django-axes: the app and its models (admin, permission names).
    gettext_noop("Axes"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    # django-pghistory
    gettext_noop("Pghistory"),
    gettext_noop("context"),
    gettext_noop("contexts"),
    gettext_noop("events"),
    gettext_noop("middleware events"),
    # django-otp (two-step verification): its plugin apps and device models.
    gettext_noop("Otp_Static"),
    gettext_noop("Otp_Totp"),
    gettext_noop("static device"),
    gettext_noop("static devices"),
    gettext_noop("static token"),
    gettext_noop("static tokens"),
    gettext_noop("TOTP device"),
    gettext_noop("TOTP devices"),
]
