"""Every write to bookings, shifts and reminders. Each service owns its transaction, writes its
audit row and its timeline event inside it. Visits and checkout live in ``appointments.checkout``.

No double booking is enforced by the exclusion constraints on ``Appointment``; the checks here
only turn a clash into a friendly error with free alternatives before the database has to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, Max, Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from psycopg.errors import DeadlockDetected

from clinic.errors import DomainError
from clinic.models import Branch, Role, ServiceItem
from clinic.selectors import staff_profile
from clinic.services import _actor_name, audit_record
from members.models import Member, MemberStatus, Stage
from members.services import member_register

from . import conf, schedule
from .errors import AppointmentError
from .integration import member_has_priority_booking, notify_member
from .models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentEvent,
    Chair,
    Channel,
    ExceptionKind,
    Reminder,
    ReminderStatus,
    ShiftException,
    ShiftTemplate,
    Status,
)

_CONSTRAINTS = ("appointment_no_doctor_overlap", "appointment_no_chair_overlap")
OVERRIDE_PERM = "clinic.override_booking"


# --- helpers ----------------------------------------------------------------------------------


def _fmt(value: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(value), "Y-m-d H:i")


def _hm(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%H:%M")


def doctor_name(user) -> str:
    profile = staff_profile(user)
    return profile.full_name if profile else user.get_username()


def _event(appt: Appointment, action: str, *, actor, frm: str = "", to: str = "", detail: str = "") -> None:
    AppointmentEvent.objects.create(
        appointment=appt,
        member_id=appt.member_id,
        at=timezone.now(),
        action=action,
        from_status=frm,
        to_status=to,
        detail=detail[:255],
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=_actor_name(actor)[:150],
    )


def _check_doctor(doctor, branch: Branch) -> None:
    profile = staff_profile(doctor)
    if (
        profile is None
        or profile.role != Role.DOCTOR
        or not doctor.is_active
        or not profile.branches.filter(pk=branch.pk).exists()
    ):
        raise AppointmentError(
            _("%(name)s is not a doctor of this branch.") % {"name": doctor_name(doctor)}, field="doctor"
        )


def _clash_error(doctor, branch, start, end, chair, member) -> AppointmentError:
    slots = schedule.free_slots(
        doctor,
        branch,
        duration=end - start,
        after=schedule.day_bounds(timezone.localtime(start).date())[0],
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
    return AppointmentError(message, code="clash", field="start", slots=slots)


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


# --- booking ----------------------------------------------------------------------------------


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


def _lock(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("member", "branch", "doctor", "chair", "service")
        .get(pk=appointment.pk)
    )


# --- states -----------------------------------------------------------------------------------

# action → (allowed from, to, timestamp field, audit verb)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str | None]] = {
    "confirm": (frozenset({Status.BOOKED}), Status.CONFIRMED, "confirmed_at"),
    # A late arrival after the no-show job still checks in (if the slot is still free).
    "arrive": (frozenset({Status.BOOKED, Status.CONFIRMED, Status.NO_SHOW}), Status.ARRIVED, "arrived_at"),
    "start_treatment": (frozenset({Status.ARRIVED}), Status.IN_TREATMENT, "treatment_started_at"),
    "complete": (frozenset({Status.ARRIVED, Status.IN_TREATMENT}), Status.COMPLETED, "completed_at"),
    "cancel": (
        frozenset({Status.BOOKED, Status.CONFIRMED, Status.ARRIVED}),
        Status.CANCELLED,
        "cancelled_at",
    ),
    "no_show": (frozenset({Status.BOOKED, Status.CONFIRMED}), Status.NO_SHOW, "no_show_at"),
}

_AUDIT_VERB = {
    "confirm": "confirmed",
    "arrive": "arrived",
    "start_treatment": "treatment_started",
    "complete": "completed",
    "cancel": "cancelled",
    "no_show": "no_show",
}


def _transition(*, actor, appointment: Appointment, action: str, detail: str = "", now=None) -> Appointment:
    allowed, to, stamp = TRANSITIONS[action]
    appt = _lock(appointment)
    if appt.status not in allowed:
        raise AppointmentError(_refusal(action, appt.get_status_display()), code="state")
    frm = appt.status
    appt.status = to
    fields = ["status"]
    if stamp:
        setattr(appt, stamp, now or timezone.now())
        fields.append(stamp)
    if action == "cancel":
        appt.cancelled_by = actor if getattr(actor, "pk", None) else None
        appt.cancel_reason = detail[:200]
        fields += ["cancelled_by", "cancel_reason"]
    _save_guarded(appt, override=False, member=appt.member, update_fields=fields)
    if to in (Status.CANCELLED, Status.NO_SHOW, Status.ARRIVED, Status.IN_TREATMENT, Status.COMPLETED):
        Reminder.objects.filter(appointment=appt, status=ReminderStatus.PENDING).update(
            status=ReminderStatus.CANCELLED, processed_at=timezone.now()
        )
    _event(appt, action, actor=actor, frm=frm, to=to, detail=detail)
    audit_record(
        actor=actor,
        action=f"appointments.booking.{_AUDIT_VERB[action]}",
        target=appt,
        changes={"status": [frm, to], **({"reason": detail} if detail else {})},
    )
    return appt


def _refusal(action: str, status_label) -> str:
    messages = {
        "confirm": _("Only a booked appointment can be confirmed (this one is %(status)s)."),
        "arrive": _("Only a booked or confirmed appointment can be checked in (this one is %(status)s)."),
        "start_treatment": _("Only a person who has arrived can start treatment (this one is %(status)s)."),
        "complete": _(
            "Only an arrived or in-treatment appointment can be completed (this one is %(status)s)."
        ),
        "cancel": _("This appointment is %(status)s and can no longer be cancelled."),
        "no_show": _("Only a booked or confirmed appointment can become a no-show (this one is %(status)s)."),
    }
    return messages[action] % {"status": status_label}


@transaction.atomic
def appointment_confirm(*, actor, appointment: Appointment) -> Appointment:
    """booked → confirmed (the person confirmed by phone or message)."""
    return _transition(actor=actor, appointment=appointment, action="confirm")


@transaction.atomic
def appointment_check_in(*, actor, appointment: Appointment, now: dt.datetime | None = None) -> Appointment:
    """booked/confirmed (or a late no-show) → arrived; the waiting clock starts."""
    return _transition(actor=actor, appointment=appointment, action="arrive", now=now)


@transaction.atomic
def appointment_start_treatment(*, actor, appointment: Appointment) -> Appointment:
    """arrived → in treatment; opens the visit that will carry the charge lines."""
    appt = _transition(actor=actor, appointment=appointment, action="start_treatment")
    from .checkout import visit_open

    visit_open(actor=actor, appointment=appt)
    return appt


@transaction.atomic
def appointment_complete(*, actor, appointment: Appointment) -> Appointment:
    return _transition(actor=actor, appointment=appointment, action="complete")


@transaction.atomic
def appointment_cancel(*, actor, appointment: Appointment, reason: str, notify: bool = True) -> Appointment:
    """→ cancelled, with who and why; the slot is free again at once."""
    reason = (reason or "").strip()
    if not reason:
        raise AppointmentError(_("Say why the appointment is cancelled."), field="reason")
    appt = _transition(actor=actor, appointment=appointment, action="cancel", detail=reason)
    if notify:
        notify_member(
            member=appt.member,
            template_key="appointments.cancelled",
            params=_message_params(appt),
            dedupe_key=f"appt:{appt.pk}:cancelled",
            branch=appt.branch,
            actor=actor,
        )
    return appt


def no_shows_mark(*, now: dt.datetime | None = None) -> int:
    """The beat job: booked/confirmed appointments whose start is more than the grace period
    ago become no-shows, one transaction each (a lock per row; a row checked in meanwhile is
    left alone). Returns how many were marked."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=conf.get("APPOINTMENTS_NO_SHOW_GRACE_MINUTES"))
    ids = list(
        Appointment.objects.filter(
            status__in=[Status.BOOKED, Status.CONFIRMED], start__lte=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
    marked = 0
    for pk in ids:
        try:
            with transaction.atomic():
                _transition(actor=None, appointment=Appointment(pk=pk), action="no_show", now=now)
                marked += 1
        except AppointmentError:
            continue  # checked in or cancelled since the list was read
    return marked


# --- reminders --------------------------------------------------------------------------------


def _message_params(appt: Appointment) -> dict[str, str]:
    return {
        "name": appt.member.name,
        "start": _fmt(appt.start),
        "doctor": doctor_name(appt.doctor),
        "service": appt.service.name,
        "branch": appt.branch.name,
        "phone": appt.branch.phone,
    }


def _schedule_reminders(appt: Appointment, *, now: dt.datetime) -> list[Reminder]:
    """Create the booking's reminders: one per configured offset whose due time is still
    ahead. A booking made inside every window gets a single reminder due at once, unless it
    starts within the minimum lead (the person has only just booked)."""
    offsets = sorted({int(m) for m in conf.get("APPOINTMENTS_REMINDER_OFFSETS")}, reverse=True)
    rows = []
    for minutes in offsets:
        due = appt.start - dt.timedelta(minutes=minutes)
        if due > now:
            rows.append((minutes, due))
    lead = appt.start - now
    if (
        not rows
        and offsets
        and lead > dt.timedelta(minutes=conf.get("APPOINTMENTS_REMINDER_MIN_LEAD_MINUTES"))
    ):
        rows.append((min(offsets), now))
    stamp = int(appt.start.timestamp())
    reminders = [
        Reminder(
            appointment=appt,
            offset_minutes=minutes,
            due_at=due,
            for_start=appt.start,
            dedupe_key=f"appt:{appt.pk}:remind:{minutes}:{stamp}",
        )
        for minutes, due in rows
    ]
    return Reminder.objects.bulk_create(reminders, ignore_conflicts=True)


def reminders_sweep(*, now: dt.datetime | None = None, batch: int | None = None) -> dict[str, int]:
    """The beat job: queue every due reminder into the outbox, once.

    Rows are claimed with ``select_for_update(skip_locked=True)`` so two sweeps never take the
    same reminder; the outbox dedupe key is the reminder's own key, so even a crash between
    the enqueue and the status change cannot send twice. A reminder whose booking was
    cancelled, moved or checked in meanwhile is skipped.
    """
    now = now or timezone.now()
    batch = batch or conf.get("APPOINTMENTS_SWEEP_BATCH")
    counts = {"queued": 0, "skipped": 0}
    with transaction.atomic():
        due = list(
            Reminder.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=ReminderStatus.PENDING, due_at__lte=now)
            .select_related(
                "appointment__member",
                "appointment__branch",
                "appointment__doctor__staff",
                "appointment__service",
            )
            .order_by("due_at")[:batch]
        )
        for r in due:
            appt = r.appointment
            r.processed_at = now
            if (
                appt.status not in (Status.BOOKED, Status.CONFIRMED)
                or appt.start != r.for_start
                or appt.start <= now
            ):
                r.status, r.note = ReminderStatus.SKIPPED, _("The appointment changed.")
                counts["skipped"] += 1
            else:
                try:
                    with transaction.atomic():
                        row, why = notify_member(
                            member=appt.member,
                            template_key="appointments.reminder",
                            params=_message_params(appt),
                            dedupe_key=r.dedupe_key,
                            branch=appt.branch,
                        )
                except DomainError as exc:  # e.g. no template: one bad row must not stop the sweep
                    row, why = None, str(exc.message)
                if row is None:
                    r.status, r.note = ReminderStatus.SKIPPED, why[:200]
                    counts["skipped"] += 1
                else:
                    r.status, r.outbox_id = ReminderStatus.QUEUED, row.pk
                    counts["queued"] += 1
                    AppointmentEvent.objects.create(
                        appointment=appt,
                        member_id=appt.member_id,
                        at=now,
                        action="reminded",
                        detail=_("Reminder %(hours)s h before") % {"hours": round(r.offset_minutes / 60, 1)},
                        actor_name="system",
                    )
            r.save(update_fields=["status", "processed_at", "outbox_id", "note"])
    return counts


# --- shifts and doctor unavailability ---------------------------------------------------------


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
        action=f"appointments.shift.{kind}",
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


# --- walk-ins ---------------------------------------------------------------------------------


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
