"""What the consultations part plugs in at start-up (called from ``MarketingConfig.ready``):
merge fields, the profile tab and timeline, the arrival notes of appointments' day pages,
the navigation, the registration field, and the signal receivers."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


def ready() -> None:
    from appointments.registry import register_arrival_notes
    from clinic.navigation import NavGroup, NavItem, register, register_group
    from members.registry import (
        ProfileTab,
        register_merge_field,
        register_profile_tab,
        register_registration_field,
        register_timeline_source,
    )

    from . import consultation_receivers, consultation_tasks  # noqa: F401  (receivers, beat job)
    from .consultation_models import Consultation, VisitTouch
    from .consultation_profile import profile_tab, registration_field, timeline
    from .consultation_selectors import arrival_notes
    from .consultations import ADD_PERM, FUNNEL_PERM, VIEW_PERM

    register_merge_field(Consultation, "member")
    register_merge_field(Consultation, "referrer")
    register_merge_field(VisitTouch, "member")
    # One "Marketing" dropdown for whoever sees two of its screens (a manager: consultations,
    # the funnel, partners); a consultant or the front desk sees a plain 咨询 link.
    register_group(NavGroup("marketing", _("Marketing"), "bi-megaphone"))
    register(
        NavItem(
            "marketing:consult_mine",
            _("Consultations"),
            "bi-headset",
            (ADD_PERM,),
            order=12,
            group="marketing",
        )
    )
    register(
        NavItem(
            "marketing:consult_funnel", _("Funnel"), "bi-funnel", (FUNNEL_PERM,), order=70, group="marketing"
        )
    )
    register_timeline_source("marketing.consultations", timeline, permission=VIEW_PERM)
    register_profile_tab(
        ProfileTab(
            key="consultations",
            label=_("Consultations"),
            template="marketing/_member_consultations.html",
            context=profile_tab,
            permission=VIEW_PERM,
            order=25,
        )
    )
    register_arrival_notes(arrival_notes)
    register_registration_field(registration_field())
