"""Labels of the marketing app's codes (clinic.labels): what staff read in the audit log, the
job monitor and the message templates."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, job_names, message_templates
from clinic.notifications.contact_cap import register_capped

audit_actions.register(
    {
        "marketing.consultation.logged": _("Consultation logged"),
        "marketing.consultation.updated": _("Consultation changed"),
        "marketing.consultation.booked": _("Booked from a consultation"),
        "marketing.consultation.sms_queued": _("Message queued from a consultation"),
        "marketing.consultation.step_done": _("Consultation next step done"),
        "marketing.consultation.closed": _("Consultation closed"),
        "marketing.attribution.fixed": _("First source fixed"),
        "marketing.visit_touch.recorded": _("Visit source recorded"),
        "marketing.visit_touch.voided": _("Visit source withdrawn"),
        "marketing.partner.contact_added": _("Partner contact added"),
        "marketing.partner.contact_removed": _("Partner contact removed"),
        "marketing.rebate.accrued": _("Rebate accrued"),
        "marketing.rebate.reversed": _("Rebate reversed"),
        "marketing.rebate_term.created": _("Rebate term added"),
        "marketing.rebate_term.ended": _("Rebate term ended"),
        "marketing.statement.exported": _("Rebate statement exported"),
        "marketing.statement.settled": _("Rebate statement settled"),
        "marketing.campaign.created": _("Campaign created"),
        "marketing.campaign.changed": _("Campaign changed"),
        "marketing.campaign.price_set": _("Member-day price set"),
        "marketing.campaign.price_removed": _("Member-day price removed"),
        "marketing.campaign.signed_up": _("Signed up for a campaign"),
        "marketing.campaign.cancelled": _("Campaign sign-up cancelled"),
        "marketing.campaign.promoted": _("Moved up from the campaign waiting list"),
        "marketing.campaign.checked_in": _("Checked in at a campaign"),
        "marketing.campaign.rewarded": _("Campaign attendance rewarded"),
        "marketing.campaign.drawn": _("Campaign lucky draw"),
        "marketing.segment.created": _("Segment created"),
        "marketing.segment.changed": _("Segment changed"),
        "marketing.segment.deleted": _("Segment deleted"),
        "marketing.segment.exported": _("Segment exported (masked)"),
        "marketing.broadcast.created": _("Broadcast created"),
        "marketing.broadcast.audience_fixed": _("Broadcast audience fixed"),
        "marketing.broadcast.approved": _("Broadcast approved"),
        "marketing.broadcast.queued": _("Broadcast queued"),
        "marketing.broadcast.cancelled": _("Broadcast cancelled"),
    }
)
job_names.register(
    {
        "marketing.enrolments_sync": _("Funnel enrolment stage update"),
        "marketing.funnel_refresh": _("Funnel monthly rollup"),
        "marketing.campaign_reminders": _("Campaign reminders"),
    }
)
register_capped(["marketing.campaign_reminder_day", "marketing.campaign_reminder_soon"])
message_templates.register(
    {
        "marketing.consultation_booked": _("Booking confirmed after a consultation"),
        "marketing.consultation_address": _("Address after a consultation"),
        "marketing.campaign_reminder_day": _("Campaign reminder the day before"),
        "marketing.campaign_reminder_soon": _("Campaign reminder 2 hours before"),
    }
)
