"""Labels of the complaints app's codes (clinic.labels)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions, change_keys, job_names, message_templates

audit_actions.register(
    {
        "complaints.complaint.received": _("Complaint received"),
        "complaints.complaint.acknowledged": _("Complaint acknowledged"),
        "complaints.complaint.investigating": _("Complaint investigation started"),
        "complaints.complaint.proposed": _("Complaint resolution proposed"),
        "complaints.complaint.accepted": _("Complaint resolution accepted"),
        "complaints.complaint.rejected": _("Complaint resolution not accepted"),
        "complaints.complaint.resolved": _("Complaint resolved"),
        "complaints.complaint.closed": _("Complaint closed after follow-up"),
        "complaints.complaint.reopened": _("Complaint reopened"),
        "complaints.complaint.paused": _("Complaint waiting on the customer"),
        "complaints.complaint.resumed": _("Complaint clock resumed"),
        "complaints.complaint.note": _("Complaint investigation note"),
        "complaints.complaint.statement": _("Complaint statement recorded"),
        "complaints.complaint.assigned": _("Complaint assigned"),
        "complaints.complaint.escalated": _("Complaint escalated"),
        "complaints.review.requested": _("Medical review requested"),
        "complaints.review.recorded": _("Medical review recorded"),
        "complaints.attachment.added": _("Complaint attachment added"),
        "complaints.attachment.viewed": _("Complaint attachment opened"),
        "complaints.make_good.requested": _("Make-good requested"),
        "complaints.make_good.given": _("Make-good given"),
        "complaints.make_good.rejected": _("Make-good rejected"),
    }
)
change_keys.register(
    {
        "channel": _("channel"),
        "severity": _("severity"),
        "category": _("category"),
        "member": _("person"),
        "attachments": _("attachments"),
        "text": _("text"),
        "level": _("level"),
        "to": _("to"),
        "assignee": _("handled by"),
        "reviewer": _("medical reviewer"),
        "finding": _("review finding"),
        "name": _("file name"),
        "size": _("size (bytes)"),
        "value": _("value (CNY)"),
        "working_days": _("working days paused"),
        "amount": _("amount"),
    }
)
job_names.register({"complaints.escalate": _("Complaint escalation")})
message_templates.register({"complaints.escalated": _("Complaint escalated")})
