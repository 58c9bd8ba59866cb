from __future__ import annotations

from django import template

from .. import nav

register = template.Library()


@register.inclusion_tag("portal/_nav.html", takes_context=True)
def portal_nav(context):
    return {"items": nav.items(), "current": context.get("nav", "")}


@register.filter
def pct5(value) -> int:
    """A percentage rounded down to a step of 5, for the ``pw-N`` width classes."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return 0
    return max(0, min(100, n - n % 5))
