from __future__ import annotations

import datetime as dt

from django import template

from clinic.money import format_cny, to_money
from clinic.phones import format_phone, mask_email, mask_phone

register = template.Library()


@register.filter
def minutes(value: dt.timedelta | None) -> int:
    return int(value.total_seconds() // 60) if value else 0


@register.filter
def cny(value) -> str:
    return format_cny(value) if value is not None else ""


@register.filter
def cny_off(value) -> str:
    """An amount taken off, e.g. a discount of 50 as ``-¥50.00`` (the one money format)."""
    return format_cny(-to_money(value)) if value is not None else ""


@register.filter
def phone(value: str | None) -> str:
    """A full phone number (a branch's, a revealed one) in national format."""
    return format_phone(value)


@register.filter
def masked_email(value: str | None) -> str:
    return mask_email(value)


@register.filter
def masked_phone(value: str | None) -> str:
    return mask_phone(value)
