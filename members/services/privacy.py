"""Privacy requests (PIPL): erasure or restriction where medical records must be kept, and
the record of a person's data export."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.phones import mask_phone
from clinic.services import audit_record

from ..errors import MemberError
from ..models import (
    CommunicationLog,
    Consent,
    FamilyLink,
    Member,
    MemberStatus,
    medical_retention_until,
)
from .records import _lock, fill_derived

# --- privacy requests -----------------------------------------------------------------------


def retention_reason(member: Member) -> dt.date | None:
    """The date until which medical records must be kept, or None when erasure is allowed.

    Medical records are kept 15 years after the last visit; a record with medical alerts
    but no visit counts from its last change."""
    until = medical_retention_until(member.last_visit_at)
    if until is None and (member.has_medical_alerts or member.dental_history):
        until = medical_retention_until(member.updated_at)
    if until and until > timezone.localdate():
        return until
    return None


@transaction.atomic
def member_erase(*, actor, member: Member, reason: str) -> str:
    """A person asks to be erased (PIPL art. 47). Returns ``"erased"`` or ``"restricted"``.

    - While medical records must be kept, the record is **restricted**: hidden from lists,
      personal data masked everywhere, no messages, no marketing, no edits.
    - Otherwise personal data is **erased**: the row stays as an anonymous tombstone (so
      visits and payments keep their foreign keys) with every personal field blanked, and the
      communication log, family links and tags are deleted.
    """
    reason = (reason or "").strip()
    if not reason:
        raise MemberError(_("Write down the request (who asked, when, how)."), field="reason")
    member = _lock(member)
    if member.status not in (MemberStatus.ACTIVE, MemberStatus.RESTRICTED):
        raise MemberError(_("This record is already closed."), code="inactive")
    now = timezone.now()
    Consent.objects.filter(member=member, withdrawn_at__isnull=True).update(
        withdrawn_at=now, withdrawn_by=actor if getattr(actor, "pk", None) else None
    )
    until = retention_reason(member)
    if until:
        member.status = MemberStatus.RESTRICTED
        member.restricted_at = now
        member.marketing_opt_out = True
        member.save(update_fields=["status", "restricted_at", "marketing_opt_out"])
        audit_record(
            actor=actor,
            action="members.member.restricted",
            target=member,
            changes={"reason": reason, "retain_until": until},
        )
        return "restricted"
    snapshot = {"name": member.name, "phone": mask_phone(member.phone)}
    for attr in (
        "phone",
        "other_contacts",
        "wechat_id",
        "email",
        "id_number",
        "address",
        "occupation",
        "notes",
        "allergies",
        "conditions",
        "dental_history",
    ):
        setattr(member, attr, "")
    member.name = _("(erased)")
    member.gender, member.birth_date, member.card_no = "", None, None
    member.has_medical_alerts = False
    member.marketing_opt_out = True
    member.status = MemberStatus.ERASED
    member.restricted_at = now
    fill_derived(member)
    member.name_grams, member.pinyin_full, member.pinyin_initials = [], "", ""
    member.save()
    member.tags.clear()
    CommunicationLog.objects.filter(member=member).delete()
    FamilyLink.objects.filter(member=member).delete()
    FamilyLink.objects.filter(relative=member).delete()
    audit_record(
        actor=actor,
        action="members.member.erased",
        target=member,
        changes={"reason": reason, "was": snapshot},
    )
    return "erased"


@transaction.atomic
def member_data_export_record(*, actor, member: Member, fmt: str, medical: bool = True) -> None:
    """A person's own data was exported for them: audited (with or without the medical part)."""
    audit_record(
        actor=actor,
        action="members.member.data_exported",
        target=member,
        changes={"format": fmt, "medical": medical},
    )
