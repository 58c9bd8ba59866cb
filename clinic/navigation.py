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
    # The key of a ``NavGroup``: items of one group share a dropdown when a user sees two
    # or more of them, and show as a plain link when they see one.
    group: str = ""

    def visible_to(self, user) -> bool:
        if self.staff_only and not user.is_staff:
            return False
        return all(user.has_perm(p) for p in self.permissions)


@dataclass(frozen=True)
class NavGroup:
    key: str
    label: str | Promise
    icon: str


NAV_ITEMS: list[NavItem] = []
# Landing pages by permission (apps register theirs in ``ready``): after signing in, a user
# goes to the first one, by order, whose permission they hold; else to the home page.
LANDINGS: list[tuple[int, str, str]] = []


def register_landing(url_name: str, permission: str, order: int = 100) -> None:
    if all(existing[1] != url_name for existing in LANDINGS):
        LANDINGS.append((order, url_name, permission))
        LANDINGS.sort()


def landing_for(user) -> str:
    for _order, url_name, permission in LANDINGS:
        if user.has_perm(permission):
            return url_name
    return "home"


NAV_GROUPS: dict[str, NavGroup] = {}


def register_group(group: NavGroup) -> None:
    NAV_GROUPS.setdefault(group.key, group)


def register(item: NavItem) -> None:
    if all(existing.url_name != item.url_name for existing in NAV_ITEMS):
        NAV_ITEMS.append(item)
        NAV_ITEMS.sort(key=lambda i: i.order)


def items_for(user) -> list[NavItem]:
    if not user.is_authenticated:
        return []
    return [item for item in NAV_ITEMS if item.visible_to(user)]


@dataclass
class MenuEntry:
    """One place in the navbar: a link (one item) or a dropdown (a group's items)."""

    items: list[NavItem]
    group: NavGroup | None = None

    @property
    def is_dropdown(self) -> bool:
        return self.group is not None and len(self.items) > 1

    @property
    def item(self) -> NavItem:
        return self.items[0]

    @property
    def url_names(self) -> set[str]:
        return {i.url_name for i in self.items}


def menu_for(user) -> list[MenuEntry]:
    """The user's navbar: their items in order, each group where its first item stands."""
    entries: list[MenuEntry] = []
    groups: dict[str, MenuEntry] = {}
    for item in items_for(user):
        group = NAV_GROUPS.get(item.group)
        if group is None:
            entries.append(MenuEntry([item]))
        elif item.group in groups:
            groups[item.group].items.append(item)
        else:
            groups[item.group] = MenuEntry([item], group)
            entries.append(groups[item.group])
    return entries


def register_defaults() -> None:
    register_group(NavGroup("benefits", _("Member benefits"), "bi-gift"))
    register_group(NavGroup("more", _("More"), "bi-grid"))
    register(NavItem("home", _("Home"), "bi-house", order=0))
    register(
        NavItem(
            "clinic:catalog",
            _("Services & prices"),
            "bi-list-check",
            ("clinic.view_serviceitem",),
            order=80,
            group="more",
        )
    )
    register(NavItem("admin:index", _("Administration"), "bi-gear", order=900, staff_only=True, group="more"))


@dataclass(frozen=True)
class HomePanel:
    """A panel of the staff home page that a higher app adds (e.g. the stock alerts):
    ``context(request)`` returns the template's context, or None to show nothing."""

    key: str
    template: str
    context: object
    permissions: tuple[str, ...] = ()
    order: int = 100


HOME_PANELS: list[HomePanel] = []


def register_home_panel(panel: HomePanel) -> None:
    if all(existing.key != panel.key for existing in HOME_PANELS):
        HOME_PANELS.append(panel)
        HOME_PANELS.sort(key=lambda p: p.order)


def home_panels_for(request) -> list[tuple[HomePanel, dict]]:
    out = []
    for panel in HOME_PANELS:
        if all(request.user.has_perm(p) for p in panel.permissions):
            context = panel.context(request)
            if context is not None:
                out.append((panel, context))
    return out
