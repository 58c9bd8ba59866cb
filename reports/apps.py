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

        from . import labels, rollup_tasks  # noqa: F401  (labels, Celery)
        from .cashup import VIEW_PERM as CASHUP_PERM
        from .dashboard import VIEW_PERM
        from .frontdesk import VIEW_PERM as FRONT_PERM
        from .hq import VIEW_PERM as HQ_PERM

        # One "Reports" dropdown holds the dashboard, the cash-up, the front desk's page and HQ's
        # view, so the navbar keeps its width (a role seeing one of them gets a plain link).
        register_group(NavGroup("reports", _("Reports"), "bi-clipboard-data"))
        register(
            NavItem(
                "reports:dashboard", _("Dashboard"), "bi-speedometer2", (VIEW_PERM,), order=5, group="reports"
            )
        )
        # The branch manager's (and HQ's) start page after signing in.
        register_landing("reports:dashboard", VIEW_PERM, order=10)
        register(
            NavItem(
                "reports:cashup",
                _("End-of-day cash-up"),
                "bi-cash-coin",
                (CASHUP_PERM,),
                order=6,
                group="reports",
            )
        )
        register(
            NavItem(
                "reports:frontdesk",
                _("Front desk"),
                "bi-clipboard-check",
                (FRONT_PERM,),
                order=7,
                group="reports",
            )
        )
        # The front desk's start page; a manager holds the dashboard's permission too, whose
        # lower order wins.
        register_landing("reports:frontdesk", FRONT_PERM, order=20)
        register(
            NavItem("reports:hq", _("HQ: all branches"), "bi-buildings", (HQ_PERM,), order=8, group="reports")
        )
        # HQ starts on the every-branch view (before the dashboard of one branch).
        register_landing("reports:hq", HQ_PERM, order=5)
