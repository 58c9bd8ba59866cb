from __future__ import annotations

import datetime as dt

from django import template

from clinic.money import format_cny
from clinic.phones import mask_phone

register = template.Library()


@register.filter
def minutes(value: dt.timedelta | None) -> int:
    return int(value.total_seconds() // 60) if value else 0


@register.filter
def cny(value) -> str:
    return format_cny(value) if value is not None else ""


@register.filter
def masked_phone(value: str | None) -> str:
    return mask_phone(value)
