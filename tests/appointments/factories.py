from __future__ import annotations

import datetime as dt
import zoneinfo

from appointments import services
from appointments.models import Chair, ShiftTemplate
from clinic.models import Role
from tests.conftest import make_staff

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
# The tests live in the week of Monday 2026-12-07, frozen at 08:00 that Monday.
MONDAY = dt.date(2026, 12, 7)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """Local time ``day`` days after MONDAY."""
    d = MONDAY + dt.timedelta(days=day)
    return dt.datetime(d.year, d.month, d.day, hour, minute, tzinfo=TZ)


def make_doctor(branch, username: str, name: str | None = None, *, shifts=((9, 12), (13, 18)), days=range(7)):
    user = make_staff(Role.DOCTOR, [branch], username=username)
    if name:
        user.staff.full_name = name
        user.staff.save(update_fields=["full_name"])
    for weekday in days:
        for s, e in shifts:
            ShiftTemplate.objects.create(
                doctor=user, branch=branch, weekday=weekday, starts=dt.time(s), ends=dt.time(e)
            )
    return user


def make_chair(branch, code: str = "C1", name: str = "1号椅") -> Chair:
    return Chair.objects.get_or_create(branch=branch, code=code, defaults={"name": name})[0]


def book(actor, branch, member, service, doctor, start, **kwargs):
    kwargs.setdefault("channel", "phone")
    return services.appointment_book(
        actor=actor, branch=branch, member=member, service=service, doctor=doctor, start=start, **kwargs
    )
