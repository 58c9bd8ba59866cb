"""The funnel (docs/marketing.md): consultation → booked → arrived → paid visit → enrolled,
by channel, consultant, partner or month (or one of them × month), with counts, conversion
rates, revenue and the median calendar days between stages.

The stage dates and revenue are kept on each consultation by the services, so no visit or
booking is joined at read time. Whole past months come from a monthly rollup
(``FunnelMonth``: counts, revenue and day-lag histograms per branch × month for each
channel, each consultant and each partner), rebuilt for every month a database trigger marked dirty; the rest
(the current month, the edges of the period, dirty months) is aggregated live over the
``consult_funnel`` covering index. Medians are exact, from the merged histograms (lags past
``LAG_CAP`` days count at the cap); "calendar days" until clinic/workdays.py exists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from clinic.selectors import user_branch_ids

from .consultations import FUNNEL_PERM

STAGES = ("consultations", "booked", "arrived", "paid", "enrolled")
DIMENSIONS = {
    "channel": "c.channel_id",
    "consultant": "c.consultant_id",
    "partner": "c.partner_id",
    "month": None,
}
# stage → the date column that says a consultation reached it
STAGE_COLUMNS = {
    "consultations": '"on"',
    "booked": "booked_on",
    "arrived": "arrived_on",
    "paid": "paid_on",
    "enrolled": "enrolled_on",
}


@dataclass
class FunnelRow:
    key: int | None
    month: dt.date | None
    counts: dict[str, int]
    revenue: Decimal
    medians: dict[str, float | None]
    label: str = ""
    rates: dict[str, float | None] = field(default_factory=dict)

    def __post_init__(self):
        n = self.counts["consultations"]
        prev = "consultations"
        for stage in STAGES[1:]:
            self.rates[stage] = (self.counts[stage] / n * 100) if n else None
            # step rate: of those who reached the previous stage
            self.rates[f"{stage}_step"] = (
                self.counts[stage] / self.counts[prev] * 100 if self.counts[prev] else None
            )
            prev = stage


LAG_CAP = 90
# stage → its lag in calendar days from the previous stage
LAG_EXPRESSIONS = {
    "booked": 'c.booked_on - c."on"',
    "arrived": "c.arrived_on - c.booked_on",
    "paid": "c.paid_on - c.arrived_on",
    "enrolled": "c.enrolled_on - c.paid_on",
}
# GROUPING(l_booked, l_arrived, l_paid, l_enrolled) of each grouping set
_TOTALS, _LAG_SETS = 15, {7: "booked", 11: "arrived", 13: "paid", 14: "enrolled"}


@dataclass
class _Acc:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    revenue: Decimal = Decimal(0)
    lags: dict[str, dict[int, int]] = field(default_factory=lambda: {s: {} for s in STAGES[1:]})

    def add_counts(self, counts, revenue) -> None:
        for stage, n in zip(STAGES, counts, strict=True):
            self.counts[stage] += n
        self.revenue += Decimal(revenue or 0)

    def add_lags(self, stage: str, hist: dict) -> None:
        mine = self.lags[stage]
        for days, n in hist.items():
            mine[int(days)] = mine.get(int(days), 0) + n


def _acc(accs: dict, key: tuple) -> _Acc:
    """``accs[key]``, made when missing (``setdefault`` would build one for every row)."""
    acc = accs.get(key)
    if acc is None:
        acc = accs[key] = _Acc()
    return acc


def _median(hist: dict[int, int]) -> float | None:
    """The exact median of a histogram of whole days (the mean of the two middle values)."""
    total = sum(hist.values())
    if not total:
        return None
    lo_rank, hi_rank = (total - 1) // 2, total // 2
    seen, lo_value = 0, None
    for days in sorted(hist):
        seen += hist[days]
        if lo_value is None and seen > lo_rank:
            lo_value = days
        if seen > hi_rank:
            return (lo_value + days) / 2
    return None  # pragma: no cover


def _live_sql(
    keys: list[str], ranges: list[tuple[dt.date, dt.date]], branch_ids, consultant_id
) -> tuple[str, list]:
    """The live aggregate of ``ranges`` ([start, end) days): counts, revenue and the lag
    histograms, grouped by ``keys`` (columns) and month, in one statement (grouping sets:
    one scan of the covering index)."""
    cols = ", ".join(f"c.{k} AS k{i}" for i, k in enumerate(keys))
    knames = ", ".join(f"k{i}" for i in range(len(keys)))
    kprefix = f"{knames}, " if keys else ""
    # (LEAST ignores NULL: a stage not reached must stay NULL, not become the cap.)
    lags = ", ".join(
        f"CASE WHEN {expr} IS NULL THEN NULL ELSE LEAST({expr}, {LAG_CAP}) END AS l_{stage}"
        for stage, expr in LAG_EXPRESSIONS.items()
    )
    where = ["(" + " OR ".join('(c."on" >= %s AND c."on" < %s)' for _ in ranges) + ")"]
    params: list = [d for r in ranges for d in r]
    if branch_ids is not None:
        where.append("c.branch_id = ANY(%s)")
        params.append(list(branch_ids))
    if consultant_id is not None:
        where.append("c.consultant_id = %s")
        params.append(consultant_id)
    sets = ", ".join([f"({kprefix}month)"] + [f"({kprefix}month, l_{stage})" for stage in LAG_EXPRESSIONS])
    sql = f"""
        SELECT {kprefix}month, l_booked, l_arrived, l_paid, l_enrolled,
               GROUPING(l_booked, l_arrived, l_paid, l_enrolled),
               count(*), count(booked_on), count(arrived_on), count(paid_on), count(enrolled_on),
               coalesce(sum(revenue), 0)
          FROM (SELECT {cols + ", " if keys else ""}date_trunc('month', c."on")::date AS month, {lags},
                       c.booked_on, c.arrived_on, c.paid_on, c.enrolled_on, c.revenue
                  FROM marketing_consultation c
                 WHERE {" AND ".join(where)}) t
         GROUP BY GROUPING SETS ({sets})
    """
    return sql, params


def _live(
    keys: list[str], ranges: list[tuple[dt.date, dt.date]], branch_ids, consultant_id
) -> dict[tuple, _Acc]:
    """The figures of ``ranges`` straight from the consultations (``_live_sql``)."""
    if not ranges:
        return {}
    sql, params = _live_sql(keys, ranges, branch_ids, consultant_id)
    out: dict[tuple, _Acc] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        n = len(keys)
        for row in cursor.fetchall():
            key = tuple(row[: n + 1])
            lag_values, grouping = row[n + 1 : n + 5], row[n + 5]
            acc = _acc(out, key)
            if grouping == _TOTALS:
                acc.add_counts(row[n + 6 : n + 11], row[n + 11])
            elif grouping in _LAG_SETS:
                stage = _LAG_SETS[grouping]
                value = lag_values[STAGES.index(stage) - 1]
                if value is not None:
                    acc.add_lags(stage, {value: row[n + 6]})
    return out


ROLLUP_DIMENSIONS = ("channel", "consultant", "partner")


def _rolled_sql(by: str, months: list[dt.date], branch_ids) -> tuple[str, str, list]:
    """(counts statement, lag histograms statement, parameters) over the rollup of ``by``
    (by month: the channel rows, summed)."""
    dimension = by if by in ROLLUP_DIMENSIONS else "channel"
    where = ["r.dimension = %s", "r.month = ANY(%s)"]
    params: list = [dimension, months]
    if branch_ids is not None:
        where.append("r.branch_id = ANY(%s)")
        params.append(list(branch_ids))
    keyed = by in ROLLUP_DIMENSIONS
    cols = "r.key, " if keyed else ""
    group = "1, 2" if keyed else "1"
    n = 1 if keyed else 0
    condition = " AND ".join(where)
    counts_sql = f"""
        SELECT {cols}r.month, sum(r.consultations), sum(r.booked), sum(r.arrived), sum(r.paid),
               sum(r.enrolled), sum(r.revenue)
          FROM marketing_funnelmonth r WHERE {condition} GROUP BY {group}
    """
    lags_sql = f"""
        SELECT {cols}r.month, s.key, d.key::int, sum(d.value::int)
          FROM marketing_funnelmonth r, jsonb_each(r.lags) s, jsonb_each_text(s.value) d
         WHERE {condition} GROUP BY {group}, {n + 2}, {n + 3}
    """
    return counts_sql, lags_sql, params


def _rolled(by: str, months: list[dt.date], branch_ids) -> dict[tuple, _Acc]:
    """The same figures for whole months, from the rollup, added up in the database."""
    if not months:
        return {}
    counts_sql, lags_sql, params = _rolled_sql(by, months, branch_ids)
    n = 1 if by in ROLLUP_DIMENSIONS else 0
    out: dict[tuple, _Acc] = {}
    with connection.cursor() as cursor:
        cursor.execute(counts_sql, params)
        for row in cursor.fetchall():
            _acc(out, tuple(row[: n + 1])).add_counts(row[n + 1 : n + 6], row[n + 6])
        cursor.execute(lags_sql, params)
        for row in cursor.fetchall():
            hist = _acc(out, tuple(row[: n + 1])).lags[row[n + 1]]
            hist[row[n + 2]] = hist.get(row[n + 2], 0) + int(row[n + 3])
    return out


def statements(*, date_from: dt.date, date_to: dt.date, by: str, branch_ids=None) -> list[tuple[str, list]]:
    """The SQL statements ``funnel`` runs for this period (benchmarks run them raw, as the
    floor the funnel is held to): the dirty months, the rollup's two, the live one."""
    rolled, ranges = plan(date_from, date_to, branch_ids)
    dirty = (
        "SELECT month FROM marketing_funneldirty WHERE month >= %s AND month <= %s"
        + (" AND branch_id = ANY(%s)" if branch_ids is not None else ""),
        [_month_start(date_from), date_to] + ([list(branch_ids)] if branch_ids is not None else []),
    )
    out = [dirty]
    if rolled:
        counts_sql, lags_sql, params = _rolled_sql(by, rolled, branch_ids)
        out += [(counts_sql, params), (lags_sql, params)]
    if ranges:
        keys = [DIMENSIONS[by].split(".", 1)[1]] if DIMENSIONS[by] else []
        out.append(_live_sql(keys, ranges, branch_ids, None))
    return out


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def plan(date_from: dt.date, date_to: dt.date, branch_ids, *, today: dt.date | None = None):
    """(whole months read from the rollup, day ranges read live): the months entirely inside
    the period, before the current month and not marked dirty for a branch in scope come from
    the rollup; everything else from the table."""
    from .consultation_models import FunnelDirty

    today = today or timezone.localdate()
    end = date_to + dt.timedelta(days=1)
    dirty_qs = FunnelDirty.objects.filter(month__gte=_month_start(date_from), month__lte=date_to)
    if branch_ids is not None:
        dirty_qs = dirty_qs.filter(branch_id__in=list(branch_ids))
    dirty = set(dirty_qs.values_list("month", flat=True))
    rolled, ranges = [], []
    month = _month_start(date_from)
    while month < end:
        nxt = _next_month(month)
        whole = month >= date_from and nxt <= end
        if whole and month < _month_start(today) and month not in dirty:
            rolled.append(month)
        else:
            lo, hi = max(month, date_from), min(nxt, end)
            if ranges and ranges[-1][1] == lo:
                ranges[-1] = (ranges[-1][0], hi)  # one range for adjacent live days
            else:
                ranges.append((lo, hi))
        month = nxt
    return rolled, ranges


def funnel(
    *,
    date_from: dt.date,
    date_to: dt.date,
    by: str = "channel",
    by_month: bool = False,
    branch_ids: list[int] | None = None,
    consultant_id: int | None = None,
) -> list[FunnelRow]:
    """Rows of the funnel for consultations on ``date_from`` … ``date_to`` (inclusive): whole
    past months from the rollup, the rest live (``plan``), merged. Equal to aggregating the
    consultations themselves (the tests compare both)."""
    if by not in DIMENSIONS:
        raise ValueError(by)
    keys = [DIMENSIONS[by].split(".", 1)[1]] if DIMENSIONS[by] else []
    if consultant_id is not None:
        # A consultant's own funnel: their consultations only, read live (the rollup is by
        # one dimension at a time, not by consultant × channel).
        rolled, ranges = [], [(date_from, date_to + dt.timedelta(days=1))]
    else:
        rolled, ranges = plan(date_from, date_to, branch_ids)
    parts = [
        _rolled(by, rolled, branch_ids),
        _live(keys, ranges, branch_ids, consultant_id),
    ]
    keep_month = by_month or by == "month"
    merged: dict[tuple, _Acc] = {}
    for part in parts:
        for key, acc in part.items():
            k = key if keep_month else (*key[:-1], None)
            into = _acc(merged, k)
            into.add_counts([acc.counts[s] for s in STAGES], acc.revenue)
            for stage, hist in acc.lags.items():
                into.add_lags(stage, hist)
    rows = [
        FunnelRow(
            key=k[0] if keys else None,
            month=k[-1],
            counts=acc.counts,
            revenue=acc.revenue,
            medians={stage: _median(acc.lags[stage]) for stage in STAGES[1:]},
        )
        for k, acc in merged.items()
    ]
    rows.sort(key=lambda r: (r.month or dt.date.min, r.key is not None, r.key or 0))
    return rows


@transaction.atomic
def funnel_refresh(*, limit: int = 200) -> int:
    """Rebuild the rollup of up to ``limit`` months marked dirty (claimed with SKIP LOCKED, so
    two workers never rebuild the same month at once); a write that lands meanwhile marks its
    month again. Returns how many (branch, month) were rebuilt."""
    from .consultation_models import FunnelMonth

    with connection.cursor() as cursor:
        cursor.execute(
            """DELETE FROM marketing_funneldirty WHERE id IN (
                   SELECT id FROM marketing_funneldirty ORDER BY month, branch_id
                   FOR UPDATE SKIP LOCKED LIMIT %s)
               RETURNING branch_id, month""",
            [limit],
        )
        claimed = cursor.fetchall()
    for branch_id, month in claimed:
        FunnelMonth.objects.filter(branch_id=branch_id, month=month).delete()
        rows = []
        for dimension in ROLLUP_DIMENSIONS:
            column = DIMENSIONS[dimension].split(".", 1)[1]
            for key, acc in _live([column], [(month, _next_month(month))], [branch_id], None).items():
                rows.append(
                    FunnelMonth(
                        branch_id=branch_id,
                        month=key[1],
                        dimension=dimension,
                        key=key[0],
                        consultations=acc.counts["consultations"],
                        booked=acc.counts["booked"],
                        arrived=acc.counts["arrived"],
                        paid=acc.counts["paid"],
                        enrolled=acc.counts["enrolled"],
                        revenue=acc.revenue,
                        lags={
                            stage: {str(d): n for d, n in hist.items()}
                            for stage, hist in acc.lags.items()
                            if hist
                        },
                    )
                )
        FunnelMonth.objects.bulk_create(rows, batch_size=2000)
    return len(claimed)


def scope_for(user, branch_id: int | None = None) -> tuple[list[int] | None, int | None]:
    """(branch ids or None for all, consultant id or None) the user's funnel covers:
    ``view_funnel`` sees their branches (or one of them), anyone else only their own
    consultations."""
    ids = user_branch_ids(user)
    if branch_id is not None:
        if ids is not None and branch_id not in ids:
            branch_id = None
        else:
            ids = frozenset({branch_id})
    consultant = None if user.has_perm(FUNNEL_PERM) else user.pk
    return (sorted(ids) if ids is not None else None), consultant


def totals(rows: list[FunnelRow]) -> FunnelRow | None:
    """The sum of the rows (medians are not additive: left empty)."""
    if not rows:
        return None
    counts = {s: sum(r.counts[s] for r in rows) for s in STAGES}
    return FunnelRow(
        key=None,
        month=None,
        counts=counts,
        revenue=sum((r.revenue for r in rows), Decimal(0)),
        medians=dict.fromkeys(STAGES[1:]),
    )


def label_rows(rows: list[FunnelRow], by: str) -> None:
    """Set each row's label: the channel's, consultant's or partner's name."""
    from django.contrib.auth import get_user_model
    from django.utils.translation import gettext as _

    from .consultation_models import ConsultationChannel
    from .models import Partner

    keys = {r.key for r in rows if r.key is not None}
    names: dict[int, str] = {}
    if by == "channel":
        names = {c.pk: c.display_name for c in ConsultationChannel.objects.filter(pk__in=keys)}
    elif by == "consultant":
        names = {
            u.pk: getattr(getattr(u, "staff", None), "full_name", "") or u.get_username()
            for u in get_user_model().objects.filter(pk__in=keys).select_related("staff")
        }
    elif by == "partner":
        names = {p.pk: p.name for p in Partner.objects.filter(pk__in=keys)}
    for r in rows:
        if by == "month":
            r.label = ""
        elif r.key is None:
            r.label = _("No partner") if by == "partner" else "—"
        else:
            r.label = names.get(r.key, "—")


def people(
    *,
    stage: str,
    date_from: dt.date,
    date_to: dt.date,
    by: str,
    key: int | None,
    key_is_null: bool,
    month: dt.date | None,
    branch_ids: list[int] | None,
    consultant_id: int | None,
):
    """The consultations behind one number of the funnel (the drill-down), newest first."""
    from .consultation_models import Consultation

    qs = Consultation.objects.filter(on__gte=date_from, on__lte=date_to)
    if month is not None:
        nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        qs = qs.filter(on__gte=max(month, date_from), on__lt=nxt)
    if branch_ids is not None:
        qs = qs.filter(branch_id__in=branch_ids)
    if consultant_id is not None:
        qs = qs.filter(consultant_id=consultant_id)
    column = DIMENSIONS.get(by)
    if column:
        name = column.split(".", 1)[1]
        qs = qs.filter(**({f"{name}__isnull": True} if key_is_null else {name: key}))
    if stage != "consultations":
        qs = qs.filter(**{f"{STAGE_COLUMNS[stage]}__isnull": False})
    return qs.select_related("member", "channel", "consultant__staff", "partner", "branch").order_by(
        "-at", "-id"
    )
