"""Customer analysis (docs/reports.md, "Customers"): growth by month, dormancy (months since the
last visit, against the care policy's dormant months), the tier distribution and the tier
movements of a period, for one branch."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import dashboard
from .rollup_models import DailyRollup


def growth(branch, *, today: dt.date | None = None, months: int = 12) -> list[dict]:
    """New people and new members per month, the last ``months`` months (this one to date),
    from the daily rollups plus today live."""
    from . import rollups

    today = today or timezone.localdate()
    first = dashboard._shift_month(today.replace(day=1), -(months - 1))
    by_month: dict = defaultdict(lambda: defaultdict(int))
    rows = (
        DailyRollup.objects.filter(
            branch=branch,
            day__gte=first,
            day__lt=today,
            dimension="",
            metric__in=("new_people", "enrolments"),
        )
        .values("day__year", "day__month", "metric")
        .annotate(total=Sum("value"))
    )
    for r in rows:
        by_month[(r["day__year"], r["day__month"])][r["metric"]] += int(r["total"])
    live = rollups.figures(today, today + dt.timedelta(days=1), branch_ids=[branch.pk], today=today).get(
        branch.pk, {}
    )
    for metric in ("new_people", "enrolments"):
        by_month[(today.year, today.month)][metric] += int(live.get(metric, 0))
    out = []
    for i in range(months):
        m = dashboard._shift_month(first, i)
        r = by_month.get((m.year, m.month), {})
        out.append({"month": m, "new_people": r.get("new_people", 0), "enrolments": r.get("enrolments", 0)})
    return out


DORMANCY_BANDS = (
    ("recent", _("Visited in the last 6 months")),
    ("lapsing", _("Last visit 6 months ago or more")),
    ("dormant", _("Dormant (no visit for the care policy's months)")),
    ("never", _("Never visited")),
)


def dormancy(branch, *, today: dt.date | None = None) -> dict:
    """Active people of the branch by how long since their last visit."""
    from followups.dormancy import care_policy
    from members.models import Member

    today = today or timezone.localdate()
    dormant_months = care_policy().dormant_months
    six = dashboard._shift_month(today, -6)
    dormant = dashboard._shift_month(today, -dormant_months)
    qs = Member.objects.filter(branch=branch, status="active")
    counts = {
        "never": qs.filter(last_visit_at__isnull=True).count(),
        "recent": qs.filter(
            last_visit_at__gte=timezone.make_aware(dt.datetime.combine(six, dt.time.min))
        ).count(),
        "dormant": qs.filter(
            last_visit_at__lt=timezone.make_aware(dt.datetime.combine(dormant, dt.time.min))
        ).count(),
    }
    total = qs.count()
    counts["lapsing"] = total - counts["never"] - counts["recent"] - counts["dormant"]
    return {
        "total": total,
        "months": dormant_months,
        "bands": [{"code": c, "label": label, "people": counts[c]} for c, label in DORMANCY_BANDS],
    }


def tiers(branch) -> list[dict]:
    """Members of the branch by tier (highest first)."""
    from loyalty.models import Membership, Tier

    counts = dict(
        Membership.objects.filter(branch=branch)
        .values_list("tier_id")
        .annotate(n=Count("id"))
        .values_list("tier_id", "n")
    )
    return [{"tier": t, "members": counts.get(t.pk, 0)} for t in Tier.objects.order_by("-rank")]


def tier_movements(branch, lo: dt.date, hi: dt.date) -> list[dict]:
    """Tier changes of the branch's people in [lo, hi): from → to, how many, up or down."""
    from loyalty.models import Tier, TierChange

    from . import kpis

    start, end = kpis.period_bounds(lo, hi)
    rows = (
        TierChange.objects.filter(member__branch=branch, at__gte=start, at__lt=end)
        .values("from_tier", "to_tier", "from_tier__rank", "to_tier__rank")
        .annotate(n=Count("id"))
    )
    names = {t.pk: str(t) for t in Tier.objects.all()}
    out = []
    for r in rows:
        direction = (
            "new"
            if r["from_tier"] is None
            else (
                "up"
                if r["to_tier__rank"] > r["from_tier__rank"]
                else "down"
                if r["to_tier__rank"] < r["from_tier__rank"]
                else "same"
            )
        )
        out.append(
            {
                "from": names.get(r["from_tier"], "—") if r["from_tier"] else "—",
                "to": names.get(r["to_tier"], "—"),
                "people": r["n"],
                "direction": direction,
            }
        )
    order = {"up": 0, "new": 1, "same": 2, "down": 3}
    out.sort(key=lambda r: (order[r["direction"]], -r["people"]))
    return out


def quadrants(branch) -> dict:
    """The branch's active people in seed 003's four quadrants (visit frequency × spend over
    the last year), by the segments' own definition and thresholds (marketing)."""
    from marketing.segment_models import Quadrant
    from marketing.segment_selectors import Scope, quadrant_thresholds, segment_quadrant_counts

    counts = segment_quadrant_counts({}, scope=Scope(frozenset({branch.pk})))
    total = sum(counts.values())
    threshold = quadrant_thresholds([branch.pk]).get(branch.pk)
    return {
        "total": total,
        "threshold": threshold,
        "rows": [
            {
                "code": code,
                "label": label,
                "people": counts.get(code, 0),
                "share": (counts.get(code, 0) / total) if total else None,
            }
            for code, label in Quadrant.choices
        ],
    }


def quadrant_movements(branch, *, today: dt.date | None = None) -> dict:
    """How the branch's active people moved between the four quadrants since the end of last
    month: each person's quadrant then (the 12 months before the first of this month, the
    thresholds of then) against now, as a from × to table; people registered since come
    from "new". Both sides are the segments' own statement, so the figures agree with the
    quadrant counts above and with a quadrant segment."""
    from django.db import connection

    from marketing.segment_models import Quadrant
    from marketing.segment_selectors import Scope, segment_sql

    today = today or timezone.localdate()
    first = today.replace(day=1)
    as_of = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    scope = Scope(frozenset({branch.pk}))
    now_sql, now_params = segment_sql({}, scope=scope, with_quadrant=True, today=today)
    then_sql, then_params = segment_sql({}, scope=scope, with_quadrant=True, today=today, as_of=as_of)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(t.quadrant, 'new'), n.quadrant, count(*)"
            f" FROM ({now_sql}) n LEFT JOIN ({then_sql}) t ON t.id = n.id GROUP BY 1, 2",
            [*now_params, *then_params],
        )
        found = {(a, b): c for a, b, c in cursor.fetchall()}
    labels = dict(Quadrant.choices)
    codes = list(labels)
    rows = []
    for origin in [*codes, "new"]:
        cells = [found.get((origin, to), 0) for to in codes]
        if origin == "new" and not any(cells):
            continue
        rows.append(
            {
                "code": origin,
                "label": labels.get(origin) or _("New since"),
                "cells": cells,
                "stayed": cells[codes.index(origin)] if origin in codes else 0,
                "total": sum(cells),
            }
        )
    moved = sum(r["total"] - r["stayed"] for r in rows if r["code"] != "new")
    return {"since": first, "columns": [labels[c] for c in codes], "rows": rows, "moved": moved}
