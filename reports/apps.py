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

        from . import close_tasks, export_tasks, labels, rollup_tasks  # noqa: F401  (labels, Celery)
        from .cashup import VIEW_PERM as CASHUP_PERM
        from .dashboard import VIEW_PERM
        from .frontdesk import VIEW_PERM as FRONT_PERM
        from .hq import VIEW_PERM as HQ_PERM
        from .month_close import VIEW_PERM as MONTHS_PERM

        # One "Reports" dropdown holds every report page, so the navbar keeps its width (a role
        # seeing one of them gets a plain link).
        register_group(NavGroup("reports", _("Reports"), "bi-clipboard-data"))

        def item(url_name, label, icon, perms, order):
            register(NavItem(url_name, label, icon, perms, order=order, group="reports"))

        item("reports:dashboard", _("Dashboard"), "bi-speedometer2", (VIEW_PERM,), 5)
        item("reports:hq", _("HQ: all branches"), "bi-buildings", (HQ_PERM,), 6)
        item("reports:frontdesk", _("Front desk"), "bi-clipboard-check", (FRONT_PERM,), 7)
        item("reports:cashup", _("End-of-day cash-up"), "bi-cash-coin", (CASHUP_PERM,), 8)
        item("reports:operations", _("Operations"), "bi-clock-history", (VIEW_PERM,), 9)
        item("reports:customers", _("Customer analysis"), "bi-people", (VIEW_PERM,), 10)
        item("reports:marketing", _("Marketing analysis"), "bi-funnel", (VIEW_PERM,), 11)
        item("reports:audit_log", _("Audit log"), "bi-journal-text", ("clinic.view_auditlog",), 12)
        # Everyone sees their own performance, managers everyone's (staff_views).
        item("reports:staff", _("Performance"), "bi-person-badge", (), 12)
        item("reports:months", _("Closed months"), "bi-calendar-check", (MONTHS_PERM,), 13)

        # Start pages after signing in: HQ the every-branch view, a manager the branch dashboard,
        # the front desk its day (a manager holds that permission too; the lower order wins).
        register_landing("reports:hq", HQ_PERM, order=5)
        register_landing("reports:dashboard", VIEW_PERM, order=10)
        register_landing("reports:frontdesk", FRONT_PERM, order=20)
