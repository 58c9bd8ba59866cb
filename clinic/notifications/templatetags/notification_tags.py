from __future__ import annotations

from django import template

from ..selectors import mask_recipient

register = template.Library()


@register.filter
def masked_recipient(row) -> str:
    return mask_recipient(row.channel, row.recipient)
