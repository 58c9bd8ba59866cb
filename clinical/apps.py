from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClinicalConfig(AppConfig):
    """Layer 5 (DESIGN.md §2): the dental chart, clinical notes, attachments, treatment plans
    with senior review and their execution on visits, tracing. Above appointments, below
    marketing: it calls appointments' services; followups hears of it through
    ``clinical.signals`` and the ``visit_completed`` of the charge lines plans become."""

    name = "clinical"
    verbose_name = _("Clinical records")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from clinic.navigation import NavItem, register
        from members.registry import ProfileTab, register_merge_field, register_profile_tab

        from . import admin, labels, profile, receivers, tracing  # noqa: F401
        from .models import ClinicalAttachment, ClinicalNote, ToothFinding, TreatmentPlan

        receivers.connect()
        tracing.register_defaults()
        from . import privacy as _privacy

        _privacy.register()
        for model in (ToothFinding, ClinicalNote, ClinicalAttachment, TreatmentPlan):
            register_merge_field(model, "member")
        register_profile_tab(
            ProfileTab(
                key="clinical",
                label=_("Clinical record"),
                template="clinical/_member_tab.html",
                context=profile.profile_tab,
                permission="clinic.view_medical",
                order=35,
            )
        )
        register(
            NavItem(
                "clinical:review_queue",
                _("Plan review"),
                "bi-clipboard2-check",
                ("clinical.review_treatmentplan",),
                order=25,
                group="clinical",
            )
        )
        register(
            NavItem(
                "clinical:trace",
                _("Patient tracing"),
                "bi-diagram-3",
                ("clinical.trace_patients",),
                order=26,
                # Beside the reports for managers and HQ (one navbar row at 1280 px); a senior
                # doctor, who sees no other report, gets it as a plain link.
                group="reports",
            )
        )
        from clinic.navigation import NavGroup, register_group

        register_group(NavGroup("clinical", _("Clinical"), "bi-heart-pulse"))
