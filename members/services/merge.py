"""Merging a duplicate record into the one that stays."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.services import audit_record

from ..errors import MemberError
from ..models import (
    CommunicationLog,
    Consent,
    FamilyLink,
    Member,
    MemberStatus,
)
from ..registry import MERGE_FIELDS
from .records import _STAGE_ORDER, fill_derived

# --- merge --------------------------------------------------------------------------------

_MERGE_FILL = (
    "gender",
    "birth_date",
    "phone",
    "other_contacts",
    "wechat_id",
    "email",
    "id_number",
    "address",
    "occupation",
    "channel_id",
    "consultant_id",
    "last_visit_at",
)


@transaction.atomic
def member_merge(*, actor, source: Member, target: Member) -> dict[str, int]:
    """Merge ``source`` into ``target``: every registered related row moves to the target,
    blank fields of the target are filled from the source, notes and medical alerts are
    combined, and the source is kept as a ``merged`` tombstone pointing at the target (so
    nothing is lost and old references still resolve). Returns the rows moved per model."""
    if source.pk == target.pk:
        raise MemberError(_("Choose two different records."))
    # Lock both in id order so two merges of the same pair cannot deadlock.
    locked = {m.pk: m for m in Member.objects.select_for_update().filter(pk__in=[source.pk, target.pk])}
    source, target = locked[source.pk], locked[target.pk]
    for m in (source, target):
        if m.status != MemberStatus.ACTIVE:
            raise MemberError(_("Only active records can be merged."), code="inactive")
    moved: dict[str, int] = {}
    card_no = source.card_no
    if card_no and target.card_no:
        raise MemberError(_("Both records have a membership card; cancel one card first."), code="two_cards")
    for (label, field_name), spec in MERGE_FIELDS.items():
        if spec.before_move:
            spec.before_move(source, target)
        count = spec.model._default_manager.filter(**{field_name: source}).update(**{field_name: target})
        if count:
            moved[f"{label}.{field_name}"] = count
    filled = []
    if card_no:
        source.card_no = None
        source.save(update_fields=["card_no"])
        target.card_no = card_no
        filled.append("card_no")
    for attr in _MERGE_FILL:
        if not getattr(target, attr) and getattr(source, attr):
            setattr(target, attr, getattr(source, attr))
            filled.append(attr)
    if source.last_visit_at and target.last_visit_at and source.last_visit_at > target.last_visit_at:
        target.last_visit_at = source.last_visit_at
    # The person's first visit is the earlier of the two records' (recall reads it).
    if source.first_visit_at and (not target.first_visit_at or source.first_visit_at < target.first_visit_at):
        target.first_visit_at = source.first_visit_at
        filled.append("first_visit_at")
    if _STAGE_ORDER[source.stage] > _STAGE_ORDER[target.stage]:
        target.stage = source.stage
        filled.append("stage")
    for attr in ("notes", "allergies", "dental_history"):
        theirs = getattr(source, attr)
        if theirs and theirs not in getattr(target, attr):
            setattr(target, attr, "\n".join(filter(None, [getattr(target, attr), theirs])))
            filled.append(attr)
    conditions = set(filter(None, target.conditions.split(","))) | set(
        filter(None, source.conditions.split(","))
    )
    target.conditions = ",".join(sorted(conditions))
    target.has_medical_alerts = bool(target.allergies or target.conditions)
    target.marketing_opt_out = target.marketing_opt_out or source.marketing_opt_out
    target.tags.add(*source.tags.all())
    target.served_branches.add(*source.served_branches.all())
    if source.branch_id != target.branch_id:
        target.served_branches.add(source.branch_id)
    fill_derived(target)
    target.updated_at = timezone.now()
    target.save()
    source.status = MemberStatus.MERGED
    source.merged_into = target
    source.updated_at = timezone.now()
    source.save(update_fields=["status", "merged_into", "updated_at"])
    audit_record(
        actor=actor,
        action="members.member.merged",
        target=target,
        changes={"source": source.pk, "source_name": source.name, "moved": moved, "filled": filled},
    )
    audit_record(actor=actor, action="members.member.merged_away", target=source, changes={"into": target.pk})
    return moved


def _consent_before_move(source: Member, target: Member) -> dict:
    # One active consent per kind: the target's own stands; the source's becomes history.
    kinds = Consent.objects.filter(member=target, withdrawn_at__isnull=True).values_list("kind", flat=True)
    Consent.objects.filter(member=source, withdrawn_at__isnull=True, kind__in=list(kinds)).update(
        withdrawn_at=timezone.now(), note="merged duplicate"
    )
    return {}


def _family_before_move(source: Member, target: Member) -> dict:
    # Links between the two records would become self-links: they go.
    FamilyLink.objects.filter(member=source, relative=target).delete()
    FamilyLink.objects.filter(member=target, relative=source).delete()
    # A relative linked to both records keeps the target's link.
    both = FamilyLink.objects.filter(member=target).values_list("relative_id", flat=True)
    FamilyLink.objects.filter(member=source, relative_id__in=list(both)).delete()
    back = FamilyLink.objects.filter(relative=target).values_list("member_id", flat=True)
    FamilyLink.objects.filter(relative=source, member_id__in=list(back)).delete()
    return {}


def _register_own_merge_fields() -> None:
    from ..registry import register_merge_field

    register_merge_field(Consent, "member", before_move=_consent_before_move)
    register_merge_field(Consent, "guardian")
    register_merge_field(FamilyLink, "member", before_move=_family_before_move)
    register_merge_field(FamilyLink, "relative")
    register_merge_field(CommunicationLog, "member")
