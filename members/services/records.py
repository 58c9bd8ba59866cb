"""The person record itself: registration, edits, stage, medical alerts, reveals, visits and
reception at another branch. Each service owns its transaction and writes its audit row
inside it; sensitive values never enter the audit log, only the fact that they changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.errors import DomainError
from clinic.models import Branch
from clinic.phones import PhoneError, mask_email, mask_phone, national_digits, normalize_phone
from clinic.services import audit_record

from .. import crypto, names
from ..errors import MemberError
from ..idnumbers import IdNumberError, birth_date_of, gender_of, mask_id_number, normalize_id_number
from ..models import (
    MEDICAL_CONDITIONS,
    AcquisitionChannel,
    Member,
    MemberStatus,
    Stage,
    Tag,
)
from ..registry import REGISTRATION_FIELDS
from ..selectors import likely_duplicates

# Fields a profile edit may change (the rest have services of their own).
EDITABLE_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "phone",
    "other_contacts",
    "wechat_id",
    "email",
    "id_number",
    "address",
    "occupation",
    "channel",
    "consultant",
    "notes",
    "stage",
    "language",
    "preferred_channel",
)
_SENSITIVE = {"id_number"}
_EMAIL_MAX = 254
_STAGE_ORDER = {Stage.LEAD: 0, Stage.PATIENT: 1, Stage.MEMBER: 2}


def clean_phone(raw: str) -> str:
    if not (raw or "").strip():
        return ""
    try:
        return normalize_phone(raw)
    except PhoneError as exc:
        raise MemberError(_("This is not a valid phone number."), field="phone") from exc


def clean_email(raw: str) -> str:
    """Lower-case domain, no spaces; blank stays blank. The same form the outbox uses."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    value = (raw or "").strip()
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError as exc:
        raise MemberError(_("This is not a valid e-mail address."), field="email") from exc
    if len(value) > _EMAIL_MAX:
        raise MemberError(_("This is not a valid e-mail address."), field="email")
    local, _at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


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
    if field == "email":
        return mask_email(value) if value else ""
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
    email: str = "",
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
    email = clean_email(email)
    id_number = clean_id_number(id_number)
    birth_date = clean_birth_date(birth_date)
    if id_number:
        id_birth = birth_date_of(id_number)
        if birth_date and birth_date != id_birth:
            raise MemberError(_("The birth date does not match the ID number."), field="birth_date")
        birth_date, gender = id_birth, gender or gender_of(id_number)
    if stage not in Stage.values:
        raise MemberError(_("Unknown stage."), field="stage")
    id_hashes = set(crypto.lookup_hashes(id_number)) if id_number else set()
    dupes = list(likely_duplicates(phone=phone, name=name, id_number=id_number))
    if id_hashes and any(d.id_number_hash in id_hashes for d in dupes):
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
        email=email,
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
    if "email" in fields:
        fields["email"] = clean_email(fields["email"])
    if "id_number" in fields:
        fields["id_number"] = clean_id_number(fields["id_number"])
        if fields["id_number"]:
            taken = Member.objects.filter(id_number_hash__in=crypto.lookup_hashes(fields["id_number"]))
            if taken.exclude(pk=member.pk).exists():
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
_REVEAL_AUDIT_ACTION = {
    "phone": "members.member.phone_revealed",
    "id_number": "members.member.id_number_revealed",
}


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
        action=_REVEAL_AUDIT_ACTION[field],
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
def member_receive_at_branch(*, actor, member: Member, branch: Branch, query: str) -> Member:
    """A person of another branch walks in: this branch may now open their record.

    Only from a chain-wide search that found them exactly (full phone, card or ID number,
    ``query`` is what was typed), at most ``MEMBERS_RECEIVE_PER_HOUR`` people per user per
    hour, and recorded twice: at the receiving branch and at the home branch, whose manager
    sees it in the audit log of that branch (an id cannot be counted through to pull another
    branch's register)."""
    from django.conf import settings

    from clinic.models import AuditLog

    from ..selectors import receive_found_by

    member = _lock(member)
    _require_active(member)
    if member.branch_id == branch.pk or member.served_branches.filter(pk=branch.pk).exists():
        return member
    found_by = receive_found_by(member, query)
    if not found_by:
        raise MemberError(
            _("Receive a person from a search by their full phone number, card number or ID number."),
            code="not_found_exactly",
        )
    limit = settings.MEMBERS_RECEIVE_PER_HOUR
    since = timezone.now() - dt.timedelta(hours=1)
    done = AuditLog.objects.filter(
        actor=actor, action="members.member.received_at_branch", at__gte=since
    ).count()
    if done >= limit:
        raise MemberError(
            _("You have received %(limit)s people from other branches in the last hour: ask a manager.")
            % {"limit": limit},
            code="rate_limited",
        )
    member.served_branches.add(branch)
    changes = {"branch": branch.code, "home_branch": member.branch.code, "found_by": found_by}
    audit_record(
        actor=actor, action="members.member.received_at_branch", target=member, branch=branch, changes=changes
    )
    audit_record(
        actor=actor,
        action="members.member.received_by_other_branch",
        target=member,
        branch=member.branch,
        changes=changes,
    )
    return member


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
