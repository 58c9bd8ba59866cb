"""The funnel (docs/marketing.md): consultation → booked → arrived → paid visit → enrolled,
by channel, consultant, partner or month (or one of them × month), with counts, conversion
rates, revenue and the median calendar days between stages.

One aggregate over ``marketing_consultation`` (its ``consult_funnel`` covering index): the
stage dates and revenue are kept on each consultation by the services, so no visit or
booking is joined at read time. Medians are exact (``percentile_cont``) over the day
differences; "calendar days" until clinic/workdays.py exists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

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


def funnel_sql(*, by: str, by_month: bool, branch_filter: bool, consultant_filter: bool) -> str:
    """The one query. ``by`` is a key of DIMENSIONS; parameters in order: date_from,
    date_to (exclusive), [branch ids], [consultant id]."""
    groups = []
    if DIMENSIONS[by]:
        groups.append(f"{DIMENSIONS[by]} AS key")
    else:
        groups.append("NULL::bigint AS key")
    if by_month or by == "month":
        groups.append("date_trunc('month', c.\"on\")::date AS month")
    else:
        groups.append("NULL::date AS month")
    where = ['c."on" >= %s', 'c."on" < %s']
    if branch_filter:
        where.append("c.branch_id = ANY(%s)")
    if consultant_filter:
        where.append("c.consultant_id = %s")
    group_by = ", ".join(str(i + 1) for i in range(2))
    return f"""
        SELECT {", ".join(groups)},
               count(*), count(c.booked_on), count(c.arrived_on), count(c.paid_on), count(c.enrolled_on),
               coalesce(sum(c.revenue), 0),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY c.booked_on - c."on"),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY c.arrived_on - c.booked_on),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY c.paid_on - c.arrived_on),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY c.enrolled_on - c.paid_on)
          FROM marketing_consultation c
         WHERE {" AND ".join(where)}
         GROUP BY {group_by}
         ORDER BY 2 NULLS FIRST, 1 NULLS FIRST
    """


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


def funnel(
    *,
    date_from: dt.date,
    date_to: dt.date,
    by: str = "channel",
    by_month: bool = False,
    branch_ids: list[int] | None = None,
    consultant_id: int | None = None,
) -> list[FunnelRow]:
    """Rows of the funnel for consultations on ``date_from`` … ``date_to`` (inclusive)."""
    if by not in DIMENSIONS:
        raise ValueError(by)
    sql = funnel_sql(
        by=by,
        by_month=by_month,
        branch_filter=branch_ids is not None,
        consultant_filter=consultant_id is not None,
    )
    params: list = [date_from, date_to + dt.timedelta(days=1)]
    if branch_ids is not None:
        params.append(list(branch_ids))
    if consultant_id is not None:
        params.append(consultant_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        FunnelRow(
            key=r[0],
            month=r[1],
            counts=dict(zip(STAGES, r[2:7], strict=True)),
            revenue=Decimal(r[7]),
            medians={
                "booked": r[8],
                "arrived": r[9],
                "paid": r[10],
                "enrolled": r[11],
            },
        )
        for r in rows
    ]


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
