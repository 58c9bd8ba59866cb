from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    """Layer 3 (DESIGN.md §2): items, batches and the stock ledger per branch. Uses only
    ``clinic``; appointments (above) records what a charge line used and calls the services."""

    name = "inventory"
    verbose_name = _("Inventory")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from clinic.navigation import HomePanel, NavItem, register, register_home_panel

        from . import admin, labels, tasks  # noqa: F401  (admin, labels, Celery)
        from .panels import home_alerts

        register(
            NavItem(
                "inventory:stock",
                _("Stock"),
                "bi-box-seam",
                ("inventory.view_stockbalance",),
                order=70,
                group="more",
            )
        )
        register_home_panel(
            HomePanel(
                key="inventory.alerts",
                template="inventory/_home_alerts.html",
                context=home_alerts,
                permissions=("inventory.view_stock_reports",),
                order=50,
            )
        )
