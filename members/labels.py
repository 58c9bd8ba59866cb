"""Labels of the members app's codes (clinic.labels): what staff read in the audit log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clinic.labels import audit_actions

audit_actions.register(
    {
        "members.member.registered": _("Customer registered"),
        "members.tag.created": _("Tag created"),
        "members.tag.changed": _("Tag changed"),
        "members.member.changed": _("Customer record changed"),
        "members.member.stage_changed": _("Customer stage changed"),
        "members.member.visited": _("Visit recorded on the record"),
        "members.member.phone_revealed": _("Full phone number viewed"),
        "members.member.id_number_revealed": _("Full ID number viewed"),
        "members.member.opt_out_changed": _("Message opt-out changed"),
        "members.member.data_exported": _("Personal data exported"),
        "members.member.erased": _("Personal data erased"),
        "members.member.restricted": _("Processing restricted"),
        "members.member.merged": _("Duplicate record merged in"),
        "members.member.merged_away": _("Merged into another record"),
        "members.member.received_at_branch": _("Received at this branch"),
        "members.member.received_by_other_branch": _("Received by another branch"),
        "members.medical.changed": _("Medical history changed"),
        "members.medical.viewed": _("Medical history viewed"),
        "members.communication.logged": _("Communication logged"),
        "members.consent.granted": _("Consent given"),
        "members.consent.withdrawn": _("Consent withdrawn"),
        "members.family.linked": _("Family member linked"),
        "members.family.unlinked": _("Family link removed"),
        "members.import.uploaded": _("Import file uploaded"),
        "members.import.committed": _("Import committed"),
        "members.import.mapped": _("Import columns mapped"),
        "members.import.mapping_reset": _("Import column mapping reset"),
        "members.list.exported": _("Customer list exported"),
        "members.privacy.requested": _("Deletion of personal data requested"),
        "members.privacy.handled": _("Privacy request handled"),
        "members.keys.rekeyed": _("Search keys recomputed after a key change"),
    }
)
