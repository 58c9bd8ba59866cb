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
        from . import labels, rollup_tasks  # noqa: F401  (labels, Celery)
