"""Labels of the notification codes (clinic.labels): audit actions and the demo templates."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, job_names, message_templates

audit_actions.register(
    {
        "notifications.optout.set": _("Opted out of messages"),
        "notifications.optout.removed": _("Message opt-out removed"),
        "notifications.outbox.resent": _("Message sent again"),
    }
)
job_names.register({"notifications.send_due": _("Send due messages")})
# The demo programme's templates (clinic/notifications/demo.py, seed_demo).
message_templates.register(
    {
        "appointment.reminder": _("Appointment reminder"),
        "points.expiry": _("Points expiry reminder"),
        "birthday.care": _("Birthday greeting"),
        "complaint.reply": _("Complaint reply"),
    }
)
