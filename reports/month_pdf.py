"""The monthly management report (月度经营报告) of a closed month as a PDF (clinic.pdf: the
project's CJK font, nothing fetched from the network): the frozen KPIs beside today's figures,
the daily revenue and visits drawn as SVG on the server, and the frozen staff performance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import mark_safe

from . import month_close, staff
from .close_models import MonthClose
from .rollup_models import DailyRollup


def daily(close: MonthClose) -> list[dict]:
    """Revenue and visits per day of the month from the daily rollups."""
    lo, hi = month_close.month_bounds(close.month)
    rows: dict = {}
    for r in DailyRollup.objects.filter(
        branch=close.branch, day__gte=lo, day__lt=hi, dimension="", metric__in=("revenue", "visits")
    ):
        rows.setdefault(r.day, {})[r.metric] = r.value
    out = []
    day = lo
    while day < hi:
        r = rows.get(day, {})
        out.append({"day": day, "revenue": r.get("revenue", Decimal(0)), "visits": int(r.get("visits", 0))})
        day += dt.timedelta(days=1)
    return out


def bar_chart_svg(values: list[tuple[str, float]], *, title: str, width: int = 680, height: int = 180) -> str:
    """A bar chart as inline SVG (labels every fifth bar, the maximum on the axis)."""
    left, bottom, top = 48, 22, 18
    plot_w, plot_h = width - left - 8, height - bottom - top
    top_value = max((v for _label, v in values), default=0) or 1
    step = plot_w / max(len(values), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="12" font-size="10" fill="#333">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" stroke="#999" stroke-width="0.5"/>',
        f'<text x="{left - 4}" y="{top + 8}" font-size="8" text-anchor="end" fill="#555">{top_value:,.0f}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="8" text-anchor="end" fill="#555">0</text>',
    ]
    for i, (label, value) in enumerate(values):
        h = plot_h * (value / top_value)
        x = left + i * step + step * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="#0f766e"/>'
        )
        if i % 5 == 0:
            parts.append(
                f'<text x="{x + step * 0.35:.1f}" y="{height - 8}" font-size="8" text-anchor="middle" '
                f'fill="#555">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def context(close: MonthClose) -> dict:
    from django.utils.translation import gettext as _

    days = daily(close)
    return {
        "close": close,
        "lines": month_close.comparison(close),
        "staff_sections": staff.load(close.staff),
        "revenue_svg": mark_safe(
            bar_chart_svg(
                [(f"{d['day']:%d}", float(d["revenue"])) for d in days], title=_("Revenue by day (yuan)")
            )
        ),
        "visits_svg": mark_safe(
            bar_chart_svg([(f"{d['day']:%d}", float(d["visits"])) for d in days], title=_("Visits by day"))
        ),
    }
