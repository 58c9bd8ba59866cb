"""Labels of the appointments app's codes (clinic.labels): audit actions, periodic jobs and
message templates."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, job_names, message_templates

audit_actions.register(
    {
        "appointments.booking.created": _("Appointment booked"),
        "appointments.booking.moved": _("Appointment moved"),
        "appointments.booking.overbooked": _("Double booking allowed"),
        "appointments.booking.confirmed": _("Appointment confirmed"),
        "appointments.booking.arrived": _("Arrived"),
        "appointments.booking.treatment_started": _("Treatment started"),
        "appointments.booking.completed": _("Appointment completed"),
        "appointments.booking.cancelled": _("Appointment cancelled"),
        "appointments.booking.no_show": _("Marked as no-show"),
        "appointments.shift.created": _("Weekly shift set"),
        "appointments.shift.leave": _("Leave entered"),
        "appointments.shift.extra": _("Extra shift entered"),
        "appointments.visit.opened": _("Visit opened"),
        "appointments.visit.line_added": _("Charge line added"),
        "appointments.visit.line_removed": _("Charge line removed"),
        "appointments.visit.material_added": _("Material added to a visit"),
        "appointments.visit.material_removed": _("Material removed from a visit"),
        "appointments.visit.checked_out": _("Visit checked out"),
        "appointments.visit.voided": _("Visit voided"),
        "appointments.visit.refunded": _("Visit partly refunded"),
    }
)
job_names.register(
    {
        "appointments.send_reminders": _("Appointment reminders"),
        "appointments.mark_no_shows": _("Mark no-shows"),
    }
)
message_templates.register(
    {
        "appointments.reminder": _("Appointment reminder"),
        "appointments.moved": _("Appointment moved"),
        "appointments.cancelled": _("Appointment cancelled"),
    }
)
