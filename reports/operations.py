"""Operations analysis (docs/reports.md, "Operations"; seed 003 减少客户等待时间): how long
people wait from arrival to the start of treatment, by hour of arrival and by doctor; chair
utilisation by weekday; no-shows by booking channel and weekday. Read from the base tables
for one branch and a period of local days."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.conf import settings

from . import db, kpis

_SHOWED = "status IN ('arrived', 'in_treatment', 'completed')"
# Bookings that hold a chair (appointments.models.ACTIVE_STATUSES).
_HOLDS_CHAIR = "status IN ('booked', 'confirmed', 'arrived', 'in_treatment', 'completed')"


def _params(branch, lo: dt.date, hi: dt.date) -> dict:
    start, end = kpis.period_bounds(lo, hi)
    return {"b": branch.pk, "lo": start, "hi": end, "tz": settings.TIME_ZONE}


def _minutes(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.1"))


def waiting(branch, lo: dt.date, hi: dt.date) -> dict:
    """{"by_hour": [...], "by_doctor": [...], "overall": {...}}: waits in minutes (mean,
    median, 90th percentile) of people who arrived in the period and whose treatment started."""
    t = kpis._tables()
    wait = "extract(epoch FROM a.treatment_started_at - a.arrived_at) / 60.0"
    base = (
        f"FROM {t['appt']} a WHERE a.branch_id = %(b)s AND a.arrived_at >= %(lo)s AND a.arrived_at < %(hi)s "
        "AND a.treatment_started_at IS NOT NULL AND a.treatment_started_at >= a.arrived_at"
    )
    figures = (
        f"count(*), avg({wait}), percentile_cont(0.5) WITHIN GROUP (ORDER BY {wait}), "
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {wait})"
    )
    params = _params(branch, lo, hi)
    out: dict = {}
    with db.read_cursor() as cursor:
        cursor.execute(f"SELECT {figures} {base}", params)
        n, mean, median, p90 = cursor.fetchone()
        out["overall"] = {"n": n, "mean": _minutes(mean), "median": _minutes(median), "p90": _minutes(p90)}
        cursor.execute(
            f"SELECT extract(hour FROM a.arrived_at AT TIME ZONE %(tz)s)::int AS h, {figures} {base} "
            "GROUP BY 1 ORDER BY 1",
            params,
        )
        out["by_hour"] = [
            {"hour": h, "n": n, "mean": _minutes(m), "median": _minutes(md), "p90": _minutes(p)}
            for h, n, m, md, p in cursor.fetchall()
        ]
        cursor.execute(f"SELECT a.doctor_id, {figures} {base} GROUP BY 1", params)
        rows = cursor.fetchall()
    names = _names({r[0] for r in rows})
    out["by_doctor"] = sorted(
        (
            {
                "doctor": names.get(d, "—"),
                "n": n,
                "mean": _minutes(m),
                "median": _minutes(md),
                "p90": _minutes(p),
            }
            for d, n, m, md, p in rows
        ),
        key=lambda r: (-(r["median"] or 0), r["doctor"]),
    )
    return out


def _names(user_ids) -> dict:
    from clinic.models import StaffProfile

    return dict(StaffProfile.objects.filter(user_id__in=user_ids).values_list("user_id", "full_name"))


def no_shows(branch, lo: dt.date, hi: dt.date) -> dict:
    """No-show rate (no-shows ÷ appointments that are over) by booking channel × weekday."""
    t = kpis._tables()
    sql = f"""
        SELECT a.channel, extract(isodow FROM a.start AT TIME ZONE %(tz)s)::int - 1 AS wd,
               count(*) FILTER (WHERE a.status = 'no_show'),
               count(*) FILTER (WHERE a.{_SHOWED} OR a.status = 'no_show')
        FROM {t["appt"]} a
        WHERE a.branch_id = %(b)s AND a.start >= %(lo)s AND a.start < %(hi)s
        GROUP BY 1, 2"""
    with db.read_cursor() as cursor:
        cursor.execute(sql, _params(branch, lo, hi))
        rows = cursor.fetchall()
    cells: dict = defaultdict(lambda: [0, 0])
    channels: dict = defaultdict(lambda: [0, 0])
    weekdays: dict = defaultdict(lambda: [0, 0])
    for channel, wd, missed, over in rows:
        for key, table in (((channel, wd), cells), (channel, channels), (wd, weekdays)):
            table[key][0] += missed
            table[key][1] += over
    return {"cells": dict(cells), "channels": dict(channels), "weekdays": dict(weekdays)}


def chair_use(branch, lo: dt.date, hi: dt.date, *, today: dt.date | None = None) -> dict:
    """Booked chair minutes ÷ open chair minutes (active chairs × opening hours), by weekday,
    over the days of the period up to today."""
    from appointments.models import Chair
    from clinic.models import OpeningHours

    t = kpis._tables()
    hours = {h.weekday: h for h in OpeningHours.objects.filter(branch=branch)}
    chairs = Chair.objects.filter(branch=branch, is_active=True).count()
    from django.utils import timezone

    today = today or timezone.localdate()  # the clinic's day, not the server's
    last = min(hi, today + dt.timedelta(days=1))
    open_minutes: dict = defaultdict(int)
    day = lo
    while day < last:
        h = hours.get(day.weekday())
        if h:
            span = dt.datetime.combine(day, h.closes) - dt.datetime.combine(day, h.opens)
            open_minutes[day.weekday()] += chairs * int(span.total_seconds() // 60)
        day += dt.timedelta(days=1)
    sql = f"""
        SELECT extract(isodow FROM a.start AT TIME ZONE %(tz)s)::int - 1,
               sum(extract(epoch FROM a."end" - a.start) / 60.0)
        FROM {t["appt"]} a
        WHERE a.branch_id = %(b)s AND a.chair_id IS NOT NULL AND a.{_HOLDS_CHAIR}
          AND a.start >= %(lo)s AND a.start < %(hi)s
        GROUP BY 1"""
    params = _params(branch, lo, last) if lo < last else _params(branch, lo, lo)
    with db.read_cursor() as cursor:
        cursor.execute(sql, params)
        booked = {wd: Decimal(m or 0) for wd, m in cursor.fetchall()}
    rows = []
    for wd in range(7):
        available = open_minutes.get(wd, 0)
        used = booked.get(wd, Decimal(0))
        rows.append(
            {
                "weekday": wd,
                "booked_hours": (used / 60).quantize(Decimal("0.1")),
                "open_hours": Decimal(available / 60).quantize(Decimal("0.1")),
                "rate": None if not available else (used / available).quantize(Decimal("0.0001")),
            }
        )
    total_open = sum(open_minutes.values())
    total_used = sum(booked.values(), Decimal(0))
    return {
        "chairs": chairs,
        "rows": rows,
        "rate": None if not total_open else (total_used / total_open).quantize(Decimal("0.0001")),
    }
