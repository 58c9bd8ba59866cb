"""Online booking by the member (the H5 portal): services HQ opened to online booking, the free
slots of a service at a branch over a few days, and booking, cancelling and moving by the member.

Free slots come from the same schedule as the staff day view (``appointments.schedule``:
weekly shifts plus exceptions, minus active bookings, on the slot grid, held-back priority
times only for priority tiers). Booking goes through ``appointment_book`` with channel H5, so
the exclusion constraints decide a race for the last slot exactly as they do for the front
desk: one booking wins, the other gets "this time was just taken" with fresh times.

The actor is a ``members.actors.MemberActor`` acting for ``member``; a member may act only
for that person (the portal builds the actor for the person chosen in the family switcher).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch, ServiceItem
from members.actors import is_member_actor
from members.models import Member

from .. import conf, schedule
from ..errors import AppointmentError
from ..integration import member_has_priority_booking
from ..models import ACTIVE_STATUSES, Appointment, Channel, Status
from .booking import appointment_book, appointment_move
from .common import doctor_name
from .states import appointment_cancel


@dataclass(frozen=True)
class Slot:
    """A start time at which ``doctor_id`` is free for the whole service."""

    start: dt.datetime
    end: dt.datetime
    doctor_id: int
    doctor: str
    priority: bool = False

    @property
    def key(self) -> str:
        """What the booking form posts back: the start (epoch seconds) and the doctor."""
        return f"{int(self.start.timestamp())}-{self.doctor_id}"


def online_services() -> QuerySet[ServiceItem]:
    """The services HQ opened to online booking (``ServiceItem.bookable_online``)."""
    return (
        ServiceItem.objects.filter(is_active=True, bookable_online=True, category__is_active=True)
        .select_related("category")
        .order_by("category__sort_order", "code")
    )


def online_branches() -> QuerySet[Branch]:
    return Branch.objects.filter(is_active=True).order_by("code")


def notice() -> dt.timedelta:
    return dt.timedelta(minutes=conf.get("APPOINTMENTS_MEMBER_NOTICE_MINUTES"))


def window(now: dt.datetime | None = None) -> tuple[dt.datetime, dt.date]:
    """(earliest start, last day) a member may book."""
    now = now or timezone.now()
    earliest = now + dt.timedelta(minutes=conf.get("APPOINTMENTS_ONLINE_MIN_LEAD_MINUTES"))
    last_day = timezone.localtime(now).date() + dt.timedelta(days=conf.get("APPOINTMENTS_ONLINE_DAYS"))
    return earliest, last_day


def online_slots(
    *,
    service: ServiceItem,
    branch: Branch,
    start_day: dt.date,
    days: int = 1,
    member: Member | None = None,
    doctor_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[Slot]:
    """Free start times for ``service`` at ``branch`` from ``start_day`` over ``days`` days,
    one per grid time (the free doctor with the fewest bookings that day gets it, so online
    bookings spread over the doctors on shift). Held-back priority times are offered only to
    a member whose tier has priority booking, and marked as such. Three queries a day."""
    now = now or timezone.now()
    earliest, last_day = window(now)
    priority = bool(member and member_has_priority_booking(member))
    duration = dt.timedelta(minutes=service.duration_minutes)
    step = dt.timedelta(minutes=conf.get("APPOINTMENTS_SLOT_MINUTES"))
    doctors = {u.pk: doctor_name(u) for u in schedule.doctors_for_branch(branch)}
    if doctor_id is not None:
        doctors = {k: v for k, v in doctors.items() if k == doctor_id}
    out: list[Slot] = []
    if not doctors:
        return out
    for offset in range(max(days, 1)):
        day = start_day + dt.timedelta(days=offset)
        if day > last_day:
            break
        shifts = schedule.shifts_for_day(branch, day, doctors.keys())
        if not shifts:
            continue
        busy = schedule.busy_for_day(day, shifts.keys())
        load = {d: len(busy.get(d, ())) for d in shifts}
        by_time: dict[dt.datetime, list[int]] = defaultdict(list)
        for d, intervals in shifts.items():
            for s, e in schedule.subtract(intervals, busy.get(d, ())):
                slot = schedule._grid(max(s, earliest))
                while slot + duration <= e:
                    by_time[slot].append(d)
                    slot += step
        for start in sorted(by_time):
            held = schedule.is_held_back(start, now=now)
            if held and not priority:
                continue
            d = min(by_time[start], key=lambda pk: (load[pk], doctors[pk], pk))
            out.append(Slot(start, start + duration, d, doctors[d], priority=held))
    return out


def parse_slot_key(key: str) -> tuple[dt.datetime, int]:
    """(start, doctor id) from ``Slot.key``; a bad key is the member's error, not a 500."""
    try:
        stamp, doctor = (key or "").split("-", 1)
        start = dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC)
        return start, int(doctor)
    except (ValueError, OverflowError, OSError) as exc:
        raise AppointmentError(_("Choose a time from the list."), field="slot") from exc


def _check_actor(actor, member: Member) -> None:
    if not is_member_actor(actor) or actor.member.pk != member.pk:
        raise AppointmentError(_("You may only book for yourself or your family."), code="forbidden")


def _check_bookable(service: ServiceItem, branch: Branch) -> None:
    if not (service.is_active and service.bookable_online):
        raise AppointmentError(
            _("This service cannot be booked online; please call the branch."), field="service"
        )
    if not branch.is_active:
        raise AppointmentError(_("This branch does not take bookings."), field="branch")


def _check_window(start: dt.datetime, now: dt.datetime) -> None:
    earliest, last_day = window(now)
    if start < earliest:
        raise AppointmentError(
            _("This time is too soon to book online; please call the branch."), code="too_soon", field="slot"
        )
    if timezone.localtime(start).date() > last_day:
        raise AppointmentError(
            _("Online booking opens %(days)s days ahead.") % {"days": conf.get("APPOINTMENTS_ONLINE_DAYS")},
            code="too_far",
            field="slot",
        )


def _doctor(branch: Branch, doctor_id: int):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=doctor_id, is_active=True).first()
    if user is None or not schedule.doctors_for_branch(branch).filter(pk=doctor_id).exists():
        raise AppointmentError(_("Choose a time from the list."), field="slot")
    return user


def _taken(exc: AppointmentError) -> AppointmentError:
    if exc.code in ("clash", "off_shift", "held_back"):
        return AppointmentError(
            _("Sorry, this time was just taken. Please choose another time."), code="taken", field="slot"
        )
    return exc


def member_appointment_book(
    *,
    actor,
    member: Member,
    branch: Branch,
    service: ServiceItem,
    start: dt.datetime,
    doctor_id: int,
    notes: str = "",
    now: dt.datetime | None = None,
) -> Appointment:
    """The member books a free slot for themself (or a family member they act for), channel
    H5. The exclusion constraints decide a race: the loser gets ``code="taken"``."""
    now = now or timezone.now()
    _check_actor(actor, member)
    _check_bookable(service, branch)
    _check_window(start, now)
    doctor = _doctor(branch, doctor_id)
    upcoming = Appointment.objects.filter(
        member=member, channel=Channel.H5, status__in=(Status.BOOKED, Status.CONFIRMED), start__gte=now
    ).count()
    if upcoming >= conf.get("APPOINTMENTS_ONLINE_MAX_UPCOMING"):
        raise AppointmentError(
            _("You already have %(n)s upcoming online bookings; cancel one or call the branch.")
            % {"n": upcoming},
            code="limit",
        )
    try:
        with transaction.atomic():
            return appointment_book(
                actor=actor,
                branch=branch,
                service=service,
                doctor=doctor,
                start=start,
                channel=Channel.H5,
                member=member,
                notes=(notes or "").strip()[:500],
                now=now,
            )
    except AppointmentError as exc:
        raise _taken(exc) from exc


def _own(actor, appointment: Appointment) -> Appointment:
    appointment = Appointment.objects.select_related("member", "branch", "service").get(pk=appointment.pk)
    _check_actor(actor, appointment.member)
    return appointment


def _check_notice(appointment: Appointment, now: dt.datetime) -> None:
    if appointment.status not in (Status.BOOKED, Status.CONFIRMED):
        raise AppointmentError(_("This appointment can no longer be changed."), code="state")
    if appointment.start - now < notice():
        hours = conf.get("APPOINTMENTS_MEMBER_NOTICE_MINUTES") / 60
        raise AppointmentError(
            _(
                "Changes online are possible up to %(hours)s hours before the start; "
                "please call the branch at %(phone)s."
            )
            % {"hours": f"{hours:g}", "phone": appointment.branch.phone or appointment.branch.name},
            code="too_late",
        )


def can_change(appointment: Appointment, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return appointment.status in (Status.BOOKED, Status.CONFIRMED) and appointment.start - now >= notice()


def member_appointment_cancel(
    *, actor, appointment: Appointment, reason: str = "", now: dt.datetime | None = None
) -> Appointment:
    """The member cancels their own booking, up to the notice before the start."""
    now = now or timezone.now()
    appointment = _own(actor, appointment)
    _check_notice(appointment, now)
    reason = (reason or "").strip()[:150] or _("Cancelled by the member online")
    return appointment_cancel(actor=actor, appointment=appointment, reason=reason)


def member_appointment_reschedule(
    *, actor, appointment: Appointment, start: dt.datetime, doctor_id: int, now: dt.datetime | None = None
) -> Appointment:
    """The member moves their own booking to another free slot, up to the notice before the
    old start; the new time follows the same rules as a new online booking."""
    now = now or timezone.now()
    appointment = _own(actor, appointment)
    _check_notice(appointment, now)
    _check_bookable(appointment.service, appointment.branch)
    _check_window(start, now)
    doctor = _doctor(appointment.branch, doctor_id)
    try:
        with transaction.atomic():
            return appointment_move(
                actor=actor,
                appointment=appointment,
                start=start,
                end=start + dt.timedelta(minutes=appointment.service.duration_minutes),
                doctor=doctor,
                chair=None,
                reason=_("moved by the member online"),
                now=now,
            )
    except AppointmentError as exc:
        raise _taken(exc) from exc


def member_appointments(member: Member) -> QuerySet[Appointment]:
    """The person's bookings, newest first, with what the portal's list shows."""
    return (
        Appointment.objects.filter(member=member)
        .select_related("branch", "service", "doctor__staff")
        .order_by("-start", "-id")
    )


def upcoming_and_past(member: Member, *, now: dt.datetime | None = None, past_limit: int = 20):
    now = now or timezone.now()
    qs = member_appointments(member)
    upcoming = list(
        qs.filter(start__gte=now - dt.timedelta(hours=1), status__in=ACTIVE_STATUSES).order_by("start")
    )
    past = list(qs.exclude(pk__in=[a.pk for a in upcoming])[:past_limit])
    return upcoming, past
