from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """Layer 9 (DESIGN.md §2): KPIs, daily rollups, dashboards. Read-only over every app
    below it; nothing imports it."""

    name = "reports"
    verbose_name = _("Reports")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from clinic.navigation import NavGroup, NavItem, register, register_group, register_landing

        from . import close_tasks, labels, rollup_tasks  # noqa: F401  (labels, Celery)
        from .dashboard import VIEW_PERM
        from .month_close import VIEW_PERM as MONTHS_PERM

        # 报表: every report page shares one dropdown (one plain link while a role has one).
        register_group(NavGroup("reports", _("Reports"), "bi-bar-chart-line"))
        register(
            NavItem(
                "reports:dashboard", _("Dashboard"), "bi-speedometer2", (VIEW_PERM,), order=5, group="reports"
            )
        )
        register(
            NavItem(
                "reports:months",
                _("Closed months"),
                "bi-calendar-check",
                (MONTHS_PERM,),
                order=6,
                group="reports",
            )
        )
        register(
            NavItem(
                "reports:operations",
                _("Operations"),
                "bi-clock-history",
                (VIEW_PERM,),
                order=8,
                group="reports",
            )
        )
        register(
            NavItem(
                "reports:marketing",
                _("Marketing analysis"),
                "bi-funnel",
                (VIEW_PERM,),
                order=9,
                group="reports",
            )
        )
        register(
            NavItem(
                "reports:customers",
                _("Customer analysis"),
                "bi-people",
                (VIEW_PERM,),
                order=9,
                group="reports",
            )
        )
        # Everyone sees their own performance, managers everyone's (staff_views).
        register(NavItem("reports:staff", _("Performance"), "bi-person-badge", (), order=7, group="reports"))
        # The branch manager's (and HQ's) start page after signing in.
        register_landing("reports:dashboard", VIEW_PERM, order=10)
