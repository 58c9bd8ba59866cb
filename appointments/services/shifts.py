"""Doctors' shifts and unavailability: weekly shifts, leave and extra shifts, the bookings a leave
affects, and moving them in bulk to another doctor or date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch
from clinic.services import audit_record

from .. import schedule
from ..errors import AppointmentError
from ..models import Appointment, ExceptionKind, ShiftException, ShiftTemplate, Status
from .booking import appointment_move
from .common import _check_doctor, doctor_name

_EXCEPTION_AUDIT_ACTION = {
    ExceptionKind.LEAVE: "appointments.shift.leave",
    ExceptionKind.EXTRA: "appointments.shift.extra",
}


@transaction.atomic
def shift_template_set(
    *,
    actor,
    doctor,
    branch: Branch,
    weekday: int,
    starts: dt.time,
    ends: dt.time,
    valid_from=None,
    valid_until=None,
) -> ShiftTemplate:
    """Add a weekly shift for a doctor at a branch."""
    _check_doctor(doctor, branch)
    if starts >= ends:
        raise AppointmentError(_("The end must be after the start."), field="ends")
    shift = ShiftTemplate.objects.create(
        doctor=doctor,
        branch=branch,
        weekday=weekday,
        starts=starts,
        ends=ends,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    audit_record(
        actor=actor,
        action="appointments.shift.created",
        target=shift,
        branch=branch,
        changes={"doctor": doctor_name(doctor), "weekday": weekday, "starts": starts, "ends": ends},
    )
    return shift


def affected_appointments(
    *, doctor, date: dt.date, starts: dt.time | None = None, ends: dt.time | None = None
):
    """Active future bookings of ``doctor`` in a leave window (the whole day without times)."""
    if starts is None:
        lo, hi = schedule.day_bounds(date)
    else:
        lo, hi = schedule.local_dt(date, starts), schedule.local_dt(date, ends)
    return (
        Appointment.objects.filter(
            doctor=doctor, status__in=[Status.BOOKED, Status.CONFIRMED], start__lt=hi, end__gt=lo
        )
        .select_related("member", "service", "branch", "chair")
        .order_by("start")
    )


@transaction.atomic
def shift_exception_add(
    *,
    actor,
    doctor,
    branch: Branch,
    date: dt.date,
    kind: str,
    starts: dt.time | None = None,
    ends: dt.time | None = None,
    reason: str = "",
) -> tuple[ShiftException, list[Appointment]]:
    """Record leave or an extra shift. For leave, returns the bookings it affects, so staff
    can move them (``appointments_bulk_move``)."""
    _check_doctor(doctor, branch)
    if kind not in ExceptionKind.values:
        raise AppointmentError(_("Choose leave or an extra shift."), field="kind")
    if (starts is None) != (ends is None) or (starts is not None and starts >= ends):
        raise AppointmentError(
            _("Give both times, the start before the end (or none for a whole day)."), field="ends"
        )
    if kind == ExceptionKind.EXTRA and starts is None:
        raise AppointmentError(_("An extra shift needs its times."), field="starts")
    exc = ShiftException.objects.create(
        doctor=doctor, branch=branch, date=date, kind=kind, starts=starts, ends=ends, reason=reason
    )
    audit_record(
        actor=actor,
        action=_EXCEPTION_AUDIT_ACTION[kind],
        target=exc,
        branch=branch,
        changes={
            "doctor": doctor_name(doctor),
            "date": date,
            "starts": starts,
            "ends": ends,
            "reason": reason,
        },
    )
    affected = (
        list(affected_appointments(doctor=doctor, date=date, starts=starts, ends=ends))
        if kind == ExceptionKind.LEAVE
        else []
    )
    return exc, affected


def appointments_bulk_move(
    *,
    actor,
    appointments: Iterable[Appointment],
    doctor=None,
    date: dt.date | None = None,
    reason: str = "",
    notify: bool = True,
) -> tuple[list[Appointment], list[tuple[Appointment, str]]]:
    """Move several bookings to another doctor (same time) and/or another date (same time of
    day), each in its own transaction; the people are told. Returns (moved, failed with why)."""
    moved, failed = [], []
    for appt in appointments:
        start = appt.start
        if date is not None:
            local = timezone.localtime(appt.start)
            start = schedule.local_dt(date, local.time())
        try:
            moved.append(
                appointment_move(
                    actor=actor, appointment=appt, start=start, doctor=doctor, reason=reason, notify=notify
                )
            )
        except AppointmentError as exc:
            failed.append((appt, str(exc.message)))
    return moved, failed
