"""Template helpers of the funnel pages."""

from __future__ import annotations

from django import template
from django.utils.http import urlencode
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{value:.1f}%"


@register.filter
def days(value) -> str:
    """A median in calendar days: ``3`` or ``2.5``, "—" when nobody reached the stage."""
    if value is None:
        return "—"
    value = round(float(value), 1)
    number = int(value) if value == int(value) else value
    return _("%(n)s d") % {"n": number}


@register.filter
def add_class(field, css: str):
    return field.as_widget(attrs={"class": css})


@register.simple_tag
def drill_query(base: dict, stage: str, row, by: str, split) -> str:
    """The drill-down address of one number: the funnel's filters, the stage, the row's key
    (0 for "no partner") and its month when the table is split by month."""
    query = dict(base)
    query["stage"] = stage
    if by == "total":
        query.pop("by", None)
        query["by"] = "month"
    elif by == "month":
        query["month"] = row.month.isoformat()
    else:
        query["key"] = row.key if row.key is not None else 0
        if split and row.month:
            query["month"] = row.month.isoformat()
    return urlencode(query)
