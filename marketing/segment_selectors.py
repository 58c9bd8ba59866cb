"""Evaluating a segment: its filters compiled into one SQL statement (never a Python loop over
people), scoped to the branches the viewer works at.

``segment_sql`` returns ``SELECT m.id[, quadrant] FROM ... WHERE ...`` with positional
parameters; everything else (the count, the sample, the export, a broadcast's audience) wraps
that one statement, so what the editor counts is what a broadcast sends to.

The per-person figures over the last 12 months (paid visits, spend) come from
``loyalty.Purchase`` net of reversals, in a CTE that covers every person of the scoped branches
(not just the filtered ones): the quadrant medians and the RFM quintiles are properties of the
branch, so the same person gets the same quadrant and scores whoever looks and whatever else
the segment filters on. The CTEs are only built when a filter (or the caller) needs them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone

from clinic.models import Branch
from clinic.selectors import scope_to_branches, user_branch_ids

from .segment_models import Quadrant, QuadrantThreshold, Segment

STATS_DAYS = 365
EXPIRING_DAYS_DEFAULT = 30

# Consent kinds by channel (members.ConsentKind values; kept here as plain strings so the
# statement needs no import of members' enum at import time).
CONSENT_KIND = {"sms": "marketing_sms", "wechat": "marketing_wechat", "email": "marketing_email"}


def _t(model_path: str) -> str:
    from django.apps import apps

    app, model = model_path.split(".")
    return connection.ops.quote_name(apps.get_model(app, model)._meta.db_table)


def _tags_table() -> str:
    from members.models import Member

    return connection.ops.quote_name(Member.tags.through._meta.db_table)


def _ints(value: Any) -> list[int]:
    out = []
    for v in value or []:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            continue
    return out


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _date(value: Any) -> dt.date | None:
    if not value:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


STATS_KEYS = {"visits_min", "visits_max", "spend_min", "spend_max"}
QUADRANT_KEYS = {"quadrants"}
RFM_KEYS = {"r_min", "r_max", "f_min", "f_max", "m_min", "m_max"}


def _uses(filters: dict, keys: set[str]) -> bool:
    return any(filters.get(k) not in (None, "", []) for k in keys)


@dataclass(frozen=True)
class Scope:
    """The home branches a segment is evaluated over (None: every branch)."""

    branch_ids: frozenset[int] | None

    @property
    def empty(self) -> bool:
        return self.branch_ids is not None and not self.branch_ids


def segment_scope(user, branch: Branch | None = None) -> Scope:
    """The viewer's branches, narrowed to the segment's branch when it has one."""
    ids = user_branch_ids(user)
    if branch is not None:
        ids = frozenset({branch.pk}) if ids is None or branch.pk in ids else frozenset()
    return Scope(ids)


def segment_sql(
    filters: dict,
    *,
    scope: Scope,
    with_quadrant: bool = False,
    today: dt.date | None = None,
    as_of: dt.datetime | None = None,
) -> tuple[str, list]:
    """One statement selecting the ids (and, with ``with_quadrant``, the quadrant code) of the
    people matching ``filters`` within ``scope``. Only active, unmerged records are ever in a
    segment.

    ``as_of`` computes the per-person figures (visits, spend: quadrants, RFM) as they stood at
    that moment: the 12 months before it, purchases reversed only later still counting, and
    people registered after it left out (the quadrant movements since last month)."""
    today = today or timezone.localdate()
    f = filters or {}
    params: list = []
    member = _t("members.Member")
    base = ["m.status = 'active'", "m.merged_into_id IS NULL"]
    base_params: list = []
    if scope.branch_ids is not None:
        base.append("m.branch_id = ANY(%s)")
        base_params.append(sorted(scope.branch_ids))
    if scope.empty:
        base.append("FALSE")

    need_quadrant = with_quadrant or _uses(f, QUADRANT_KEYS)
    need_rfm = _uses(f, RFM_KEYS)
    need_stats = need_quadrant or need_rfm or _uses(f, STATS_KEYS)

    ctes: list[str] = []
    if as_of is not None:
        base.append("m.created_at < %s")
        base_params.append(as_of)
    if need_stats:
        until = as_of or timezone.now()
        since = until - dt.timedelta(days=STATS_DAYS)
        ctes.append(
            f"""stats AS (
  SELECT m.id, m.branch_id, m.last_visit_at,
         COALESCE(p.spend, 0) AS spend, COALESCE(p.visits, 0) AS visits
  FROM {member} m
  LEFT JOIN (
    SELECT member_id, SUM(amount) AS spend,
           SUM(CASE WHEN counts_as_visit THEN visits ELSE 0 END) AS visits
    FROM {_t("loyalty.Purchase")}
    WHERE occurred_at >= %s AND occurred_at < %s AND (reversed_at IS NULL OR reversed_at >= %s)
    GROUP BY member_id
  ) p ON p.member_id = m.id
  WHERE {" AND ".join(base)}
)"""
        )
        params += [since, until, until, *base_params]
    if need_quadrant:
        ctes.append(
            f"""med AS (
  SELECT branch_id,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY visits) AS mv,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY spend) AS ms
  FROM stats WHERE visits > 0 GROUP BY branch_id
),
thr AS (
  SELECT b.id AS branch_id, COALESCE(q.min_visits, med.mv) AS tv, COALESCE(q.min_spend, med.ms) AS ts
  FROM {_t("clinic.Branch")} b
  LEFT JOIN med ON med.branch_id = b.id
  LEFT JOIN {_t("marketing.QuadrantThreshold")} q ON q.branch_id = b.id
)"""
        )
    if need_rfm:
        # Quintiles per branch among the people who have the figure at all; the others score 1.
        ctes.append(
            """rfm AS (
  SELECT id,
    CASE WHEN last_visit_at IS NULL THEN 1
         ELSE NTILE(5) OVER (PARTITION BY branch_id, last_visit_at IS NULL ORDER BY last_visit_at, id) END AS r,
    CASE WHEN visits = 0 THEN 1
         ELSE NTILE(5) OVER (PARTITION BY branch_id, visits = 0 ORDER BY visits, id) END AS f,
    CASE WHEN spend = 0 THEN 1
         ELSE NTILE(5) OVER (PARTITION BY branch_id, spend = 0 ORDER BY spend, id) END AS mm
  FROM stats
)"""
        )

    quadrant_expr = (
        "(CASE WHEN s.visits > 0 AND s.visits >= t.tv THEN 'h' ELSE 'l' END"
        " || CASE WHEN s.spend > 0 AND s.spend >= t.ts THEN 'h' ELSE 'l' END)"
    )
    select = "SELECT m.id" + (f", {quadrant_expr} AS quadrant" if with_quadrant else "")
    if need_stats:
        sql_from = f"FROM stats s JOIN {member} m ON m.id = s.id"
        where: list[str] = []
        where_params: list = []
    else:
        sql_from = f"FROM {member} m"
        where = list(base)
        where_params = list(base_params)
    if need_quadrant:
        sql_from += " LEFT JOIN thr t ON t.branch_id = m.branch_id"
    if need_rfm:
        sql_from += " JOIN rfm r ON r.id = m.id"

    def add(cond: str, *values) -> None:
        where.append(cond)
        where_params.extend(values)

    for key, column in (
        ("stages", "m.stage"),
        ("genders", "m.gender"),
    ):
        values = [str(v) for v in f.get(key) or []]
        if values:
            add(f"{column} = ANY(%s)", values)
    for key, column in (
        ("branches", "m.branch_id"),
        ("channels", "m.channel_id"),
        ("consultants", "m.consultant_id"),
    ):
        ids = _ints(f.get(key))
        if ids:
            add(f"{column} = ANY(%s)", ids)
    if ids := _ints(f.get("tags")):
        add(
            f"EXISTS (SELECT 1 FROM {_tags_table()} mt WHERE mt.member_id = m.id AND mt.tag_id = ANY(%s))",
            ids,
        )
    if ids := _ints(f.get("tiers")):
        add(
            f"EXISTS (SELECT 1 FROM {_t('loyalty.Membership')} ms WHERE ms.member_id = m.id AND ms.tier_id = ANY(%s))",
            ids,
        )
    if (age := _int(f.get("age_min"))) is not None:
        add("m.birth_date <= %s", _years_before(today, age))
    if (age := _int(f.get("age_max"))) is not None:
        add("m.birth_date > %s", _years_before(today, age + 1))
    if months := [m for m in _ints(f.get("birth_months")) if 1 <= m <= 12]:
        add("EXTRACT(MONTH FROM m.birth_date)::int = ANY(%s)", months)
    for key, column, op in (
        ("first_visit_from", "m.first_visit_at", ">="),
        ("last_visit_from", "m.last_visit_at", ">="),
    ):
        if day := _date(f.get(key)):
            add(f"{column} {op} %s", _local_midnight(day))
    for key, column in (("first_visit_to", "m.first_visit_at"), ("last_visit_to", "m.last_visit_at")):
        if day := _date(f.get(key)):
            add(f"{column} < %s", _local_midnight(day + dt.timedelta(days=1)))
    if (n := _int(f.get("visits_min"))) is not None:
        add("s.visits >= %s", n)
    if (n := _int(f.get("visits_max"))) is not None:
        add("s.visits <= %s", n)
    if (x := _money(f.get("spend_min"))) is not None:
        add("s.spend >= %s", x)
    if (x := _money(f.get("spend_max"))) is not None:
        add("s.spend <= %s", x)
    account = _t("loyalty.PointsAccount")
    balance = (
        f"COALESCE((SELECT SUM(pa.balance) FROM {account} pa WHERE pa.member_id = m.id AND pa.is_open), 0)"
    )
    if (n := _int(f.get("points_min"))) is not None:
        add(f"{balance} >= %s", n)
    if (n := _int(f.get("points_max"))) is not None:
        add(f"{balance} <= %s", n)
    if (n := _int(f.get("expiring_points_min"))) is not None:
        days = _int(f.get("expiring_days")) or EXPIRING_DAYS_DEFAULT
        add(
            f"COALESCE((SELECT SUM(l.remaining) FROM {_t('loyalty.PointsLot')} l JOIN {account} pa"
            " ON pa.id = l.account_id WHERE pa.member_id = m.id AND pa.is_open AND l.remaining > 0"
            " AND l.expires_on >= %s AND l.expires_on <= %s), 0) >= %s",
            today,
            today + dt.timedelta(days=days),
            max(n, 1),
        )
    if ids := _ints(f.get("services")):
        add(
            f"EXISTS (SELECT 1 FROM {_t('appointments.ChargeLine')} cl JOIN {_t('appointments.Visit')} v"
            " ON v.id = cl.visit_id WHERE v.member_id = m.id AND v.status = 'checked_out'"
            " AND cl.item_id = ANY(%s))",
            ids,
        )
    if ids := _ints(f.get("partners")):
        add(
            f"EXISTS (SELECT 1 FROM {_t('marketing.Attribution')} a WHERE a.member_id = m.id AND a.partner_id = ANY(%s))",
            ids,
        )
    if (n := _int(f.get("recall_due_days"))) is not None:
        add(
            f"EXISTS (SELECT 1 FROM {_t('followups.Recall')} rc WHERE rc.member_id = m.id AND rc.is_active"
            " AND rc.due_on <= %s)",
            today + dt.timedelta(days=n),
        )
    for channel in [c for c in f.get("consents") or [] if c in CONSENT_KIND]:
        add(
            f"EXISTS (SELECT 1 FROM {_t('members.Consent')} c WHERE c.member_id = m.id AND c.kind = %s"
            " AND c.withdrawn_at IS NULL)",
            CONSENT_KIND[channel],
        )
    if f.get("consents"):
        add("NOT m.marketing_opt_out")
    if quadrants := [q for q in f.get("quadrants") or [] if q in Quadrant.values]:
        add(f"{quadrant_expr} = ANY(%s)", quadrants)
    for key, column, op in (
        ("r_min", "r.r", ">="),
        ("r_max", "r.r", "<="),
        ("f_min", "r.f", ">="),
        ("f_max", "r.f", "<="),
        ("m_min", "r.mm", ">="),
        ("m_max", "r.mm", "<="),
    ):
        if (n := _int(f.get(key))) is not None:
            add(f"{column} {op} %s", n)

    sql = (f"WITH {', '.join(ctes)} " if ctes else "") + f"{select} {sql_from}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql, params + where_params


def segment_members(filters: dict, *, scope: Scope) -> QuerySet:
    """The matching people as a Member queryset (``id IN (<the statement>)``)."""
    from members.models import Member

    sql, params = segment_sql(filters, scope=scope)
    return Member.objects.filter(pk__in=RawSQL(sql, params))


def segment_count(filters: dict, *, scope: Scope) -> int:
    sql, params = segment_sql(filters, scope=scope)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) seg", params)
        return cursor.fetchone()[0]


def segment_quadrant_counts(filters: dict, *, scope: Scope) -> dict[str, int]:
    """How many of the segment are in each of the four quadrants (every code present)."""
    sql, params = segment_sql(filters, scope=scope, with_quadrant=True)
    counts = dict.fromkeys(Quadrant.values, 0)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT quadrant, count(*) FROM ({sql}) seg GROUP BY quadrant", params)
        for code, n in cursor.fetchall():
            counts[code] = n
    return counts


def segment_sample(filters: dict, *, scope: Scope, limit: int = 20) -> list:
    """A few of the people (for the editor), newest records first."""
    return list(
        segment_members(filters, scope=scope).select_related("branch").order_by("-created_at", "-id")[:limit]
    )


def segments_for_user(user) -> QuerySet[Segment]:
    """The segments of the user's branches (and, for HQ, those of every branch)."""
    qs = Segment.objects.select_related("branch", "created_by__staff")
    if user_branch_ids(user) is None:
        return qs
    return scope_to_branches(qs, user)


def get_segment_for_user(user, pk: int, *, write: bool = False) -> Segment:
    """404 outside scope; 403 when visible but the user may not change segments."""
    from django.core.exceptions import PermissionDenied

    if not user.has_perm("marketing.view_segment"):
        raise PermissionDenied
    segment = segments_for_user(user).filter(pk=pk).first()
    if segment is None:
        raise Http404
    if write and not user.has_perm("marketing.change_segment"):
        raise PermissionDenied
    return segment


def quadrant_thresholds(branch_ids: Iterable[int]) -> dict[int, QuadrantThreshold]:
    return {q.branch_id: q for q in QuadrantThreshold.objects.filter(branch_id__in=list(branch_ids))}
