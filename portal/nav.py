"""The portal's bottom navigation: a registry, so pages added later (bookings, events) put
their own entry in without editing the base template. An entry whose URL name does not
resolve is left out (an app not installed)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class PortalNavItem:
    url_name: str
    label: object  # a lazy translation
    key: str  # what a page passes as ``nav`` to be marked current
    order: int = 50


_ITEMS: dict[str, PortalNavItem] = {}


def register(item: PortalNavItem) -> None:
    _ITEMS[item.key] = item


def items() -> list[dict]:
    out = []
    for item in sorted(_ITEMS.values(), key=lambda i: (i.order, i.key)):
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        out.append({"url": url, "label": item.label, "key": item.key})
    return out
