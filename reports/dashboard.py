"""The branch manager's dashboard (docs/reports.md): today live, month to date against the
same days of last month and of the same month last year, the programme targets, a 30-day
chart, and the drill-down lists behind each tile."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import kpis, rollups

VIEW_PERM = "reports.view_branch_dashboard"
TODAY_TILES = ("bookings", "showed", "no_shows", "revenue", "new_people", "enrolments")
TODAY_LABELS = {
    "bookings": _("Bookings today"),
    "showed": _("Arrived"),
    "no_shows": _("No-shows"),
    "revenue": pgettext_lazy("KPI", "Revenue"),
    "new_people": pgettext_lazy("KPI", "New people"),
    "enrolments": pgettext_lazy("KPI", "New members"),
}
MONTH_KPIS = (
    "revenue",
    "visits",
    "new_people",
    "enrolments",
    "return_rate",
    "satisfaction",
    "no_show_rate",
    "complaint_sla",
    "recall_compliance",
    "followups_on_time",
    "points_liability",
    "coupon_redemption",
)


def _shift_month(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    y += day.year
    m += 1
    import calendar

    return dt.date(y, m, min(day.day, calendar.monthrange(y, m)[1]))


def periods(today: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    """Month to date and the same days of last month and of the month a year ago."""
    start = today.replace(day=1)
    end = today + dt.timedelta(days=1)
    span = (end - start).days

    def same(first: dt.date) -> tuple[dt.date, dt.date]:
        nxt = _shift_month(first, 1)
        return first, min(first + dt.timedelta(days=span), nxt)

    return {
        "mtd": (start, end),
        "last_month": same(_shift_month(start, -1)),
        "last_year": same(_shift_month(start, -12)),
    }


@dataclass
class Figure:
    code: str
    name: object
    kind: str
    value: Decimal | None
    last_month: Decimal | None = None
    last_year: Decimal | None = None
    drill: bool = True
    note: str = ""


def _kpi(code: str, sums: dict, lo, hi, branch_id) -> Decimal | None:
    kpi = kpis.KPIS[code]
    if code == "return_rate":
        returned, people = rollups.return_rate(lo, hi, branch_ids=[branch_id]).get(branch_id, (0, 0))
        return None if not people else (Decimal(returned) / Decimal(people)).quantize(Decimal("0.0001"))
    if code == "points_liability":
        return Decimal(rollups.points_liability(branch_ids=[branch_id]).get(branch_id, (0, None))[0])
    if code == "complaint_sla":
        on_time, due = rollups.complaint_sla(lo, hi, branch_ids=[branch_id]).get(branch_id, (0, 0))
        return None if not due else (Decimal(on_time) / Decimal(due)).quantize(Decimal("0.0001"))
    return rollups.kpi_value(kpi, sums)


def kind_of(kpi: kpis.KPI) -> str:
    """How a KPI's figure is written: ratio, money or count."""
    if kpi.kind == "ratio" or kpi.code in ("return_rate", "complaint_sla"):
        return "ratio"
    return "money" if kpi.kind == "money" else "count"


def branch_dashboard(branch, *, today: dt.date | None = None) -> dict:
    with rollups.memoized():
        return _branch_dashboard(branch, today=today)


def _branch_dashboard(branch, *, today: dt.date | None = None) -> dict:
    today = today or timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    day_sums = rollups.figures(today, tomorrow, branch_ids=[branch.pk], today=today).get(branch.pk, {})
    waiting = rollups.waiting_now(branch_ids=[branch.pk])
    tiles = [
        Figure(
            code,
            TODAY_LABELS[code],
            "money" if code == "revenue" else "count",
            day_sums.get(code, Decimal(0)),
        )
        for code in TODAY_TILES
    ]
    tiles.insert(3, Figure("waiting", _("Waiting now"), "count", Decimal(len(waiting))))
    ranges = periods(today)
    rollups.prefetch([*ranges.values(), *_quarters(today)], branch_ids=[branch.pk], today=today)
    rollups.prefetch_live([*ranges.values(), *_years(today)], branch_ids=[branch.pk])
    sums = {
        name: rollups.figures(lo, hi, branch_ids=[branch.pk], today=today).get(branch.pk, {})
        for name, (lo, hi) in ranges.items()
    }
    month = []
    for code in MONTH_KPIS:
        kpi = kpis.KPIS[code]
        values = {name: _kpi(code, sums[name], *ranges[name], branch.pk) for name in ranges}
        live_only = code == "points_liability"
        month.append(
            Figure(
                code,
                kpi.name,
                kind_of(kpi),
                values["mtd"],
                None if live_only else values["last_month"],
                None if live_only else values["last_year"],
                drill=kpi.available and code not in ("return_rate", "points_liability"),
            )
        )
    return {
        "today": today,
        "tiles": tiles,
        "month": month,
        "periods": ranges,
        "targets": targets(branch, today=today),
        "chart": daily_series(branch, today=today),
    }


def targets(branch, *, today: dt.date) -> list[dict]:
    """The three programme targets of seed 001, each as progress against its target."""
    out = []
    # New people: quarter to date against the same days of the last quarter, target +10 %.
    (q_start, end), (prev_start, prev_end) = _quarters(today)
    now = (
        rollups.figures(q_start, end, branch_ids=[branch.pk], today=today)
        .get(branch.pk, {})
        .get("new_people", 0)
    )
    before = (
        rollups.figures(prev_start, prev_end, branch_ids=[branch.pk], today=today)
        .get(branch.pk, {})
        .get("new_people", 0)
    )
    growth = None if not before else (Decimal(now) - Decimal(before)) / Decimal(before)
    out.append(_target("new_people", _("New people this quarter vs last quarter"), growth, Decimal("0.10")))
    # 复诊率: this year to date against the same days of last year, target +20 % (relative).
    this_year, last_year = _years(today)
    r_now = rollups.return_rate(*this_year, branch_ids=[branch.pk]).get(branch.pk)
    r_before = rollups.return_rate(*last_year, branch_ids=[branch.pk]).get(branch.pk)
    rate_now = None if not r_now or not r_now[1] else Decimal(r_now[0]) / Decimal(r_now[1])
    rate_before = None if not r_before or not r_before[1] else Decimal(r_before[0]) / Decimal(r_before[1])
    lift = None if rate_now is None or not rate_before else (rate_now - rate_before) / rate_before
    out.append(_target("return_rate", _("Return-visit rate this year vs last year"), lift, Decimal("0.20")))
    # Satisfaction: month to date, target 90 %.
    lo, hi = periods(today)["mtd"]
    s = rollups.figures(lo, hi, branch_ids=[branch.pk], today=today).get(branch.pk, {})
    sat = rollups.kpi_value(kpis.KPIS["satisfaction"], s)
    out.append(_target("satisfaction", _("Satisfaction this month"), sat, Decimal("0.90")))
    return out


def _quarters(today: dt.date) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """This quarter to date, and the same days of the last quarter."""
    q_start = dt.date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    end = today + dt.timedelta(days=1)
    prev_start = _shift_month(q_start, -3)
    return (q_start, end), (prev_start, prev_start + (end - q_start))


def _years(today: dt.date) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """This year to date, and the same days of last year."""
    end = today + dt.timedelta(days=1)
    y_start = today.replace(month=1, day=1)
    ly_end = (
        end.replace(year=end.year - 1)
        if not (end.month == 2 and end.day == 29)
        else dt.date(end.year - 1, 3, 1)
    )
    return (y_start, end), (y_start.replace(year=y_start.year - 1), ly_end)


def warm_shared(today: dt.date | None = None) -> None:
    """Recompute the live figures the dashboards share that read whole tables (复诊率 of
    each period the dashboards show, points liability), so that no manager waits for them:
    run by the rollup job after each refresh (``rollups.shared_live``)."""
    today = today or timezone.localdate()
    for lo, hi in {*periods(today).values(), *_years(today)}:
        rollups.return_rate(lo, hi, refresh=True)
    rollups.points_liability(refresh=True)


def _target(code, label, value, target) -> dict:
    progress = None
    if value is not None:
        progress = max(0, min(100, int(value / target * 100))) if target else None
    return {"code": code, "label": label, "value": value, "target": target, "progress": progress}


def daily_series(branch, *, today: dt.date, days: int = 30) -> list[dict]:
    """Revenue, visits and bookings per day of the last ``days`` days (today live)."""
    from .rollup_models import DailyRollup

    lo = today - dt.timedelta(days=days - 1)
    rows = {}
    for day, metric, value in DailyRollup.objects.filter(
        branch=branch, day__gte=lo, day__lt=today, dimension="", metric__in=("revenue", "visits", "bookings")
    ).values_list("day", "metric", "value"):
        rows.setdefault(day, {})[metric] = value
    live = rollups.figures(today, today + dt.timedelta(days=1), branch_ids=[branch.pk], today=today).get(
        branch.pk, {}
    )
    rows[today] = {k: live.get(k, Decimal(0)) for k in ("revenue", "visits", "bookings")}
    out = []
    for i in range(days):
        d = lo + dt.timedelta(days=i)
        r = rows.get(d, {})
        out.append(
            {
                "day": d,
                "revenue": r.get("revenue", Decimal(0)),
                "visits": int(r.get("visits", 0)),
                "bookings": int(r.get("bookings", 0)),
            }
        )
    return out
