"""Booking and moving: the slot checks (doctor, chair, shift, held-back priority times, clashes),
saving under the exclusion constraints with the advisory locks that serialise writers of one
doctor or chair, and the ``appointment_book`` / ``appointment_move`` services.

No double booking is enforced by the exclusion constraints on ``Appointment``; the checks here
only turn a clash into a friendly error with free alternatives before the database has to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg.errors import DeadlockDetected

from clinic.models import Branch, ServiceItem
from clinic.services import audit_record
from members.models import Member, MemberStatus, Stage
from members.services import member_register

from .. import conf, schedule
from ..errors import AppointmentError
from ..integration import member_has_priority_booking, notify_member
from ..models import (
    ACTIVE_STATUSES,
    Appointment,
    Chair,
    Channel,
    Reminder,
    ReminderStatus,
    Status,
)
from .common import _check_doctor, _event, _fmt, _hm, _lock, _message_params, doctor_name
from .reminders import _schedule_reminders

_CONSTRAINTS = ("appointment_no_doctor_overlap", "appointment_no_chair_overlap")
OVERRIDE_PERM = "clinic.override_booking"


def _clash_error(doctor, branch, start, end, chair, member) -> AppointmentError:
    slots = schedule.nearest_free_slots(
        doctor,
        branch,
        around=start,
        duration=end - start,
        priority=member_has_priority_booking(member) if member else False,
        chair_id=chair.pk if chair else None,
    )
    if slots:
        message = _("%(doctor)s is already booked at %(start)s–%(end)s. Free times: %(slots)s.") % {
            "doctor": doctor_name(doctor),
            "start": _hm(start),
            "end": _hm(end),
            "slots": "、".join(_fmt(s) for s in slots),
        }
    else:
        message = _(
            "%(doctor)s is already booked at %(start)s–%(end)s, and has no free time in the next days."
        ) % {
            "doctor": doctor_name(doctor),
            "start": _hm(start),
            "end": _hm(end),
        }
    error = AppointmentError(message, code="clash", field="start", slots=slots)
    # Where the free times are shown as buttons, the message without its list of them.
    error.brief = _("%(doctor)s is already booked at %(start)s–%(end)s.") % {
        "doctor": doctor_name(doctor),
        "start": _hm(start),
        "end": _hm(end),
    }
    return error


def _clashes(doctor, chair, start, end, exclude_pk=None):
    cond = Q(doctor=doctor)
    if chair is not None:
        cond |= Q(chair=chair)
    qs = Appointment.objects.filter(
        cond, status__in=ACTIVE_STATUSES, overbooked=False, start__lt=end, end__gt=start
    )
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs


# Namespaces of the transaction-level advisory locks below: pg_advisory_xact_lock(int, int).
_LOCK_DOCTOR, _LOCK_CHAIR = 7301, 7302


def _lock_slot_owners(appt: Appointment) -> None:
    """Hold the appointment's doctor and chair until commit, so that writes claiming their
    time run one after the other.

    Without it, concurrent inserts that overlap under an exclusion constraint each wait for
    the other's uncommitted row; PostgreSQL aborts one of them as a deadlock, its retry
    inserts again and can deadlock again, and with a few front desks booking one chair at
    once a booking failed with a 500 after all its retries. With the locks, a later booking
    waits for the earlier one to commit and meets its row as an ordinary clash. Always the
    doctor before the chair, so two writers never wait for each other in a circle.
    """
    keys = [(_LOCK_DOCTOR, appt.doctor_id)]
    if appt.chair_id:
        keys.append((_LOCK_CHAIR, appt.chair_id))
    with connection.cursor() as cursor:
        for namespace, pk in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, pk % 2**31])


def _save_guarded(appt: Appointment, *, override: bool, member, update_fields=None) -> None:
    """Save under the exclusion constraints. A clash that the pre-check could not see (a
    concurrent booking committed meanwhile) becomes the same friendly error; with an
    override the booking is saved as an overbooking instead.

    Concurrent writers of the same doctor or chair are serialised by ``_lock_slot_owners``.
    A deadlock that still happens (say with a writer that bypassed this function) is retried
    from the savepoint: the retry waits for the winner and gets the clash like everybody else.
    """
    _lock_slot_owners(appt)
    attempts = 6
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                appt.save(update_fields=update_fields)
            return
        except OperationalError as exc:
            if not isinstance(exc.__cause__, DeadlockDetected) or attempt == attempts - 1:
                raise
        except IntegrityError as exc:
            if not any(name in str(exc) for name in _CONSTRAINTS):
                raise
            if not override:
                raise _clash_error(
                    appt.doctor, appt.branch, appt.start, appt.end, appt.chair, member
                ) from exc
            appt.overbooked = True
            with transaction.atomic():
                appt.save(update_fields=[*update_fields, "overbooked"] if update_fields else None)
            return


def _validate_slot(
    *, actor, appt: Appointment, member, override: bool, now: dt.datetime, exclude_pk=None
) -> None:
    if appt.end <= appt.start:
        raise AppointmentError(_("The end must be after the start."), field="end")
    if appt.chair is not None and (appt.chair.branch_id != appt.branch_id or not appt.chair.is_active):
        raise AppointmentError(_("This chair is not in service at this branch."), field="chair")
    _check_doctor(appt.doctor, appt.branch)
    if override and not actor.has_perm(OVERRIDE_PERM):
        raise AppointmentError(_("Only a supervisor may book over an occupied slot."), code="forbidden")
    if appt.channel != Channel.WALK_IN and appt.start < now - dt.timedelta(minutes=5):
        raise AppointmentError(_("This time has already passed."), field="start")
    if not override and not schedule.is_on_shift(appt.doctor, appt.branch, appt.start, appt.end):
        raise AppointmentError(
            _("%(doctor)s is not on shift at %(start)s.")
            % {"doctor": doctor_name(appt.doctor), "start": _fmt(appt.start)},
            code="off_shift",
            field="start",
            slots=schedule.free_slots(
                appt.doctor, appt.branch, duration=appt.end - appt.start, after=appt.start, now=now
            ),
        )
    appt.priority_slot = schedule.is_held_back(appt.start, now=now)
    if appt.priority_slot and not override and not member_has_priority_booking(member):
        raise AppointmentError(
            _("This time is held back for priority members until %(hours)s hours before.")
            % {"hours": conf.get("APPOINTMENTS_PRIORITY_RELEASE_HOURS")},
            code="held_back",
            field="start",
        )
    clashes = _clashes(appt.doctor, appt.chair, appt.start, appt.end, exclude_pk=exclude_pk)
    if clashes.exists():
        if not override:
            raise _clash_error(appt.doctor, appt.branch, appt.start, appt.end, appt.chair, member)
        appt.overbooked = True


@transaction.atomic
def appointment_book(
    *,
    actor,
    branch: Branch,
    service: ServiceItem,
    doctor,
    start: dt.datetime,
    channel: str,
    member: Member | None = None,
    lead_name: str = "",
    lead_phone: str = "",
    chair: Chair | None = None,
    end: dt.datetime | None = None,
    notes: str = "",
    override: bool = False,
    now: dt.datetime | None = None,
) -> Appointment:
    """Book ``member`` (or a new lead from name + phone, registered through members) with
    ``doctor`` from ``start`` (to ``end``, default the service's duration).

    Refuses a clash with an error that lists free times, a time off shift, and a held-back
    priority slot; ``override`` (needs ``clinic.override_booking``) books over any of them and
    is audited as an overbooking. Creates the booking's reminders.
    """
    now = now or timezone.now()
    if channel not in Channel.values:
        raise AppointmentError(_("Choose how the booking came in."), field="channel")
    if member is None:
        if not (lead_name or "").strip():
            raise AppointmentError(
                _("Choose a person, or enter a new person's name and phone."), field="member"
            )
        member = member_register(
            actor=actor, branch=branch, name=lead_name, phone=lead_phone, stage=Stage.LEAD
        )
    if member.status != MemberStatus.ACTIVE:
        raise AppointmentError(_("This person's record is closed and cannot be booked."), field="member")
    appt = Appointment(
        branch=branch,
        member=member,
        service=service,
        doctor=doctor,
        chair=chair,
        start=start,
        end=end or start + dt.timedelta(minutes=service.duration_minutes),
        channel=channel,
        notes=notes,
        created_by=actor if getattr(actor, "pk", None) else None,
        status=Status.BOOKED,
    )
    _validate_slot(actor=actor, appt=appt, member=member, override=override, now=now)
    _save_guarded(appt, override=override, member=member)
    _schedule_reminders(appt, now=now)
    _event(
        appt,
        "booked",
        actor=actor,
        to=Status.BOOKED,
        detail=f"{_fmt(appt.start)} {service.name} {doctor_name(doctor)}",
    )
    changes: dict[str, Any] = {
        "member": member.pk,
        "service": service.code,
        "doctor": doctor_name(doctor),
        "chair": chair.code if chair else None,
        "start": appt.start,
        "end": appt.end,
        "channel": channel,
    }
    audit_record(actor=actor, action="appointments.booking.created", target=appt, changes=changes)
    if appt.overbooked or override:
        audit_record(
            actor=actor,
            action="appointments.booking.overbooked",
            target=appt,
            changes={"overbooked": appt.overbooked, "override": True, "priority_slot": appt.priority_slot},
        )
    return appt


@transaction.atomic
def appointment_move(
    *,
    actor,
    appointment: Appointment,
    start: dt.datetime,
    end: dt.datetime | None = None,
    doctor=None,
    chair: Chair | bool | None = False,
    override: bool = False,
    notify: bool = True,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Appointment:
    """Move a booked or confirmed appointment to another time, doctor or chair (``chair``
    False keeps it, None clears it). Old reminders are cancelled, new ones scheduled, and the
    person is told when ``notify``."""
    now = now or timezone.now()
    appt = _lock(appointment)
    if appt.status not in (Status.BOOKED, Status.CONFIRMED):
        raise AppointmentError(_("Only a booked or confirmed appointment can be moved."), code="state")
    old = {"start": appt.start, "end": appt.end, "doctor": doctor_name(appt.doctor), "chair": appt.chair_id}
    duration = appt.end - appt.start
    appt.start = start
    appt.end = end or start + duration
    if doctor is not None:
        appt.doctor = doctor
    if chair is not False:
        appt.chair = chair
    appt.overbooked = False
    _validate_slot(actor=actor, appt=appt, member=appt.member, override=override, now=now, exclude_pk=appt.pk)
    _save_guarded(
        appt,
        override=override,
        member=appt.member,
        update_fields=["start", "end", "doctor", "chair", "overbooked", "priority_slot"],
    )
    Reminder.objects.filter(appointment=appt, status=ReminderStatus.PENDING).update(
        status=ReminderStatus.CANCELLED, processed_at=now
    )
    _schedule_reminders(appt, now=now)
    new = {"start": appt.start, "end": appt.end, "doctor": doctor_name(appt.doctor), "chair": appt.chair_id}
    _event(
        appt,
        "moved",
        actor=actor,
        detail=f"{_fmt(old['start'])} → {_fmt(appt.start)} {new['doctor']} {reason}",
    )
    audit_record(
        actor=actor,
        action="appointments.booking.moved",
        target=appt,
        changes={k: [old[k], new[k]] for k in old if old[k] != new[k]}
        | {"reason": reason, "override": override},
    )
    if notify:
        notify_member(
            member=appt.member,
            template_key="appointments.moved",
            params=_message_params(appt),
            dedupe_key=f"appt:{appt.pk}:moved:{int(appt.start.timestamp())}:{appt.doctor_id}",
            branch=appt.branch,
            actor=actor,
        )
    return appt
