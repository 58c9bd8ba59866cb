"""Demo data for appointments, called by ``seed_demo``: chairs, doctors' weekly shifts at both
branches, today's bookings in every state and tomorrow's with reminders pending.

Idempotent: configuration is get-or-create; a day's bookings are made once (marked ``[demo]``
in their notes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from clinic import services as clinic_services
from clinic.models import Branch, Role, ServiceItem
from members.models import Member, MemberStatus

from . import checkout, schedule, services
from .models import Appointment, Chair, ShiftTemplate

DEMO = "[demo]"
PASSWORD = "Demo@2026"

# username, full name, branch codes (the foundation's "doctor" works at both)
DOCTORS = [
    ("doctor_li", "李慧", ["JA"]),
    ("doctor_zhang", "张伟", ["PD"]),
]
CHAIRS = {"JA": [("C1", "1号椅"), ("C2", "2号椅"), ("C3", "3号椅")], "PD": [("C1", "1号椅"), ("C2", "2号椅")]}
# username → {branch code: weekdays}; hours follow the branch's opening hours, with lunch.
SHIFTS = {
    "doctor": {"JA": [0, 2, 4, 5], "PD": [1, 3, 6]},
    "doctor_li": {"JA": [0, 1, 2, 3, 4, 5, 6]},
    "doctor_zhang": {"PD": [1, 2, 3, 4, 5, 6, 0]},
}
HOURS = {
    "JA": [(dt.time(9), dt.time(12)), (dt.time(13), dt.time(18))],
    "PD": [(dt.time(9, 30), dt.time(12)), (dt.time(13), dt.time(18))],
}

# Today's bookings per branch: (doctor slot index, time, service code, final state)
TODAY = [
    (dt.time(9, 30), "PV01", "completed"),
    (dt.time(10, 15), "EN01", "in_treatment"),
    (dt.time(11, 15), "EX01", "arrived"),
    (dt.time(13, 0), "PV02", "no_show"),
    (dt.time(14, 0), "EX02", "cancelled"),
    (dt.time(15, 0), "PV01", "confirmed"),
    (dt.time(16, 0), "EN01", "booked"),
]
TOMORROW = [
    (dt.time(9, 30), "PV01"),
    (dt.time(10, 30), "EX01"),
    (dt.time(14, 30), "EN02"),
    (dt.time(16, 0), "PV03"),
]

User = get_user_model()


def _doctor(username: str, full_name: str, branches: list[Branch]):
    user = User.objects.filter(username=username).first()
    if user is None:
        user = clinic_services.staff_create(
            actor=None,
            username=username,
            password=PASSWORD,
            full_name=full_name,
            role=Role.DOCTOR,
            branches=branches,
            job_title="主治医师",
        ).user
    return user


@transaction.atomic
def seed_appointments(*, branches: dict[str, Branch]) -> int:
    """Returns the number of bookings created."""
    for username, full_name, codes in DOCTORS:
        _doctor(username, full_name, [branches[c] for c in codes])
    for code, chairs in CHAIRS.items():
        for order, (ccode, name) in enumerate(chairs):
            Chair.objects.get_or_create(
                branch=branches[code], code=ccode, defaults={"name": name, "sort_order": order}
            )
    doctors = {u.username: u for u in User.objects.filter(username__in=SHIFTS)}
    for username, plan in SHIFTS.items():
        doctor = doctors.get(username)
        if doctor is None:
            continue
        for code, weekdays in plan.items():
            for weekday in weekdays:
                for starts, ends in HOURS[code]:
                    ShiftTemplate.objects.get_or_create(
                        doctor=doctor,
                        branch=branches[code],
                        weekday=weekday,
                        starts=starts,
                        defaults={"ends": ends},
                    )
    created = 0
    today = timezone.localdate()
    for branch in branches.values():
        created += _seed_day(branch, today, today_states=True)
        created += _seed_day(branch, today + dt.timedelta(days=1), today_states=False)
    return created


def _seed_day(branch: Branch, day: dt.date, *, today_states: bool) -> int:
    lo, hi = schedule.day_bounds(day)
    if Appointment.objects.filter(
        branch=branch, start__gte=lo, start__lt=hi, notes__startswith=DEMO
    ).exists():
        return 0
    shifts = schedule.shifts_for_day(branch, day)
    doctors = list(schedule.doctors_for_branch(branch).filter(pk__in=list(shifts)))
    people = list(Member.objects.filter(branch=branch, status=MemberStatus.ACTIVE).order_by("id")[:20])
    if not doctors or not people:
        return 0
    actor = User.objects.filter(staff__role=Role.FRONT_DESK, staff__branches=branch).first()
    chairs = list(Chair.objects.filter(branch=branch, is_active=True))
    items = {i.code: i for i in ServiceItem.objects.filter(is_active=True)}
    plan = TODAY if today_states else [(t, c, "booked") for t, c in TOMORROW]
    made = 0
    morning = schedule.local_dt(day, dt.time(8))
    for n, (at, item_code, state) in enumerate(plan):
        doctor = doctors[n % len(doctors)]
        start = schedule.local_dt(day, at)
        if not any(s <= start < e for s, e in shifts.get(doctor.pk, [])) or item_code not in items:
            continue
        try:
            appt = services.appointment_book(
                actor=actor,
                branch=branch,
                member=people[n % len(people)],
                service=items[item_code],
                doctor=doctor,
                chair=chairs[n % len(chairs)] if chairs else None,
                start=start,
                channel=["phone", "wechat", "web", "platform"][n % 4],
                notes=f"{DEMO} 演示预约",
                now=min(morning, timezone.now()),
            )
        except services.AppointmentError:
            continue
        made += 1
        _advance(appt, state, actor, items)
    return made


def _advance(appt: Appointment, state: str, actor, items) -> None:
    if state == "booked":
        return
    if state == "cancelled":
        services.appointment_cancel(
            actor=actor, appointment=appt, reason="客户临时出差，改天再约", notify=False
        )
        return
    if state == "no_show":
        services._transition(actor=None, appointment=appt, action="no_show")
        return
    appt = services.appointment_confirm(actor=actor, appointment=appt)
    if state == "confirmed":
        return
    appt = services.appointment_check_in(actor=actor, appointment=appt)
    if state == "arrived":
        return
    appt = services.appointment_start_treatment(actor=actor, appointment=appt)
    if state == "in_treatment":
        checkout.charge_line_add(
            actor=actor, visit=appt.visit, item=appt.service, teeth=[36] if appt.service.per_tooth else []
        )
        return
    visit = appt.visit
    checkout.charge_line_add(actor=actor, visit=visit, item=appt.service)
    if "PV02" in items:
        checkout.charge_line_add(actor=actor, visit=visit, item=items["PV02"])
    _lines, result = checkout.quote(visit=visit)
    checkout.visit_checkout(
        actor=actor,
        visit=visit,
        payments=[("wechat_pay", result.amount_due)] if result.amount_due > Decimal(0) else [],
        checkout_key=f"demo-{visit.pk}",
    )
