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


def implants(member, user, limit):
    """Implants placed (issue 20): the item and its lot, from the materials of the person's
    checked-out visits, so that a recalled lot can be traced to the patient."""
    from .models import ChargeLineMaterial, VisitStatus

    rows = (
        ChargeLineMaterial.objects.filter(
            line__visit__member=member,
            line__visit__status=VisitStatus.CHECKED_OUT,
            item__kind="implant",
            movement__isnull=False,
        )
        .select_related("item", "batch", "line__visit", "line__item", "movement")
        .order_by("-movement__at")[:limit]
    )
    for m in rows:
        teeth = " ".join(str(t) for t in m.line.teeth)
        yield TimelineEntry(
            at=m.movement.at,
            kind="appointment.implant",
            title=_("Implant placed"),
            detail=f"{m.item.display_name} · {_('lot')} {m.batch.lot_number} · {m.line.item.display_name}"
            + (f" · {teeth}" if teeth else ""),
            icon="bi-nut",
            url=reverse("appointments:visit", args=[m.line.visit_id]),
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


__all__ = ["events", "implants", "profile_tab", "title"]
