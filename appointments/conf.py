"""Appointment settings and their defaults; each can be overridden in Django settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Reminders, in minutes before the start (24 h and 2 h).
    "APPOINTMENTS_REMINDER_OFFSETS": [24 * 60, 120],
    # A booking made inside every reminder window still gets one reminder at once, unless it
    # starts sooner than this (the person has just booked and will not forget in an hour).
    "APPOINTMENTS_REMINDER_MIN_LEAD_MINUTES": 60,
    # A booked/confirmed appointment becomes a no-show this long after its start.
    "APPOINTMENTS_NO_SHOW_GRACE_MINUTES": 30,
    # Slot grid for free-slot suggestions and the day view.
    "APPOINTMENTS_SLOT_MINUTES": 15,
    # Held-back slots: bookings starting at these local times are for priority-booking tiers
    # until APPOINTMENTS_PRIORITY_RELEASE_HOURS before the start; then anyone may book them.
    "APPOINTMENTS_PRIORITY_HOLD_TIMES": ["09:00", "14:00"],
    "APPOINTMENTS_PRIORITY_RELEASE_HOURS": 48,
    # How far ahead a clash looks for free alternatives.
    "APPOINTMENTS_SUGGEST_DAYS": 7,
    "APPOINTMENTS_SUGGEST_COUNT": 6,
    "APPOINTMENTS_SWEEP_BATCH": 500,
    # Online booking by the member (the H5 portal, docs/portal_booking.md): a member may
    # cancel or move their own booking up to this many minutes before its start; later, they
    # call the branch. Slots start at least MIN_LEAD minutes from now and at most DAYS days
    # ahead; a member holds at most MAX_UPCOMING online bookings at once.
    "APPOINTMENTS_MEMBER_NOTICE_MINUTES": 120,
    "APPOINTMENTS_ONLINE_MIN_LEAD_MINUTES": 60,
    "APPOINTMENTS_ONLINE_DAYS": 14,
    "APPOINTMENTS_ONLINE_MAX_UPCOMING": 3,
    # Which catalog items each yearly benefit (loyalty AllowanceKind) pays for.
    "APPOINTMENTS_ALLOWANCE_ITEMS": {"cleaning": ["PV01"], "exam": ["EX01"]},
}


def get(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])
