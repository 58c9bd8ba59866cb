"""Labels of the followups app's codes (clinic.labels): what staff read in the audit log, the
job monitor and the message templates."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, job_names, message_templates
from clinic.notifications.contact_cap import register_capped

audit_actions.register(
    {
        "followups.task.created": _("Follow-up task created"),
        "followups.task.attempted": _("Follow-up attempt recorded"),
        "followups.task.reassigned": _("Follow-up task reassigned"),
        "followups.task.closed": _("Follow-up task closed"),
        "followups.task.sms_sent": _("Follow-up message sent"),
        "followups.task.superseded": _("Follow-up task replaced by a newer one"),
        "followups.tasks.cancelled": _("Follow-up tasks cancelled"),
        "followups.tasks.escalated": _("Overdue follow-up tasks escalated"),
        "followups.tasks.reassigned": _("Follow-up tasks reassigned together"),
        "followups.task.closed_by_visit": _("Follow-up task closed by a visit"),
        "followups.reactivation.opened": _("Dormant customer reactivation opened"),
        "followups.survey.answered": _("Satisfaction survey answered"),
        "followups.event_survey.answered": _("Event survey answered"),
        "followups.recall.due_set": _("Recall due date set by hand"),
        "followups.recall.kept": _("Recall kept on time"),
        "followups.recall.synced": _("Recalls brought up to date"),
        "followups.recall.visit_voided": _("Recall visit voided"),
        "followups.recall.visited": _("Recall visit recorded"),
    }
)
job_names.register(
    {
        "followups.plans.generate": _("Follow-up tasks from visits"),
        "followups.plans.escalate": _("Overdue follow-up escalation"),
        "followups.recall_nightly": _("Recalls and dormant customers, nightly"),
        "followups.recall_reminders": _("Recall reminders"),
        "followups.care_daily": _("Birthday, holiday and anniversary greetings"),
        "followups.surveys_send": _("Satisfaction survey invitations"),
        "followups.event_surveys_send": _("Event survey invitations"),
    }
)
# Service by purpose, but marketing contact for the contact cap (counted and held by it).
register_capped(
    ["followups.birthday", "followups.birthday_coupon", "followups.recall_early", "followups.recall_due"]
)
message_templates.register(
    {
        "followups.care": _("Care instructions"),
        "followups.call_back": _("Missed follow-up call"),
        "followups.book_invite": _("Invitation to book a check-up"),
        "followups.escalated": _("Overdue follow-up tasks"),
        "followups.recall_early": _("Check-up due soon"),
        "followups.recall_due": _("Check-up due today"),
        "followups.birthday": _("Birthday greeting"),
        "followups.birthday_coupon": _("Birthday greeting with a coupon"),
        "followups.holiday": _("Holiday greeting"),
        "followups.anniversary_visit": _("Anniversary of the first visit"),
        "followups.anniversary_enrol": _("Membership anniversary"),
        "followups.survey": _("Satisfaction survey invitation"),
        "followups.event_survey": _("Event feedback invitation"),
    }
)
