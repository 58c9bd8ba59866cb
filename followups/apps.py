from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupsConfig(AppConfig):
    """Layer 7 (DESIGN.md §2): follow-up plans after treatment, recall tied to loyalty,
    dormant-member reactivation, care messages and satisfaction surveys. Listens to
    appointments' ``visit_completed`` and ``visit_voided``; nothing below imports it."""

    name = "followups"
    verbose_name = _("Follow-ups")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from members.registry import register_merge_field

        from .models import Task

        register_merge_field(Task, "member")
        # Recall, dormancy, care and surveys (recall_receivers.py).
        from . import recall_receivers

        recall_receivers.connect()
