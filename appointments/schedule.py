"""Availability: shifts (weekly templates plus exceptions) minus bookings, in the clinic's zone.

Pure reads; each function batches its queries so a day view of twenty doctors costs a few
queries, not one per doctor.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.models import Branch, Role

from . import conf
from .models import ACTIVE_STATUSES, Appointment, ExceptionKind, ShiftException, ShiftTemplate

User = get_user_model()
Interval = tuple[dt.datetime, dt.datetime]


def local_dt(day: dt.date, t: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, t), timezone.get_current_timezone())


def day_bounds(day: dt.date) -> Interval:
    start = local_dt(day, dt.time.min)
    return start, local_dt(day + dt.timedelta(days=1), dt.time.min)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def subtract(intervals: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    result = merge(intervals)
    for hs, he in merge(holes):
        nxt: list[Interval] = []
        for s, e in result:
            if he <= s or hs >= e:
                nxt.append((s, e))
                continue
            if s < hs:
                nxt.append((s, hs))
            if he < e:
                nxt.append((he, e))
        result = nxt
    return result


def doctors_for_branch(branch: Branch) -> QuerySet:
    """Active logins with the doctor role working at ``branch``."""
    return (
        User.objects.filter(is_active=True, staff__role=Role.DOCTOR, staff__branches=branch)
        .select_related("staff")
        .order_by("staff__full_name", "id")
    )


def shifts_for_day(
    branch: Branch, day: dt.date, doctor_ids: Iterable[int] | None = None
) -> dict[int, list[Interval]]:
    """Each doctor's working intervals at ``branch`` on ``day``: weekly templates valid that
    day plus extra shifts, minus leave (leave is the doctor's, at every branch). Two queries."""
    templates = ShiftTemplate.objects.filter(branch=branch, weekday=day.weekday()).filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=day),
        Q(valid_until__isnull=True) | Q(valid_until__gte=day),
    )
    exceptions = ShiftException.objects.filter(date=day).filter(
        Q(kind=ExceptionKind.LEAVE) | Q(branch=branch)
    )
    if doctor_ids is not None:
        doctor_ids = list(doctor_ids)
        templates = templates.filter(doctor_id__in=doctor_ids)
        exceptions = exceptions.filter(doctor_id__in=doctor_ids)
    work: dict[int, list[Interval]] = defaultdict(list)
    leave: dict[int, list[Interval]] = defaultdict(list)
    for t in templates.values_list("doctor_id", "starts", "ends"):
        work[t[0]].append((local_dt(day, t[1]), local_dt(day, t[2])))
    for doctor_id, kind, starts, ends in exceptions.values_list("doctor_id", "kind", "starts", "ends"):
        if kind == ExceptionKind.EXTRA:
            work[doctor_id].append((local_dt(day, starts), local_dt(day, ends)))
        elif starts is None:
            leave[doctor_id].append(day_bounds(day))
        else:
            leave[doctor_id].append((local_dt(day, starts), local_dt(day, ends)))
    return {d: subtract(iv, leave.get(d, ())) for d, iv in work.items() if subtract(iv, leave.get(d, ()))}


def busy_for_day(day: dt.date, doctor_ids: Iterable[int]) -> dict[int, list[Interval]]:
    """Active bookings of the doctors on ``day`` (at any branch: a doctor is in one place)."""
    start, end = day_bounds(day)
    busy: dict[int, list[Interval]] = defaultdict(list)
    rows = Appointment.objects.filter(
        doctor_id__in=list(doctor_ids), status__in=ACTIVE_STATUSES, start__lt=end, end__gt=start
    ).values_list("doctor_id", "start", "end")
    for doctor_id, s, e in rows:
        busy[doctor_id].append((s, e))
    return busy


def availability(doctor, branch: Branch, day: dt.date) -> list[Interval]:
    """Free intervals of one doctor at one branch on one day: shifts minus bookings."""
    shifts = shifts_for_day(branch, day, [doctor.pk]).get(doctor.pk, [])
    if not shifts:
        return []
    return subtract(shifts, busy_for_day(day, [doctor.pk]).get(doctor.pk, []))


def is_on_shift(doctor, branch: Branch, start: dt.datetime, end: dt.datetime) -> bool:
    day = timezone.localtime(start).date()
    return any(
        s <= start and end <= e for s, e in shifts_for_day(branch, day, [doctor.pk]).get(doctor.pk, [])
    )


def _grid(start: dt.datetime) -> dt.datetime:
    step = conf.get("APPOINTMENTS_SLOT_MINUTES")
    local = timezone.localtime(start)
    minutes = local.hour * 60 + local.minute
    rounded = -(-minutes // step) * step
    base = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if local.second or local.microsecond or rounded != minutes:
        return base + dt.timedelta(minutes=rounded)
    return local


def is_held_back(start: dt.datetime, *, now: dt.datetime | None = None) -> bool:
    """Whether a slot starting at ``start`` is still held back for priority-booking tiers."""
    holds = conf.get("APPOINTMENTS_PRIORITY_HOLD_TIMES") or []
    if not holds:
        return False
    now = now or timezone.now()
    if start - now <= dt.timedelta(hours=conf.get("APPOINTMENTS_PRIORITY_RELEASE_HOURS")):
        return False
    return timezone.localtime(start).strftime("%H:%M") in holds


def free_slots(
    doctor,
    branch: Branch,
    *,
    duration: dt.timedelta,
    after: dt.datetime,
    count: int | None = None,
    days: int | None = None,
    priority: bool = False,
    chair_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[dt.datetime]:
    """The next ``count`` start times at which ``doctor`` (and ``chair``) is free for
    ``duration``, on the slot grid, from ``after`` on, over ``days`` days. Held-back slots
    are offered only when ``priority``."""
    now = now or timezone.now()
    after = max(after, now)
    count = count or conf.get("APPOINTMENTS_SUGGEST_COUNT")
    days = days or conf.get("APPOINTMENTS_SUGGEST_DAYS")
    step = dt.timedelta(minutes=conf.get("APPOINTMENTS_SLOT_MINUTES"))
    first_day = timezone.localtime(after).date()
    out: list[dt.datetime] = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        shifts = shifts_for_day(branch, day, [doctor.pk]).get(doctor.pk, [])
        if not shifts:
            continue
        holes = busy_for_day(day, [doctor.pk]).get(doctor.pk, [])
        if chair_id:
            s0, e0 = day_bounds(day)
            holes = holes + list(
                Appointment.objects.filter(
                    chair_id=chair_id, status__in=ACTIVE_STATUSES, start__lt=e0, end__gt=s0
                ).values_list("start", "end")
            )
        for s, e in subtract(shifts, holes):
            slot = _grid(max(s, after))
            while slot + duration <= e:
                if priority or not is_held_back(slot, now=now):
                    out.append(slot)
                    if len(out) >= count:
                        return out
                slot += step
    return out


def nearest_free_slots(doctor, branch, *, around: dt.datetime, duration: dt.timedelta, **kwargs):
    """The free start times closest to ``around`` (before or after it, that day first), in
    time order: after a clash the suggestions start near the asked time, not at opening."""
    count = kwargs.pop("count", None) or conf.get("APPOINTMENTS_SUGGEST_COUNT")
    day_start = day_bounds(timezone.localtime(around).date())[0]
    pool = free_slots(doctor, branch, duration=duration, after=day_start, count=count * 6, **kwargs)
    same_day = [s for s in pool if timezone.localtime(s).date() == timezone.localtime(around).date()]
    ranked = sorted(same_day, key=lambda s: abs(s - around)) + [s for s in pool if s not in same_day]
    return sorted(dict.fromkeys(ranked[:count]))
