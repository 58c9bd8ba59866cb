"""What this app adds to a person's timeline: every booking event and every visit."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from members.registry import TimelineEntry

from .models import AppointmentEvent, Status, Visit, VisitStatus

_TITLES = {
    "booked": _("Appointment booked"),
    "moved": _("Appointment moved"),
    "confirm": _("Appointment confirmed"),
    "arrive": _("Checked in"),
    "start_treatment": _("Treatment started"),
    "complete": _("Appointment completed"),
    "cancel": _("Appointment cancelled"),
    "no_show": _("No-show"),
    "reminded": _("Reminder sent"),
}
_ICONS = {"cancel": "bi-x-circle", "no_show": "bi-person-x", "reminded": "bi-bell", "arrive": "bi-door-open"}


def events(member, user, limit):
    rows = AppointmentEvent.objects.filter(member=member).select_related("appointment")[:limit]
    for e in rows:
        yield TimelineEntry(
            at=e.at,
            kind=f"appointment.{e.action}",
            title=_TITLES.get(e.action, e.action),
            detail=e.detail,
            icon=_ICONS.get(e.action, "bi-calendar-event"),
            url=reverse("appointments:detail", args=[e.appointment_id]),
            staff=e.actor_name if e.actor_name != "system" else "",
        )


def visits(member, user, limit):
    rows = Visit.objects.filter(member=member).exclude(status=VisitStatus.OPEN)[:limit]
    for v in rows:
        yield TimelineEntry(
            at=v.voided_at or v.checked_out_at or v.opened_at,
            kind=f"visit.{v.status}",
            title=_("Visit voided") if v.status == VisitStatus.VOIDED else _("Visit checked out"),
            detail=f"¥{v.amount_due}",
            icon="bi-receipt",
            url=reverse("appointments:visit", args=[v.pk]),
        )


__all__ = ["Status", "events", "visits"]
