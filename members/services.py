"""Every write to the person record. Each service owns its transaction and writes its audit
row inside it. Sensitive values (ID number, medical notes) never enter the audit log: only
the fact that they changed, and masked forms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.errors import DomainError
from clinic.models import Branch
from clinic.phones import PhoneError, mask_phone, national_digits, normalize_phone
from clinic.services import audit_record

from . import crypto, names
from .errors import MemberError
from .idnumbers import IdNumberError, birth_date_of, gender_of, mask_id_number, normalize_id_number
from .models import (
    MEDICAL_CONDITIONS,
    AcquisitionChannel,
    CommunicationLog,
    Consent,
    ConsentKind,
    FamilyLink,
    Member,
    MemberStatus,
    Relation,
    Stage,
    Tag,
    medical_retention_until,
)
from .registry import MERGE_FIELDS, REGISTRATION_FIELDS
from .selectors import likely_duplicates

# Fields a profile edit may change (the rest have services of their own).
EDITABLE_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "phone",
    "other_contacts",
    "wechat_id",
    "id_number",
    "address",
    "occupation",
    "channel",
    "consultant",
    "notes",
    "stage",
    "language",
)
_SENSITIVE = {"id_number"}
_STAGE_ORDER = {Stage.LEAD: 0, Stage.PATIENT: 1, Stage.MEMBER: 2}


def clean_phone(raw: str) -> str:
    if not (raw or "").strip():
        return ""
    try:
        return normalize_phone(raw)
    except PhoneError as exc:
        raise MemberError(_("This is not a valid phone number."), field="phone") from exc


def clean_id_number(raw: str) -> str:
    if not (raw or "").strip():
        return ""
    try:
        return normalize_id_number(raw)
    except IdNumberError as exc:
        raise MemberError(
            _("This ID number is not valid (wrong length, date or check digit)."), field="id_number"
        ) from exc


def clean_birth_date(value: dt.date | None) -> dt.date | None:
    if value is None:
        return None
    today = timezone.localdate()
    if value > today or value.year < 1900:
        raise MemberError(_("The birth date must be in the past."), field="birth_date")
    return value


def fill_derived(member: Member) -> None:
    """Search columns and masked forms, from the name, phone and ID number."""
    member.name = " ".join(member.name.split())
    member.pinyin_full = names.pinyin_full(member.name)
    member.pinyin_initials = names.pinyin_initials(member.name)
    member.name_grams = names.name_grams(member.name)
    if member.phone:
        # A Chinese mobile (+861…, the common case) needs no parsing.
        cn_mobile = member.phone.startswith("+861") and len(member.phone) == 14
        digits = member.phone[3:] if cn_mobile else national_digits(member.phone)
        member.phone_digits, member.phone_last4 = digits, digits[-4:]
    else:
        member.phone_digits = member.phone_last4 = ""
    if member.id_number:
        member.id_number_hash = crypto.lookup_hash(member.id_number)
        member.id_number_masked = mask_id_number(member.id_number)
    else:
        member.id_number_hash = member.id_number_masked = ""


def _audit_value(member: Member, field: str, value: Any) -> Any:
    if field == "id_number":
        return mask_id_number(value) if value else ""
    if field == "phone":
        return mask_phone(value) if value else ""
    if hasattr(value, "pk"):
        return value.pk
    return value


@transaction.atomic
def member_register(
    *,
    actor,
    branch: Branch,
    name: str,
    phone: str = "",
    gender: str = "",
    birth_date: dt.date | None = None,
    id_number: str = "",
    stage: str = Stage.LEAD,
    channel: AcquisitionChannel | None = None,
    consultant=None,
    tags: Iterable[Tag] = (),
    other_contacts: str = "",
    wechat_id: str = "",
    address: str = "",
    occupation: str = "",
    notes: str = "",
    language: str = "zh-hans",
    allow_duplicate: bool = False,
    extras: Mapping[str, Any] | None = None,
) -> Member:
    """Register a person. Birth date and gender are taken from the ID number when given.

    A likely duplicate (same ID number; same phone and a similar name) is refused with
    ``code="duplicate"`` unless ``allow_duplicate``; the same ID number is always refused.
    Families may share a phone, so a shared phone alone is no duplicate.

    ``extras`` are the values of registration fields higher apps registered (``registry.
    RegistrationField``: the referrer), saved in this transaction: if one is refused, the
    person is not registered either, and the ``MemberError`` names that field.
    """
    name = " ".join((name or "").split())
    if not name:
        raise MemberError(_("Enter the person's name."), field="name")
    phone = clean_phone(phone)
    id_number = clean_id_number(id_number)
    birth_date = clean_birth_date(birth_date)
    if id_number:
        id_birth = birth_date_of(id_number)
        if birth_date and birth_date != id_birth:
            raise MemberError(_("The birth date does not match the ID number."), field="birth_date")
        birth_date, gender = id_birth, gender or gender_of(id_number)
    if stage not in Stage.values:
        raise MemberError(_("Unknown stage."), field="stage")
    id_hash = crypto.lookup_hash(id_number) if id_number else ""
    dupes = list(likely_duplicates(phone=phone, name=name, id_number_hash=id_hash))
    if id_hash and any(d.id_number_hash == id_hash for d in dupes):
        raise MemberError(
            _("A person with this ID number is already registered."), code="duplicate", field="id_number"
        )
    if dupes and not allow_duplicate:
        raise MemberError(
            _("A person with this phone and a similar name is already registered: %(names)s.")
            % {"names": "、".join(f"{d.name}（{d.branch}）" for d in dupes)},
            code="duplicate",
            field="phone",
        )
    now = timezone.now()
    member = Member(
        name=name,
        phone=phone,
        gender=gender,
        birth_date=birth_date,
        id_number=id_number,
        stage=stage,
        branch=branch,
        channel=channel,
        consultant=consultant,
        other_contacts=other_contacts,
        wechat_id=wechat_id,
        address=address,
        occupation=occupation,
        notes=notes,
        language=language,
        created_by=actor if getattr(actor, "pk", None) else None,
        updated_by=actor if getattr(actor, "pk", None) else None,
        created_at=now,
        updated_at=now,
    )
    fill_derived(member)
    member.save()
    tags = list(tags)
    if tags:
        member.tags.set(tags)
    audit_record(
        actor=actor,
        action="members.member.registered",
        target=member,
        changes={
            "name": name,
            "phone": mask_phone(phone),
            "stage": stage,
            "branch": branch.code,
            "id_number": bool(id_number),
            "duplicate_warning_overridden": bool(dupes),
        },
    )
    for name, value in (extras or {}).items():
        hook = REGISTRATION_FIELDS.get(name)
        if hook is None:
            raise ValueError(f"no registration field {name!r} is registered")
        try:
            hook.save(actor=actor, member=member, value=value)
        except DomainError as exc:
            # Leaving the transaction with this error rolls the registration back too.
            raise MemberError(exc.message, code=exc.code, field=name) from exc
    return member


def _lock(member: Member) -> Member:
    return Member.objects.select_for_update().get(pk=member.pk)


def _require_active(member: Member) -> None:
    if member.status != MemberStatus.ACTIVE:
        raise MemberError(_("This record is restricted or closed and cannot be changed."), code="inactive")


@transaction.atomic
def member_update(*, actor, member: Member, tags: Iterable[Tag] | None = None, **fields: Any) -> Member:
    """Change profile fields (``EDITABLE_FIELDS``). The stage never moves backwards."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    member = _lock(member)
    _require_active(member)
    if "phone" in fields:
        fields["phone"] = clean_phone(fields["phone"])
    if "id_number" in fields:
        fields["id_number"] = clean_id_number(fields["id_number"])
        if fields["id_number"]:
            id_hash = crypto.lookup_hash(fields["id_number"])
            if Member.objects.filter(id_number_hash=id_hash).exclude(pk=member.pk).exists():
                raise MemberError(
                    _("A person with this ID number is already registered."),
                    code="duplicate",
                    field="id_number",
                )
            fields.setdefault("birth_date", birth_date_of(fields["id_number"]))
            if fields["birth_date"] != birth_date_of(fields["id_number"]):
                raise MemberError(_("The birth date does not match the ID number."), field="birth_date")
    if "birth_date" in fields:
        fields["birth_date"] = clean_birth_date(fields["birth_date"])
    if "name" in fields:
        fields["name"] = " ".join((fields["name"] or "").split())
        if not fields["name"]:
            raise MemberError(_("Enter the person's name."), field="name")
    if "stage" in fields and _STAGE_ORDER.get(fields["stage"], -1) < _STAGE_ORDER[member.stage]:
        raise MemberError(_("The stage cannot move backwards."), field="stage")
    changes: dict[str, list[Any]] = {}
    for key, value in fields.items():
        old = getattr(member, key)
        if old != value:
            changes[key] = [_audit_value(member, key, old), _audit_value(member, key, value)]
            setattr(member, key, value)
    if tags is not None:
        new_tags = sorted(t.pk for t in tags)
        old_tags = sorted(member.tags.values_list("pk", flat=True))
        if new_tags != old_tags:
            changes["tags"] = [old_tags, new_tags]
            member.tags.set(new_tags)
    if changes:
        fill_derived(member)
        member.updated_at = timezone.now()
        member.updated_by = actor if getattr(actor, "pk", None) else None
        member.save()
        audit_record(actor=actor, action="members.member.changed", target=member, changes=changes)
    return member


@transaction.atomic
def member_stage_advance(*, actor, member: Member, stage: str, card_no: str | None = None) -> Member:
    """Move lead → patient → member (the card number comes from loyalty's enrolment)."""
    member = _lock(member)
    if _STAGE_ORDER[stage] < _STAGE_ORDER[member.stage]:
        raise MemberError(_("The stage cannot move backwards."), field="stage")
    changes: dict[str, Any] = {}
    if stage != member.stage:
        changes["stage"] = [member.stage, stage]
        member.stage = stage
    if card_no is not None and card_no != member.card_no:
        card_no = card_no.strip().upper()
        if Member.objects.filter(card_no=card_no).exclude(pk=member.pk).exists():
            raise MemberError(_("This card number is already in use."), field="card_no")
        changes["card_no"] = [member.card_no, card_no]
        member.card_no = card_no
    if changes:
        member.updated_at = timezone.now()
        member.save(update_fields=["stage", "card_no", "updated_at"])
        audit_record(actor=actor, action="members.member.stage_changed", target=member, changes=changes)
    return member


@transaction.atomic
def member_medical_update(
    *, actor, member: Member, allergies: str, conditions: Iterable[str], dental_history: str
) -> Member:
    """Medical alerts. The audit row names what changed, never the medical content."""
    member = _lock(member)
    _require_active(member)
    valid = {code for code, _label in MEDICAL_CONDITIONS}
    codes = [c for c in conditions if c]
    if set(codes) - valid:
        raise MemberError(_("Unknown condition."), field="conditions")
    new = {
        "allergies": (allergies or "").strip(),
        "conditions": ",".join(sorted(set(codes))),
        "dental_history": (dental_history or "").strip(),
    }
    changed = [k for k, v in new.items() if getattr(member, k) != v]
    if not changed:
        return member
    for key, value in new.items():
        setattr(member, key, value)
    member.has_medical_alerts = bool(new["allergies"] or new["conditions"])
    member.updated_at = timezone.now()
    member.save(
        update_fields=[*new.keys(), "has_medical_alerts", "updated_at"],
    )
    audit_record(
        actor=actor,
        action="members.medical.changed",
        target=member,
        changes={"fields": changed, "has_medical_alerts": member.has_medical_alerts},
    )
    return member


REVEALABLE = {"phone": "clinic.reveal_contact", "id_number": "clinic.reveal_id_number"}


@transaction.atomic
def member_reveal(*, actor, member: Member, field: str, ip_address: str | None = None) -> str:
    """The full phone or ID number, for a role allowed to see it; audited every time."""
    perm = REVEALABLE.get(field)
    if perm is None:
        raise MemberError(_("This field cannot be revealed."))
    if not actor.has_perm(perm):
        raise MemberError(_("Your role may not see this in full."), code="forbidden")
    if member.status != MemberStatus.ACTIVE:
        raise MemberError(_("This record is restricted: its personal data is hidden."), code="inactive")
    value = getattr(member, field) or ""
    audit_record(
        actor=actor,
        action=f"members.member.{field}_revealed",
        target=member,
        changes={"field": field},
        ip_address=ip_address,
    )
    if field == "phone" and value:
        return national_digits(value)
    return value


@transaction.atomic
def medical_view_record(*, actor, member: Member) -> None:
    """Opening a person's medical alerts is a read of protected data: audited."""
    audit_record(actor=actor, action="members.medical.viewed", target=member)


@transaction.atomic
def consent_grant(
    *,
    actor,
    member: Member,
    kind: str,
    channel: str,
    guardian: Member | None = None,
    granted_at: dt.datetime | None = None,
    note: str = "",
) -> Consent:
    """Record a consent. A child under 14 needs the guardian's consent first (PIPL art. 31)."""
    member = _lock(member)
    _require_active(member)
    if kind not in ConsentKind.values:
        raise MemberError(_("Unknown consent."), field="kind")
    if kind == ConsentKind.GUARDIAN:
        if guardian is None:
            raise MemberError(_("Choose the guardian who gives the consent."), field="guardian")
        if not FamilyLink.objects.filter(member=member, relative=guardian, is_guardian=True).exists():
            raise MemberError(_("Link the guardian to this person first."), field="guardian")
    elif (
        member.needs_guardian_consent
        and not Consent.objects.filter(
            member=member, kind=ConsentKind.GUARDIAN, withdrawn_at__isnull=True
        ).exists()
    ):
        raise MemberError(_("This person is under 14: record the guardian's consent first."), field="kind")
    if Consent.objects.filter(member=member, kind=kind, withdrawn_at__isnull=True).exists():
        raise MemberError(_("This consent is already on record."), code="exists", field="kind")
    consent = Consent.objects.create(
        member=member,
        kind=kind,
        channel=channel,
        guardian=guardian,
        granted_at=granted_at or timezone.now(),
        granted_by=actor if getattr(actor, "pk", None) else None,
        note=note,
    )
    audit_record(
        actor=actor,
        action="members.consent.granted",
        target=member,
        changes={"kind": kind, "channel": channel, "consent": consent.pk},
    )
    return consent


@transaction.atomic
def consent_withdraw(*, actor, consent: Consent, note: str = "") -> Consent:
    """Withdraw at once: from this commit on, ``member_notify`` refuses this purpose."""
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if consent.withdrawn_at is not None:
        return consent
    consent.withdrawn_at = timezone.now()
    consent.withdrawn_by = actor if getattr(actor, "pk", None) else None
    if note:
        consent.note = (f"{consent.note} / {note}" if consent.note else note)[:200]
    consent.save(update_fields=["withdrawn_at", "withdrawn_by", "note"])
    audit_record(
        actor=actor,
        action="members.consent.withdrawn",
        target=consent.member,
        changes={"kind": consent.kind, "consent": consent.pk},
    )
    return consent


@transaction.atomic
def member_opt_out_set(*, actor, member: Member, opt_out: bool) -> Member:
    member = _lock(member)
    if member.marketing_opt_out != opt_out:
        member.marketing_opt_out = opt_out
        member.save(update_fields=["marketing_opt_out"])
        audit_record(
            actor=actor,
            action="members.member.opt_out_changed",
            target=member,
            changes={"marketing_opt_out": [not opt_out, opt_out]},
        )
    return member


@transaction.atomic
def family_link_add(
    *, actor, member: Member, relative: Member, relation: str, is_guardian: bool = False
) -> FamilyLink:
    """Link two people both ways. A guardian must be an adult."""
    if member.pk == relative.pk:
        raise MemberError(_("A person cannot be their own relative."), field="relative")
    if relation not in Relation.values:
        raise MemberError(_("Unknown relation."), field="relation")
    if is_guardian and relative.age is not None and relative.age < 18:
        raise MemberError(_("A guardian must be an adult."), field="relative")
    if FamilyLink.objects.filter(member=member, relative=relative).exists():
        raise MemberError(_("These two people are already linked."), field="relative")
    link = FamilyLink.objects.create(
        member=member, relative=relative, relation=relation, is_guardian=is_guardian
    )
    FamilyLink.objects.get_or_create(
        member=relative, relative=member, defaults={"relation": Relation.inverse(relation)}
    )
    audit_record(
        actor=actor,
        action="members.family.linked",
        target=member,
        changes={"relative": relative.pk, "relation": relation, "is_guardian": is_guardian},
    )
    return link


@transaction.atomic
def family_link_remove(*, actor, link: FamilyLink) -> None:
    member, relative = link.member, link.relative
    FamilyLink.objects.filter(member=member, relative=relative).delete()
    FamilyLink.objects.filter(member=relative, relative=member).delete()
    audit_record(
        actor=actor, action="members.family.unlinked", target=member, changes={"relative": relative.pk}
    )


@transaction.atomic
def communication_log_add(
    *,
    actor,
    member: Member,
    channel: str,
    direction: str,
    summary: str,
    at: dt.datetime | None = None,
    branch: Branch | None = None,
) -> CommunicationLog:
    summary = (summary or "").strip()
    if not summary:
        raise MemberError(_("Write a short summary of the contact."), field="summary")
    if at and at > timezone.now() + dt.timedelta(minutes=5):
        raise MemberError(_("The time cannot be in the future."), field="at")
    entry = CommunicationLog.objects.create(
        member=member,
        channel=channel,
        direction=direction,
        summary=summary,
        at=at or timezone.now(),
        staff=actor if getattr(actor, "pk", None) else None,
        branch=branch or member.branch,
    )
    audit_record(
        actor=actor,
        action="members.communication.logged",
        target=member,
        changes={"channel": channel, "direction": direction, "entry": entry.pk},
    )
    return entry


@transaction.atomic
def member_receive_at_branch(*, actor, member: Member, branch: Branch) -> Member:
    """A person of another branch walks in: this branch may now open their record."""
    member = _lock(member)
    _require_active(member)
    if member.branch_id != branch.pk and not member.served_branches.filter(pk=branch.pk).exists():
        member.served_branches.add(branch)
        audit_record(
            actor=actor,
            action="members.member.received_at_branch",
            target=member,
            branch=branch,
            changes={"branch": branch.code, "home_branch": member.branch.code},
        )
    return member


# --- merge --------------------------------------------------------------------------------

_MERGE_FILL = (
    "gender",
    "birth_date",
    "phone",
    "other_contacts",
    "wechat_id",
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
def member_data_export_record(*, actor, member: Member, fmt: str) -> None:
    """A person's own data was exported for them: audited."""
    audit_record(actor=actor, action="members.member.data_exported", target=member, changes={"format": fmt})


def _register_own_merge_fields() -> None:
    from .registry import register_merge_field

    register_merge_field(Consent, "member", before_move=_consent_before_move)
    register_merge_field(Consent, "guardian")
    register_merge_field(FamilyLink, "member", before_move=_family_before_move)
    register_merge_field(FamilyLink, "relative")
    register_merge_field(CommunicationLog, "member")


@transaction.atomic
def member_visit_record(*, actor, member: Member, at: dt.datetime) -> Member:
    """A paid visit was checked out (appointments): the last visit moves forward, never back
    (a voided visit keeps it: the person did come), and a lead becomes a patient. The
    medical-record retention clock runs from ``last_visit_at``."""
    member = _lock(member)
    changes: dict[str, list[Any]] = {}
    if member.last_visit_at is None or at > member.last_visit_at:
        changes["last_visit_at"] = [member.last_visit_at, at]
        member.last_visit_at = at
    if member.stage == Stage.LEAD:
        changes["stage"] = [member.stage, Stage.PATIENT]
        member.stage = Stage.PATIENT
    if changes:
        member.updated_at = timezone.now()
        member.save(update_fields=["last_visit_at", "stage", "updated_at"])
        audit_record(actor=actor, action="members.member.visited", target=member, changes=changes)
    return member
