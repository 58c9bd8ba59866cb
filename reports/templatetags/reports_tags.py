from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

from clinic.templatetags.clinic_tags import cny

register = template.Library()


@register.filter
def figure(value, kind: str = "count") -> str:
    """A KPI value as a manager reads it; None is "no data", never 0."""
    if value is None:
        return _("No data")
    if kind == "ratio":
        return f"{(Decimal(value) * 100).quantize(Decimal('0.1'))}%"
    if kind == "money":
        return cny(value)
    if kind == "score":
        return f"{Decimal(value).quantize(Decimal('0.1'))}"
    return f"{int(value):,}"


@register.filter
def cell(row: dict, code: str):
    """One figure of a staff-performance row (a dict) by column code."""
    return row.get(code)
