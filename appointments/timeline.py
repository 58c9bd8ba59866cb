"""What this app adds to a person's timeline: every booking event, reminder, checkout and void
(one query: visits are recorded as events of their appointment)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from members.registry import TimelineEntry

from .models import Appointment, AppointmentEvent

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
    "checked_out": _("Visit checked out"),
    "voided": _("Visit voided"),
    "refunded": _("Visit partly refunded"),
}
_ICONS = {
    "checked_out": "bi-receipt",
    "voided": "bi-receipt-cutoff",
    "refunded": "bi-arrow-counterclockwise",
    "cancel": "bi-x-circle",
    "no_show": "bi-person-x",
    "reminded": "bi-bell",
    "arrive": "bi-door-open",
}


def title(action: str):
    return _TITLES.get(action, action)


def events(member, user, limit):
    rows = AppointmentEvent.objects.filter(member=member)[:limit]
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


def profile_tab(member, user) -> dict:
    """The person's bookings (newest first) and visit statistics, for the profile tab."""
    from .selectors import member_visit_stats

    bookings = list(
        Appointment.objects.filter(member=member)
        .select_related("service", "doctor__staff", "branch")
        .order_by("-start")[:30]
    )
    return {"bookings": bookings, "stats": member_visit_stats(member)}


__all__ = ["events", "profile_tab", "title"]
