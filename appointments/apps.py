from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = _("Appointments")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from clinic.navigation import NavItem, register
        from members.registry import (
            ProfileTab,
            register_merge_field,
            register_profile_tab,
            register_timeline_source,
        )

        from . import timeline
        from .models import Appointment, AppointmentEvent, Visit

        register(
            NavItem(
                "appointments:today",
                _("Today"),
                "bi-clipboard-pulse",
                ("appointments.view_appointment",),
                order=5,
            )
        )
        register(
            NavItem(
                "appointments:day",
                _("Appointments"),
                "bi-calendar3",
                ("appointments.view_appointment",),
                order=20,
            )
        )
        register_merge_field(Appointment, "member")
        register_merge_field(AppointmentEvent, "member")
        register_merge_field(Visit, "member")
        register_timeline_source(
            "appointments.events", timeline.events, permission="appointments.view_appointment"
        )
        register_timeline_source("appointments.implants", timeline.implants, permission="clinic.view_medical")
        register_profile_tab(
            ProfileTab(
                key="appointments",
                label=_("Appointments & visits"),
                template="appointments/_member_tab.html",
                context=timeline.profile_tab,
                permission="appointments.view_appointment",
                order=30,
            )
        )

        from . import privacy as _privacy

        _privacy.register()
