"""Consents, the marketing opt-out, family links and the communication log."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch
from clinic.services import audit_record

from ..errors import MemberError
from ..models import (
    CommunicationLog,
    Consent,
    ConsentKind,
    FamilyLink,
    Member,
    Relation,
)
from .records import _lock, _require_active


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
