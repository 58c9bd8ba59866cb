from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupsConfig(AppConfig):
    """Layer 7 (DESIGN.md §2): follow-up plans after treatment, recall tied to loyalty,
    dormant-member reactivation, care messages, satisfaction surveys and the event survey after
    a campaign. Listens to appointments' ``visit_completed`` and ``visit_voided``, fills in
    marketing's campaign feedback registry; nothing below imports it."""

    name = "followups"
    verbose_name = _("Follow-ups")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from members.registry import register_merge_field

        from .models import Task

        register_merge_field(Task, "member")

        # Plans, tasks and the work list (plan_*.py, worklist.py).
        from clinic.navigation import NavGroup, NavItem, register, register_group

        # One "Follow-ups" dropdown: the work list, recalls, satisfaction (recall_receivers.py).
        register_group(NavGroup("followups", _("Follow-ups"), "bi-telephone-outbound"))
        register(
            NavItem(
                "followups:worklist",
                _("Work list"),
                "bi-telephone-outbound",
                ("followups.view_task",),
                order=40,
                group="followups",
            )
        )
        from . import plan_admin, plan_receivers, plan_tasks  # noqa: F401  (admin, signals, Celery)
        from .plan_models import ServiceRep

        register_merge_field(ServiceRep, "member", before_move=plan_receivers.rep_before_merge)
        from members.registry import ProfileTab, register_profile_tab, register_timeline_source

        from . import worklist

        register_profile_tab(
            ProfileTab(
                key="followups",
                label=_("Follow-ups"),
                template="followups/plan_member_tab.html",
                context=worklist.member_tab,
                permission="followups.view_task",
                order=40,
            )
        )
        register_timeline_source(
            "followups.attempts", worklist.member_timeline, permission="followups.view_task"
        )
        plan_receivers.connect()

        # Recall, dormancy, care and surveys (recall_receivers.py).
        from . import recall_receivers

        recall_receivers.connect()

        # The event survey's score on the campaign page (marketing sits below: its registry).
        from marketing.campaign_feedback import register_feedback_source

        from .event_surveys import campaign_feedback_summary

        register_feedback_source(campaign_feedback_summary)

        from . import privacy as _privacy

        _privacy.register()
