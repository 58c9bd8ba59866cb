"""The daily rollups (docs/reports.md): refresh and read.

``rollup_refresh`` rebuilds every local day before today that a change touched since the
last run (found from the rows' own timestamps), plus the last ``REPORTS_ROLLUP_TRAILING_DAYS``
days (changes that carry no timestamp, such as a rescheduled appointment). ``figures`` reads
the rollups for the days before today and computes today live, so a dashboard shows today as
it is and history at the cost of reading small rows."""

from __future__ import annotations

import contextvars
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import db, kpis
from .rollup_models import DailyRollup, RollupState

STATE = "daily"


def _params(lo: dt.date, hi: dt.date) -> dict:
    start, end = kpis.period_bounds(lo, hi)
    return {"lo": start, "hi": end, "tz": settings.TIME_ZONE}


_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("reports_memo", default=None)


@contextmanager
def memoized():
    """Within the block, a live figure asked for twice (a dashboard asks for today's several
    times: tiles, each period, the targets, the chart) is read from the database once."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def _memoized(key, compute):
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def live(code: str, lo: dt.date, hi: dt.date, *, dimension: str = "", branch_ids=None) -> dict:
    """{(branch_id, day, key): value} of one metric over [lo, hi), from the base tables."""
    key = ("live", code, lo, hi, dimension, tuple(branch_ids) if branch_ids is not None else None)
    return _memoized(key, lambda: _live(code, lo, hi, dimension, branch_ids))


def _live(code: str, lo: dt.date, hi: dt.date, dimension: str, branch_ids) -> dict:
    sql = kpis.metric_sql(code, dimension)
    params = _params(lo, hi)
    if branch_ids is not None:
        sql = f"SELECT * FROM ({sql}) AS q WHERE q.branch_id = ANY(%(branches)s)"
        params["branches"] = list(branch_ids)
    with db.read_cursor() as cursor:
        cursor.execute(sql, params)
        return {(b, d, k): Decimal(v) for b, d, k, v in cursor.fetchall()}


def _dirty_days(since: dt.datetime) -> set[dt.date]:
    """Local days whose figures a change stamped after ``since`` may have moved."""
    t = kpis._tables()
    day = "({} AT TIME ZONE %(tz)s)::date"
    parts = [
        f"SELECT {day.format('checked_out_at')} FROM {t['visit']} "
        "WHERE checked_out_at IS NOT NULL AND (checked_out_at > %(s)s OR voided_at > %(s)s)",
        f"SELECT {day.format('a.start')} FROM {t['appt']} a WHERE GREATEST(a.created_at, a.confirmed_at, "
        "a.arrived_at, a.treatment_started_at, a.completed_at, a.cancelled_at, a.no_show_at) > %(s)s",
        f"SELECT {day.format('created_at')} FROM {t['member']} WHERE updated_at > %(s)s OR created_at > %(s)s",
        f"SELECT {day.format('enrolled_at')} FROM {t['membership']} WHERE enrolled_at > %(s)s",
        f"SELECT visit_on FROM {t['survey']} WHERE answered_at > %(s)s",
        f"SELECT due_on FROM {t['task']} WHERE kind = 'followup' AND (created_at > %(s)s OR closed_at > %(s)s)",
        f"SELECT kept_on FROM {t['keep']} WHERE created_at > %(s)s OR voided_at > %(s)s",
        f"SELECT {day.format('issued_at')} FROM {t['coupon']} WHERE issued_at > %(s)s OR voided_at > %(s)s",
        f"SELECT {day.format('used_at')} FROM {t['coupon']} WHERE used_at > %(s)s OR voided_at > %(s)s",
    ]
    sql = " UNION ".join(f"({p})" for p in parts)
    with db.read_cursor() as cursor:
        cursor.execute(sql, {"s": since, "tz": settings.TIME_ZONE})
        return {row[0] for row in cursor.fetchall() if row[0] is not None}


def _ranges(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    out: list[tuple[dt.date, dt.date]] = []
    for d in sorted(set(days)):
        if out and out[-1][1] == d:
            out[-1] = (out[-1][0], d + dt.timedelta(days=1))
        else:
            out.append((d, d + dt.timedelta(days=1)))
    return out


def rebuild(lo: dt.date, hi: dt.date) -> int:
    """Replace the rollups of the local days [lo, hi) with figures from the base tables."""
    rows = []
    for code, metric in kpis.METRICS.items():
        for dimension in ("", *metric.dimensions):
            for (branch_id, day, key), value in live(code, lo, hi, dimension=dimension).items():
                rows.append(
                    DailyRollup(
                        branch_id=branch_id,
                        day=day,
                        metric=code,
                        dimension=dimension,
                        key=key or "",
                        value=value,
                    )
                )
    with transaction.atomic():
        DailyRollup.objects.filter(day__gte=lo, day__lt=hi).delete()
        DailyRollup.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def rollup_refresh(*, full: bool = False, today: dt.date | None = None) -> int:
    """The incremental refresh (every ten minutes on the beat). ``full`` rebuilds all history.
    Returns how many rollup rows were written."""
    today = today or timezone.localdate()
    started = timezone.now()
    with transaction.atomic():
        state, created = RollupState.objects.select_for_update().get_or_create(
            name=STATE, defaults={"watermark": started}
        )
        if full or created:
            first = _first_day()
            days = {first + dt.timedelta(days=i) for i in range((today - first).days)} if first else set()
        else:
            days = _dirty_days(state.watermark - dt.timedelta(minutes=5))  # slack for slow commits
            trailing = getattr(settings, "REPORTS_ROLLUP_TRAILING_DAYS", 7)
            days |= {today - dt.timedelta(days=i) for i in range(1, trailing + 1)}
        written = sum(rebuild(lo, hi) for lo, hi in _ranges(d for d in days if d < today))
        state.watermark = started
        state.save(update_fields=["watermark"])
    return written


def _first_day() -> dt.date | None:
    t = kpis._tables()
    with db.read_cursor() as cursor:
        cursor.execute(
            f"SELECT LEAST((SELECT min(created_at) FROM {t['member']}), (SELECT min(start) FROM {t['appt']}), "
            f"(SELECT min(checked_out_at) FROM {t['visit']}))"
        )
        first = cursor.fetchone()[0]
    if first is None:
        return None
    return min(timezone.localtime(first).date(), timezone.localdate())


def figures(lo: dt.date, hi: dt.date, *, branch_ids=None, today: dt.date | None = None) -> dict:
    """{branch_id: {metric: value}} over the local days [lo, hi): rollups for the days before
    today, live figures for today."""
    today = today or timezone.localdate()
    out: dict = defaultdict(lambda: defaultdict(Decimal))
    past_hi = min(hi, today)
    branches = tuple(branch_ids) if branch_ids is not None else None
    if lo < past_hi:
        for (branch_id, metric), total in _memoized(
            ("rolled", lo, past_hi, branches), lambda: _rolled(lo, past_hi, branches)
        ).items():
            out[branch_id][metric] += total
    if lo <= today < hi:
        for code, rows in live_totals(today, today + dt.timedelta(days=1), branch_ids=branches).items():
            for (branch_id, _day, _key), value in rows.items():
                out[branch_id][code] += value
    return out


def _rolled(lo: dt.date, hi: dt.date, branches) -> dict:
    from django.db.models import Sum

    qs = DailyRollup.objects.filter(day__gte=lo, day__lt=hi, dimension="")
    if branches is not None:
        qs = qs.filter(branch_id__in=list(branches))
    return {
        (row["branch_id"], row["metric"]): row["total"]
        for row in qs.values("branch_id", "metric").annotate(total=Sum("value"))
    }


def prefetch(
    ranges: Iterable[tuple[dt.date, dt.date]], *, branch_ids=None, today: dt.date | None = None
) -> None:
    """Within ``memoized()``: read the rolled-up sums of several periods in one pass over the
    rollups (a FILTER per period), so that each ``figures`` call after it reads no rollups.
    A page that shows a month against last month and last year asks for all three at once."""
    memo = _memo.get()
    if memo is None:
        return
    today = today or timezone.localdate()
    branches = tuple(branch_ids) if branch_ids is not None else None
    wanted = sorted({(lo, min(hi, today)) for lo, hi in ranges if lo < min(hi, today)})
    wanted = [r for r in wanted if ("rolled", *r, branches) not in memo]
    if not wanted:
        return
    params: dict = {"lo": min(lo for lo, _ in wanted), "hi": max(hi for _, hi in wanted)}
    sums = []
    for i, (lo, hi) in enumerate(wanted):
        params[f"lo{i}"], params[f"hi{i}"] = lo, hi
        sums.append(f"sum(value) FILTER (WHERE day >= %(lo{i})s AND day < %(hi{i})s)")
    where = ""
    if branches is not None:
        where = "AND branch_id = ANY(%(branches)s)"
        params["branches"] = list(branches)
    sql = (
        f"SELECT branch_id, metric, {', '.join(sums)} FROM {DailyRollup._meta.db_table} "
        f"WHERE dimension = '' AND day >= %(lo)s AND day < %(hi)s {where} GROUP BY 1, 2"
    )
    found: list[dict] = [{} for _ in wanted]
    with db.read_cursor() as cursor:
        cursor.execute(sql, params)
        for branch_id, metric, *totals in cursor.fetchall():
            for i, total in enumerate(totals):
                if total is not None:
                    found[i][(branch_id, metric)] = total
    for (lo, hi), rows in zip(wanted, found, strict=True):
        memo[("rolled", lo, hi, branches)] = rows


def live_totals(lo: dt.date, hi: dt.date, *, branch_ids=None) -> dict:
    """{metric: {(branch_id, day, ''): value}} of every metric's total over [lo, hi), from
    the base tables in one round trip (a UNION ALL of the metrics' own SQL)."""
    branches = tuple(branch_ids) if branch_ids is not None else None
    return _memoized(("live_totals", lo, hi, branches), lambda: _live_totals(lo, hi, branches))


def _live_totals(lo: dt.date, hi: dt.date, branches) -> dict:
    params = _params(lo, hi)
    where = ""
    if branches is not None:
        where = " WHERE q.branch_id = ANY(%(branches)s)"
        params["branches"] = list(branches)
    parts = [
        f"SELECT '{code}' AS metric, q.* FROM ({kpis.metric_sql(code)}) AS q{where}" for code in kpis.METRICS
    ]
    out: dict = {code: {} for code in kpis.METRICS}
    with db.read_cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for metric, b, d, k, v in cursor.fetchall():
            out[metric][(b, d, k)] = Decimal(v)
    return out


def kpi_value(kpi: kpis.KPI, sums: dict) -> Decimal | None:
    """A KPI from summed metrics; None means "no data" (shown as such, never as 0)."""
    if kpi.numerator is None:
        return None
    num = sums.get(kpi.numerator, Decimal(0))
    if kpi.kind != "ratio":
        return num
    den = sums.get(kpi.denominator, Decimal(0))
    return None if not den else (num / den).quantize(Decimal("0.0001"))


def return_rate(
    lo: dt.date, hi: dt.date, *, branch_ids=None, months: int | None = None, refresh: bool = False
) -> dict:
    """复诊率 from the visits: {branch_id: (returned, people)} for people with a checked-out
    visit in [lo, hi) who have another within ``months`` after (a visit's branch counts).

    One pass over the visits of [lo, hi + months): for each visit, the next strictly later
    checkout of the same person (at any branch) by a window frame, instead of a correlated
    lookup per visit. The pass reads every branch's visits whichever branches are asked for
    (the next visit may be at any branch), so it is made for all branches and shared
    (``shared_live``); ``refresh`` recomputes it (the rollup job keeps the dashboards' periods
    warm, so no manager waits for it)."""
    months = months or getattr(settings, "REPORTS_RETURN_MONTHS", 6)
    every = _memoized(
        ("return_rate", lo, hi, months, refresh),
        lambda: shared_live(
            f"reports:return_rate:{lo}:{hi}:{months}:all",
            lambda: _return_rate(lo, hi, None, months),
            refresh=refresh,
        ),
    )
    if branch_ids is None:
        return every
    wanted = set(branch_ids)
    return {b: v for b, v in every.items() if b in wanted}


def shared_live(key: str, compute, *, refresh: bool = False) -> dict:
    """``compute()`` — {branch_id: (int, int)} — shared between viewers for
    ``REPORTS_LIVE_CACHE_SECONDS`` (default 600, the rollups' own cadence; 0 turns it off):
    for the live figures that read a whole table, not a day. Kept in the database
    (``SharedFigure``), so a dashboard stays fast with Redis away. ``refresh`` recomputes it
    and keeps it for twice that time (the rollup job, every ten minutes, stays ahead of it)."""
    from .rollup_models import SharedFigure

    ttl = getattr(settings, "REPORTS_LIVE_CACHE_SECONDS", 600)
    if not ttl:
        return compute()
    now = timezone.now()
    memo = _memo.get()
    if not refresh and memo is not None and ("shared", key) in memo:
        return memo[("shared", key)]
    if not refresh:
        found = (
            SharedFigure.objects.using(db.read_alias())
            .filter(key=key, valid_until__gt=now)
            .values_list("value", flat=True)
            .first()
        )
        if found is not None:
            return {b: tuple(v) for b, v in found}
    value = compute()
    row = SharedFigure(
        key=key,
        value=[[b, list(v)] for b, v in value.items()],
        computed_at=now,
        valid_until=now + dt.timedelta(seconds=ttl * (2 if refresh else 1)),
    )
    SharedFigure.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["value", "computed_at", "valid_until"],
    )
    return value


def shared_purge(*, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Drop shared figures that expired long ago (their periods have moved on)."""
    from .rollup_models import SharedFigure

    return SharedFigure.objects.filter(valid_until__lt=timezone.now() - older_than).delete()[0]


def _return_rate(lo, hi, branch_ids, months) -> dict:
    t = kpis._tables()
    params = _params(lo, hi) | {"months": f"{int(months)} months"}
    where = ""
    if branch_ids is not None:
        where = "AND x.branch_id = ANY(%(branches)s)"
        params["branches"] = list(branch_ids)
    sql = f"""
        SELECT x.branch_id, count(DISTINCT x.member_id) FILTER (WHERE x.next_at <= x.checked_out_at + %(months)s::interval),
               count(DISTINCT x.member_id)
        FROM (
            SELECT v.branch_id, v.member_id, v.checked_out_at,
                   min(v.checked_out_at) OVER (PARTITION BY v.member_id ORDER BY v.checked_out_at
                       RANGE BETWEEN '1 microsecond'::interval FOLLOWING AND UNBOUNDED FOLLOWING) AS next_at
            FROM {t["visit"]} v
            WHERE v.status = 'checked_out' AND v.checked_out_at >= %(lo)s
              AND v.checked_out_at < %(hi)s::timestamptz + %(months)s::interval
        ) x
        WHERE x.checked_out_at >= %(lo)s AND x.checked_out_at < %(hi)s {where}
        GROUP BY 1"""
    with db.read_cursor() as cursor:
        cursor.execute(sql, params)
        return {b: (r, n) for b, r, n in cursor.fetchall()}


def complaint_sla(lo: dt.date, hi: dt.date, *, branch_ids=None) -> dict:
    """{branch_id: (on_time, due)}: complaints whose proposal deadline (the end of a working
    day, moved by pauses) falls on a local day in [lo, hi), and how many had a resolution
    proposed by then."""
    branches = tuple(branch_ids) if branch_ids is not None else None
    return _memoized(
        ("complaint_sla", lo, hi, branches), lambda: _complaint_sla([(lo, hi)], branches)[(lo, hi)]
    )


def _complaint_sla(ranges: list[tuple[dt.date, dt.date]], branches) -> dict:
    """{(lo, hi): {branch_id: (on_time, due)}} of several periods in one pass."""
    from django.db.models import Count, F, Q

    from complaints.models import Complaint

    bounds = [kpis.period_bounds(lo, hi) for lo, hi in ranges]
    qs = Complaint.objects.using(db.read_alias()).filter(
        proposal_due_at__gt=min(b[0] for b in bounds), proposal_due_at__lte=max(b[1] for b in bounds)
    )
    # A deadline still ahead counts once it is met (proposed) or missed (passed).
    qs = qs.filter(Q(proposal_due_at__lte=timezone.now()) | Q(proposed_at__isnull=False))
    if branches is not None:
        qs = qs.filter(branch_id__in=list(branches))
    counts = {}
    for i, (start, end) in enumerate(bounds):
        within = Q(proposal_due_at__gt=start, proposal_due_at__lte=end)
        counts[f"due{i}"] = Count("id", filter=within)
        counts[f"on_time{i}"] = Count("id", filter=within & Q(proposed_at__lte=F("proposal_due_at")))
    out: dict = {r: {} for r in ranges}
    for row in qs.values("branch_id").annotate(**counts):
        for i, r in enumerate(ranges):
            if row[f"due{i}"]:
                out[r][row["branch_id"]] = (row[f"on_time{i}"], row[f"due{i}"])
    return out


def prefetch_live(
    ranges: Iterable[tuple[dt.date, dt.date]], *, branch_ids=None, months: int | None = None
) -> None:
    """Within ``memoized()``: the complaint deadlines of several periods in one pass, and the
    shared live figures (复诊率 of each period, points liability) in one lookup, so that a
    page showing a month against last month and last year asks the database twice, not
    once per period and figure."""
    from .rollup_models import SharedFigure

    memo = _memo.get()
    if memo is None:
        return
    ranges = sorted(set(ranges))
    branches = tuple(branch_ids) if branch_ids is not None else None
    for r, value in _complaint_sla(ranges, branches).items():
        memo[("complaint_sla", *r, branches)] = value
    if not getattr(settings, "REPORTS_LIVE_CACHE_SECONDS", 600):
        return
    months = months or getattr(settings, "REPORTS_RETURN_MONTHS", 6)
    keys = [f"reports:return_rate:{lo}:{hi}:{months}:all" for lo, hi in ranges]
    keys.append("reports:points_liability:all")
    found = SharedFigure.objects.using(db.read_alias()).filter(key__in=keys, valid_until__gt=timezone.now())
    for key, value in found.values_list("key", "value"):
        memo[("shared", key)] = {b: tuple(v) for b, v in value}


def points_liability(*, branch_ids=None, refresh: bool = False) -> dict:
    """{branch_id: (points, yuan or None)} held now in open accounts, by the person's branch:
    a sum over every account, made for all branches and shared like 复诊率."""
    every = _memoized(
        ("points_liability", refresh),
        lambda: shared_live("reports:points_liability:all", _points_liability, refresh=refresh),
    )
    value = getattr(settings, "REPORTS_POINT_VALUE_YUAN", None)
    return {
        b: (pts, None if value is None else Decimal(str(value)) * pts)
        for b, (pts,) in every.items()
        if branch_ids is None or b in set(branch_ids)
    }


def _points_liability() -> dict:
    from django.db.models import Sum

    from loyalty.models import PointsAccount

    rows = (
        PointsAccount.objects.using(db.read_alias())
        .filter(is_open=True)
        .values("member__branch_id")
        .annotate(points=Sum("balance"))
    )
    return {r["member__branch_id"]: (r["points"] or 0,) for r in rows}


def waiting_now(*, branch_ids=None):
    """Appointments arrived and not yet in treatment, longest wait first (live)."""
    from appointments.models import Appointment

    qs = Appointment.objects.filter(status="arrived", arrived_at__isnull=False)
    if branch_ids is not None:
        qs = qs.filter(branch_id__in=list(branch_ids))
    return list(qs.select_related("member").order_by("arrived_at"))
