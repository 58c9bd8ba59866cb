"""The monthly management report by e-mail (issue 17): when the job closes last month on the
1st, each person who may read the branch's month reports and has an e-mail address gets one
message through the outbox: the month's key figures and a link to the PDF. A service
message (staff mail, not marketing); one per person, branch and month (the dedupe key)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import translation

from clinic.notifications import services as notify
from clinic.notifications.models import Channel, Purpose
from clinic.selectors import user_branch_ids

from . import dashboard, kpis
from .close_models import MonthClose
from .month_close import VIEW_PERM, _load
from .templatetags.reports_tags import figure

TEMPLATE_KEY = "reports.monthly_report"
# The figures the message lists, in this order (the PDF has them all).
HEADLINE = ("revenue", "visits", "new_people", "enrolments", "return_rate", "satisfaction", "no_show_rate")


def recipients(branch) -> list:
    """Active staff with an e-mail address who may read this branch's month reports."""
    out = []
    for user in get_user_model().objects.filter(is_active=True).exclude(email="").order_by("pk"):
        if not user.has_perm(VIEW_PERM):
            continue
        ids = user_branch_ids(user)
        if ids is None or branch.pk in ids:
            out.append(user)
    return out


def _lines(close: MonthClose, language: str) -> str:
    frozen = _load(close.figures)
    with translation.override(language):
        return "\n".join(
            f"· {kpis.KPIS[code].name}：{figure(frozen.get(code), dashboard.kind_of(kpis.KPIS[code]))}"
            for code in HEADLINE
            if code in kpis.KPIS
        )


def monthly_report_send(*, close: MonthClose) -> int:
    """Queue the report's e-mail to everyone who should get it. Returns how many were queued
    (0 on a second run)."""
    base = getattr(settings, "PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
    path = reverse("reports:month_pdf", kwargs={"year": close.month.year, "month": close.month.month})
    link = f"{base}{path}?branch={close.branch.code}"
    queued = 0
    with transaction.atomic():
        for user in recipients(close.branch):
            language = settings.LANGUAGE_CODE  # staff have no language of their own yet
            row = notify.notification_enqueue(
                channel=Channel.EMAIL,
                recipient=user.email,
                template_key=TEMPLATE_KEY,
                params={
                    "branch": str(close.branch),
                    "month": f"{close.month:%Y-%m}",
                    "figures": _lines(close, language),
                    "link": link,
                },
                purpose=Purpose.SERVICE,
                dedupe_key=f"reports:monthly:{close.branch_id}:{close.month:%Y-%m}:{user.pk}",
                language=language,
                branch=close.branch,
            )
            queued += int(row.was_created)
    return queued
