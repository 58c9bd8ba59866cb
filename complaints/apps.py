from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    """Layer 8 (DESIGN.md §2): complaints on a working-day clock, escalation, make-good and
    the closing review. Calls the services of the apps below and listens to followups'
    ``survey_bad_answer``; nothing below imports it."""

    name = "complaints"
    verbose_name = _("Complaints")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from clinic.navigation import NavItem, register
        from members.registry import register_merge_field

        from . import admin, receivers, tasks  # noqa: F401  (admin, signals, Celery)
        from .models import Complaint

        register_merge_field(Complaint, "member")
        receivers.connect()
        # Under the existing 回访 (follow-ups) dropdown: customer service and managers work
        # complaints beside their follow-up tasks; no new top-level entry (1280 px navbar).
        register(
            NavItem(
                "complaints:list",
                _("Complaints"),
                "bi-exclamation-octagon",
                ("complaints.view_complaint",),
                order=45,
                group="followups",
            )
        )

        from . import privacy as _privacy

        _privacy.register()
