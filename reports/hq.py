"""HQ's view (总部, docs/reports.md): every figure of the branch dashboard, branch by branch
side by side, and the chain total. Each branch's column is ``dashboard.branch_dashboard``
itself; the chain total adds the branches' sums and takes a ratio of the added numerators and
denominators through the same KPI definitions (``kpis.KPIS``, ``rollups.kpi_value``) — never
an average of the branches' ratios."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import dashboard, kpis, rollups

VIEW_PERM = "reports.view_hq_dashboard"


@dataclass
class Row:
    code: str
    name: object
    kind: str
    values: list  # one per branch, then the chain total
    drill: bool = False


def _sum(values) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


def chain_month(branch_ids: list[int], *, today: dt.date) -> dict[str, Decimal | None]:
    """The month-to-date KPIs of the chain (the branches together)."""
    lo, hi = dashboard.periods(today)["mtd"]
    merged: dict = defaultdict(Decimal)
    for sums in rollups.figures(lo, hi, branch_ids=branch_ids, today=today).values():
        for metric, value in sums.items():
            merged[metric] += value
    out: dict[str, Decimal | None] = {}
    for code in dashboard.MONTH_KPIS:
        kpi = kpis.KPIS[code]
        if code == "return_rate":
            pairs = rollups.return_rate(lo, hi, branch_ids=branch_ids).values()
            returned, people = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
            out[code] = (
                None if not people else (Decimal(returned) / Decimal(people)).quantize(Decimal("0.0001"))
            )
        elif code == "complaint_sla":
            pairs = rollups.complaint_sla(lo, hi, branch_ids=branch_ids).values()
            on_time, due = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
            out[code] = None if not due else (Decimal(on_time) / Decimal(due)).quantize(Decimal("0.0001"))
        elif code == "points_liability":
            out[code] = Decimal(sum(p[0] for p in rollups.points_liability(branch_ids=branch_ids).values()))
        else:
            out[code] = rollups.kpi_value(kpi, merged)
    return out


def hq_dashboard(branches, *, today: dt.date | None = None) -> dict:
    today = today or timezone.localdate()
    branches = list(branches)
    boards = [dashboard.branch_dashboard(b, today=today) for b in branches]
    today_rows: list[Row] = []
    if boards:
        for i, tile in enumerate(boards[0]["tiles"]):
            values = [board["tiles"][i].value for board in boards]
            today_rows.append(Row(tile.code, tile.name, tile.kind, [*values, _sum(values)]))
    chain = chain_month([b.pk for b in branches], today=today)
    month_rows: list[Row] = []
    if boards:
        for i, fig in enumerate(boards[0]["month"]):
            values = [board["month"][i].value for board in boards]
            month_rows.append(Row(fig.code, fig.name, fig.kind, [*values, chain[fig.code]]))
    target_rows: list[Row] = []
    if boards:
        for i, t in enumerate(boards[0]["targets"]):
            target_rows.append(
                Row(t["code"], t["label"], "ratio", [board["targets"][i]["value"] for board in boards])
            )
    return {
        "today": today,
        "branches": branches,
        "today_rows": today_rows,
        "month_rows": month_rows,
        "target_rows": target_rows,
        "targets": {t["code"]: t["target"] for t in (boards[0]["targets"] if boards else [])},
        "periods": dashboard.periods(today),
        "chain_label": _("Chain total"),
    }
