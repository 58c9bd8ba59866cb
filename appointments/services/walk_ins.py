"""Walk-ins: the fair order of the doctors on shift now, and registering a person without a
booking (booked at the first free time today and checked in)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch, ServiceItem
from members.models import Member

from .. import schedule
from ..errors import AppointmentError
from ..models import ACTIVE_STATUSES, Appointment, Channel
from .booking import appointment_book
from .states import appointment_check_in


def walk_in_candidates(branch: Branch, *, now: dt.datetime) -> list:
    """Doctors on shift at ``branch`` now, fairest first: fewest patients today, then the one
    who least recently got a walk-in (round-robin), then by name."""
    day = timezone.localtime(now).date()
    shifts = schedule.shifts_for_day(branch, day)
    on_shift = [d for d, ivs in shifts.items() if any(s <= now < e for s, e in ivs)]
    if not on_shift:
        return []
    lo, hi = schedule.day_bounds(day)
    doctors = list(
        schedule.doctors_for_branch(branch)
        .filter(pk__in=on_shift)
        .annotate(
            today=Count(
                "appointments",
                filter=Q(
                    appointments__start__gte=lo,
                    appointments__start__lt=hi,
                    appointments__status__in=ACTIVE_STATUSES,
                ),
            ),
            last_walk_in=Max("appointments__created_at", filter=Q(appointments__channel=Channel.WALK_IN)),
        )
    )
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    doctors.sort(key=lambda d: (d.today, d.last_walk_in or epoch, d.staff.full_name, d.pk))
    return doctors


@transaction.atomic
def walk_in_register(
    *,
    actor,
    branch: Branch,
    service: ServiceItem,
    member: Member | None = None,
    lead_name: str = "",
    lead_phone: str = "",
    doctor=None,
    notes: str = "",
    now: dt.datetime | None = None,
) -> Appointment:
    """A person without a booking: assigned fairly (``walk_in_candidates``) unless staff chose
    the doctor, booked at the doctor's first free time from now on today, and checked in."""
    now = now or timezone.now()
    duration = dt.timedelta(minutes=service.duration_minutes)
    candidates = [doctor] if doctor is not None else walk_in_candidates(branch, now=now)
    if not candidates:
        raise AppointmentError(_("No doctor is on shift now."), field="doctor")
    day_end = schedule.day_bounds(timezone.localtime(now).date())[1]
    for candidate in candidates:
        slots = schedule.free_slots(
            candidate, branch, duration=duration, after=now, now=now, days=1, count=1, priority=True
        )
        if slots and slots[0] < day_end:
            start = slots[0]
            appt = appointment_book(
                actor=actor,
                branch=branch,
                service=service,
                doctor=candidate,
                start=start,
                channel=Channel.WALK_IN,
                member=member,
                lead_name=lead_name,
                lead_phone=lead_phone,
                notes=notes,
                now=now,
                override=False,
            )
            return appointment_check_in(actor=actor, appointment=appt, now=now)
    raise AppointmentError(_("No doctor has free time for this service today."), field="doctor")
