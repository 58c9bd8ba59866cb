"""Every KPI, defined once (docs/reports.md repeats these words): what a manager reads, and
how it is computed. Additive metrics (counts and sums per branch and local day) are rolled up
daily (``rollups.py``); a KPI is a ratio or a sum of metrics over a period. KPIs that need
data no app on main holds yet (complaints, campaigns) read nothing and show "no data"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class Metric:
    """One additive daily figure: ``sql`` selects (branch_id, day, key, value) for the local
    days in [%(lo)s, %(hi)s) (both aware datetimes) grouped by branch and day, with ``key`` ''
    for the total or the value of ``dimension``."""

    code: str
    sql: str
    dimensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class KPI:
    code: str
    name: object
    definition: object
    numerator: str | None = None  # metric code (None: not yet available)
    denominator: str | None = None  # metric code, for a ratio
    kind: str = "count"  # count | money | ratio | live
    target: Decimal | None = None
    extra: dict = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.numerator is not None or self.kind == "live"


def _tables():
    from appointments.models import Appointment, Visit
    from followups.models import Task
    from followups.recall_models import Recall, RecallKeep, SurveyResponse
    from loyalty.coupon_models import Coupon, CouponBatch
    from loyalty.models import Membership
    from members.models import Member

    return {
        "visit": Visit._meta.db_table,
        "appt": Appointment._meta.db_table,
        "member": Member._meta.db_table,
        "membership": Membership._meta.db_table,
        "survey": SurveyResponse._meta.db_table,
        "task": Task._meta.db_table,
        "keep": RecallKeep._meta.db_table,
        "recall": Recall._meta.db_table,
        "coupon": Coupon._meta.db_table,
        "batch": CouponBatch._meta.db_table,
    }


def _local(col: str) -> str:
    return f"({col} AT TIME ZONE %(tz)s)::date"


def _by_ts(table: str, ts: str, value: str, where: str = "TRUE", branch: str = "branch_id") -> str:
    return (
        f"SELECT {branch}, {_local(ts)} AS day, '' AS key, {value} FROM {{{table}}} "
        f"WHERE {ts} >= %(lo)s AND {ts} < %(hi)s AND {where} GROUP BY 1, 2"
    )


def _by_date(table: str, col: str, value: str, where: str = "TRUE") -> str:
    return (
        f"SELECT branch_id, {col} AS day, '' AS key, {value} FROM {{{table}}} "
        f"WHERE {col} >= {_local('%(lo)s')} AND {col} < {_local('%(hi)s')} AND {where} GROUP BY 1, 2"
    )


_SHOWED = "status IN ('arrived', 'in_treatment', 'completed')"
_COUPON_FROM = (
    "(SELECT c.*, COALESCE(b.branch_id, m.branch_id) AS branch_id FROM {coupon} c "
    "LEFT JOIN {batch} b ON b.id = c.batch_id LEFT JOIN {member} m ON m.id = c.member_id) c"
)
_KEEP_FROM = "(SELECT k.*, r.branch_id FROM {keep} k JOIN {recall} r ON r.id = k.recall_id) k"

METRICS: dict[str, Metric] = {
    m.code: m
    for m in [
        Metric("visits", _by_ts("visit", "checked_out_at", "count(*)", "status = 'checked_out'")),
        Metric("revenue", _by_ts("visit", "checked_out_at", "sum(amount_paid)", "status = 'checked_out'")),
        Metric("bookings", _by_ts("appt", "start", "count(*)", "status <> 'cancelled'"), ("channel",)),
        Metric("showed", _by_ts("appt", "start", "count(*)", _SHOWED), ("channel",)),
        Metric("no_shows", _by_ts("appt", "start", "count(*)", "status = 'no_show'"), ("channel",)),
        Metric(
            "appointments_over",
            _by_ts("appt", "start", "count(*)", f"({_SHOWED} OR status = 'no_show')"),
            ("channel",),
        ),
        Metric("new_people", _by_ts("member", "created_at", "count(*)", "status <> 'merged'")),
        Metric("enrolments", _by_ts("membership", "enrolled_at", "count(*)")),
        Metric("survey_answers", _by_date("survey", "visit_on", "count(*)")),
        Metric(
            "survey_satisfied",
            _by_date(
                "survey",
                "visit_on",
                "count(*)",
                "doctor_score + front_desk_score + environment_score + waiting_score >= 16",
            ),
        ),
        Metric(
            "followups_due",
            _by_date("task", "due_on", "count(*)", "kind = 'followup' AND status <> 'cancelled'"),
        ),
        Metric(
            "followups_on_time",
            _by_date(
                "task",
                "due_on",
                "count(*)",
                f"kind = 'followup' AND status = 'done' AND {_local('closed_at')} <= due_on",
            ),
        ),
        Metric("recall_kept", _by_date("_keep", "kept_on", "count(*)", "voided_at IS NULL")),
        Metric("recall_on_time", _by_date("_keep", "kept_on", "count(*)", "voided_at IS NULL AND on_time")),
        Metric("coupons_issued", _by_ts("_coupon", "issued_at", "count(*)", "branch_id IS NOT NULL")),
        Metric(
            "coupons_used",
            _by_ts("_coupon", "used_at", "count(*)", "branch_id IS NOT NULL AND voided_at IS NULL"),
        ),
    ]
}


def metric_sql(code: str, dimension: str = "") -> str:
    """The metric's SQL with the tables filled in; grouped by ``dimension`` when given."""
    metric = METRICS[code]
    names = _tables()
    names["_coupon"] = _COUPON_FROM.format(**names)
    names["_keep"] = _KEEP_FROM.format(**names)
    sql = metric.sql
    if dimension:
        if dimension not in metric.dimensions:
            raise ValueError(dimension)
        sql = sql.replace("'' AS key", f"{dimension}::text AS key").replace(
            "GROUP BY 1, 2", "GROUP BY 1, 2, 3"
        )
    # Table names are filled in with str.replace, so %(...)s placeholders stay for the driver.
    for name, table in names.items():
        sql = sql.replace("{" + name + "}", table)
    return sql


KPIS: dict[str, KPI] = {
    k.code: k
    for k in [
        KPI(
            "revenue",
            pgettext_lazy("KPI", "Revenue"),
            _(
                "Amount paid on visits checked out in the period (voided visits excluded), by the day of checkout."
            ),
            "revenue",
            kind="money",
        ),
        KPI(
            "visits",
            pgettext_lazy("KPI", "Visits"),
            _("Visits checked out in the period, by the day of checkout; voided visits do not count."),
            "visits",
        ),
        KPI(
            "bookings",
            pgettext_lazy("KPI", "Bookings"),
            _("Appointments starting in the period, cancelled ones excluded."),
            "bookings",
        ),
        KPI(
            "new_people",
            pgettext_lazy("KPI", "New people"),
            _("People registered at the branch in the period (merged-away records excluded)."),
            "new_people",
            target=Decimal("0.10"),
            extra={"target_text": _("+10% a quarter (programme target)")},
        ),
        KPI(
            "enrolments",
            pgettext_lazy("KPI", "New members"),
            _("Membership cards issued (办卡) at the branch in the period."),
            "enrolments",
        ),
        KPI(
            "no_show_rate",
            pgettext_lazy("KPI", "No-show rate"),
            _(
                "Of the appointments starting in the period that are over, the share marked no-show: no-shows ÷ (no-shows + arrivals)."
            ),
            "no_shows",
            "appointments_over",
            kind="ratio",
        ),
        KPI(
            "satisfaction",
            pgettext_lazy("KPI", "Satisfaction"),
            _(
                "Share of survey answers for visits in the period whose four scores (doctor, front desk, environment, waiting) average 4 or more out of 5."
            ),
            "survey_satisfied",
            "survey_answers",
            kind="ratio",
            target=Decimal("0.90"),
        ),
        KPI(
            "followups_on_time",
            pgettext_lazy("KPI", "Follow-ups done on time"),
            _(
                "Of the post-treatment follow-up tasks due in the period (cancelled ones excluded), the share done on or before their due day."
            ),
            "followups_on_time",
            "followups_due",
            kind="ratio",
        ),
        KPI(
            "recall_compliance",
            pgettext_lazy("KPI", "Recall compliance"),
            _(
                "Of the recalls kept in the period (the person came back for the recall's treatment), the share kept within the recall type's on-time window."
            ),
            "recall_on_time",
            "recall_kept",
            kind="ratio",
        ),
        KPI(
            "coupon_redemption",
            pgettext_lazy("KPI", "Coupon redemption"),
            _(
                "Coupons used in the period ÷ coupons issued in the period (a coupon counts at the branch of its batch, else of its holder)."
            ),
            "coupons_used",
            "coupons_issued",
            kind="ratio",
        ),
        KPI(
            "return_rate",
            pgettext_lazy("KPI", "Return-visit rate (复诊率)"),
            _(
                "Of the people with a checked-out visit in the period, the share who have another checked-out visit within N months after it (N is REPORTS_RETURN_MONTHS, default 6). Computed from the visits themselves."
            ),
            kind="live",
            target=Decimal("0.20"),
            extra={"target_text": _("+20% a year (programme target)")},
        ),
        KPI(
            "points_liability",
            pgettext_lazy("KPI", "Points liability"),
            _(
                "Points held in open accounts of the branch's people now, times the value of a point (REPORTS_POINT_VALUE_YUAN; without it only the points are shown)."
            ),
            kind="live",
        ),
        KPI(
            "complaint_sla",
            pgettext_lazy("KPI", "Complaints handled on time"),
            _(
                "Of the complaints whose deadline for a proposed resolution fell in the period (a pause while waiting on the customer moves it), the share with a resolution proposed by that deadline. Computed from the complaints themselves."
            ),
            None,
            kind="live",
        ),
        KPI(
            "campaign_conversion",
            pgettext_lazy("KPI", "Campaign conversion"),
            _(
                "Share of people reached by a marketing campaign who booked. Not added up across campaigns yet: each campaign's page shows its own sign-ups, attendance, bookings and revenue."
            ),
            None,
        ),
    ]
}


def period_bounds(lo: dt.date, hi: dt.date):
    """Aware datetimes of the local midnights starting ``lo`` and ``hi`` (hi exclusive)."""
    from django.utils import timezone

    tz = timezone.get_current_timezone()
    return (
        dt.datetime.combine(lo, dt.time(), tzinfo=tz),
        dt.datetime.combine(hi, dt.time(), tzinfo=tz),
    )
