"""Navigation and home-page panels by role. Apps add their entries from ``AppConfig.ready``
instead of the base template knowing about them."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str | Promise
    icon: str
    permissions: tuple[str, ...] = ()
    order: int = 100
    staff_only: bool = False
    extra: dict = field(default_factory=dict)

    def visible_to(self, user) -> bool:
        if self.staff_only and not user.is_staff:
            return False
        return all(user.has_perm(p) for p in self.permissions)


NAV_ITEMS: list[NavItem] = []


def register(item: NavItem) -> None:
    if all(existing.url_name != item.url_name for existing in NAV_ITEMS):
        NAV_ITEMS.append(item)
        NAV_ITEMS.sort(key=lambda i: i.order)


def items_for(user) -> list[NavItem]:
    if not user.is_authenticated:
        return []
    return [item for item in NAV_ITEMS if item.visible_to(user)]


def register_defaults() -> None:
    register(NavItem("home", _("Home"), "bi-house", order=0))
    register(
        NavItem(
            "clinic:catalog",
            _("Services & prices"),
            "bi-list-check",
            ("clinic.view_serviceitem",),
            order=80,
        )
    )
    register(NavItem("admin:index", _("Administration"), "bi-gear", order=900, staff_only=True))
