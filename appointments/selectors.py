"""Reads of bookings and visits, scoped to the user's branches, with what each page needs."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import get_language

from clinic.models import Branch
from clinic.selectors import scope_to_branches

from . import conf, schedule
from .models import ACTIVE_STATUSES, Appointment, Chair, Status, Visit

_RELATED = ("member", "service", "doctor__staff", "chair", "branch")


def appointments_for_user(user) -> QuerySet[Appointment]:
    return scope_to_branches(Appointment.objects.select_related(*_RELATED), user)


def get_appointment_for_user(user, pk: int, *, write: bool = False) -> Appointment:
    """404 outside the user's branches; 403 when seen but not writable."""
    if not user.has_perm("appointments.view_appointment"):
        raise PermissionDenied
    appt = appointments_for_user(user).filter(pk=pk).first()
    if appt is None:
        raise Http404
    if write and not user.has_perm("appointments.change_appointment"):
        raise PermissionDenied
    return appt


def get_visit_for_user(user, pk: int, *, perm: str | None = None) -> Visit:
    if not user.has_perm("appointments.view_visit"):
        raise PermissionDenied
    visit = (
        scope_to_branches(
            Visit.objects.select_related("member", "branch", "doctor__staff", "appointment"), user
        )
        .filter(pk=pk)
        .first()
    )
    if visit is None:
        raise Http404
    if perm and not user.has_perm(perm):
        raise PermissionDenied
    return visit


def chairs_for_branch(branch: Branch) -> QuerySet[Chair]:
    return Chair.objects.filter(branch=branch, is_active=True).order_by("sort_order", "code")


@dataclass
class Column:
    key: int
    label: str
    shifts: list = field(default_factory=list)
    bookings: list = field(default_factory=list)
    free: list = field(default_factory=list)

    @property
    def items(self) -> list:
        """Bookings and free gaps in time order, as the column shows them."""
        return sorted([*self.bookings, *self.free], key=lambda x: (x.start, x.is_free))


@dataclass
class FreeGap:
    start: dt.datetime
    end: dt.datetime
    hm: str
    hm_end: str
    is_free: bool = True


def _next_slot(moment: dt.datetime) -> dt.datetime:
    """``moment`` rounded up to the slot grid (``APPOINTMENTS_SLOT_MINUTES``)."""
    step = conf.get("APPOINTMENTS_SLOT_MINUTES")
    cut = moment.replace(second=0, microsecond=0)
    if cut < moment:
        cut += dt.timedelta(minutes=1)
    return cut + dt.timedelta(minutes=(-cut.minute) % step)


def day_columns(
    branch: Branch, day: dt.date, *, by: str = "doctor", doctor_id: int | None = None, status: str = ""
) -> list[Column]:
    """The day view: a column per doctor on shift or booked (or per chair), each with its
    shifts, bookings and free gaps. A fixed handful of queries whatever the size."""
    lo, hi = schedule.day_bounds(day)
    now = _next_slot(timezone.now())
    qs = Appointment.objects.filter(branch=branch, start__lt=hi, end__gt=lo).order_by("start", "id")
    if doctor_id:
        qs = qs.filter(doctor_id=doctor_id)
    if status:
        qs = qs.filter(status=status)
    bookings = _cards(qs)
    if by == "chair":
        columns = {c.pk: Column(c.pk, c.name) for c in chairs_for_branch(branch)}
        for b in bookings:
            if b.chair_id in columns:
                columns[b.chair_id].bookings.append(b)
        return list(columns.values())
    doctors = list(schedule.doctors_for_branch(branch))
    if doctor_id:
        doctors = [d for d in doctors if d.pk == doctor_id]
    shifts = schedule.shifts_for_day(branch, day, [d.pk for d in doctors])
    by_doctor: dict[int, list] = defaultdict(list)
    for b in bookings:
        by_doctor[b.doctor_id].append(b)
    columns = []
    for d in doctors:
        if d.pk not in shifts and d.pk not in by_doctor:
            continue
        col = Column(d.pk, d.staff.full_name, shifts.get(d.pk, []), by_doctor.get(d.pk, []))
        held = [(b.start, b.end) for b in col.bookings if b.status in ACTIVE_STATUSES]
        # Time already gone is not free: a past gap could only fail when booked.
        held.append((lo, max(lo, min(hi, now))))
        tz = timezone.get_current_timezone()
        col.free = [
            FreeGap(s, e, s.astimezone(tz).strftime("%H:%M"), e.astimezone(tz).strftime("%H:%M"))
            for s, e in schedule.subtract(col.shifts, held)
            if e - s >= dt.timedelta(minutes=15)
        ]
        columns.append(col)
    return columns


@dataclass
class Card:
    """What a day-view card prints. Plain rows, not model instances: a 400-booking day would
    otherwise build 1,600 model objects, and the template filters (``time``,
    ``get_status_display``) cost more than the query. The person's encrypted fields are never
    read here."""

    pk: int
    start: dt.datetime
    end: dt.datetime
    status: str
    status_label: str
    overbooked: bool
    doctor_id: int
    chair_id: int | None
    chair_name: str
    member_name: str
    medical: bool
    service_label: str
    hm: str
    hm_end: str
    is_free: bool = False


def _cards(qs) -> list[Card]:
    labels = {value: str(label) for value, label in Status.choices}
    english = (get_language() or "").startswith("en")
    tz = timezone.get_current_timezone()
    rows = qs.values_list(
        "pk",
        "start",
        "end",
        "status",
        "overbooked",
        "doctor_id",
        "chair_id",
        "chair__name",
        "member__name",
        "member__has_medical_alerts",
        "service__name",
        "service__name_en",
    )
    return [
        Card(
            pk,
            start,
            end,
            status,
            labels.get(status, status),
            overbooked,
            doctor_id,
            chair_id,
            chair_name or "",
            member_name,
            medical,
            (name_en if english and name_en else name),
            start.astimezone(tz).strftime("%H:%M"),
            end.astimezone(tz).strftime("%H:%M"),
        )
        for pk, start, end, status, overbooked, doctor_id, chair_id, chair_name, member_name, medical, name, name_en in rows
    ]


def week_grid(
    branch: Branch, monday: dt.date, *, doctor_id: int | None = None
) -> tuple[list[dt.date], list[dict]]:
    days = [monday + dt.timedelta(days=i) for i in range(7)]
    lo, hi = schedule.day_bounds(days[0])[0], schedule.day_bounds(days[-1])[1]
    qs = (
        Appointment.objects.filter(branch=branch, start__gte=lo, start__lt=hi)
        .exclude(status__in=[Status.CANCELLED])
        .select_related("member", "service", "doctor__staff")
        .order_by("start")
    )
    if doctor_id:
        qs = qs.filter(doctor_id=doctor_id)
    doctors = {d.pk: d for d in schedule.doctors_for_branch(branch)}
    cells: dict[int, dict[dt.date, list]] = defaultdict(lambda: defaultdict(list))
    for b in qs:
        cells[b.doctor_id][timezone.localtime(b.start).date()].append(b)
    rows = []
    for pk, d in doctors.items():
        if doctor_id and pk != doctor_id:
            continue
        rows.append({"doctor": d, "days": [cells[pk].get(day, []) for day in days]})
    return days, rows


def appointment_list(
    user,
    *,
    branch: Branch | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    doctor_id: int | None = None,
    status: str = "",
    q: str = "",
) -> QuerySet[Appointment]:
    qs = appointments_for_user(user)
    if branch is not None:
        qs = qs.filter(branch=branch)
    if date_from:
        qs = qs.filter(start__gte=schedule.day_bounds(date_from)[0])
    if date_to:
        qs = qs.filter(start__lt=schedule.day_bounds(date_to)[1])
    if doctor_id:
        qs = qs.filter(doctor_id=doctor_id)
    if status:
        qs = qs.filter(status=status)
    if q:
        digits = "".join(ch for ch in q if ch.isdigit())
        cond = Q(member__name__icontains=q) | Q(member__pinyin_initials__startswith=q.lower())
        if len(digits) >= 4:
            cond |= Q(member__phone_digits__endswith=digits) | Q(member__phone_digits__startswith=digits)
        qs = qs.filter(cond)
    return qs.order_by("start", "id")


def today_board(branch: Branch, *, now: dt.datetime | None = None) -> dict[str, list]:
    """The front desk's board: expected, waiting (arrived, with minutes waited), in treatment,
    done, and the no-shows and cancellations of today."""
    now = now or timezone.now()
    lo, hi = schedule.day_bounds(timezone.localtime(now).date())
    rows = list(
        Appointment.objects.filter(branch=branch, start__gte=lo, start__lt=hi)
        .select_related(*_RELATED)
        .select_related("visit")
        .order_by("start", "id")
    )
    board: dict[str, list] = {"expected": [], "waiting": [], "in_treatment": [], "done": [], "missed": []}
    for b in rows:
        if b.status in (Status.BOOKED, Status.CONFIRMED):
            b.late_minutes = max(0, int((now - b.start).total_seconds() // 60))
            board["expected"].append(b)
        elif b.status == Status.ARRIVED:
            b.waited_minutes = max(0, int((now - (b.arrived_at or now)).total_seconds() // 60))
            board["waiting"].append(b)
        elif b.status == Status.IN_TREATMENT:
            board["in_treatment"].append(b)
        elif b.status == Status.COMPLETED:
            board["done"].append(b)
        else:
            board["missed"].append(b)
    return board


def visits_for_appointments(ids) -> dict[int, Visit]:
    return {v.appointment_id: v for v in Visit.objects.filter(appointment_id__in=list(ids))}


def member_visit_stats(member) -> dict:
    """First and last visit, number of visits and total spent, from checked-out visits."""
    from django.db.models import Count, Max, Min, Sum

    from .models import VisitStatus

    return Visit.objects.filter(member=member, status=VisitStatus.CHECKED_OUT).aggregate(
        first=Min("checked_out_at"), last=Max("checked_out_at"), count=Count("id"), total=Sum("amount_paid")
    )
