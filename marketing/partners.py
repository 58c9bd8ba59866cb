"""Writes of referral partners (转诊单位): the partner, its contacts and its contract terms.
Each service has its own transaction and audit row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch, ServiceCategory
from clinic.money import to_money
from clinic.selectors import user_branch_ids
from clinic.services import audit_record

from .errors import MarketingError
from .models import Partner, PartnerContact, RebateKind, RebateTerm

PARTNER_FIELDS = ("name", "kind", "branch", "account_manager", "phone", "address", "notes", "is_active")


def _check_branch(actor, branch: Branch) -> None:
    ids = user_branch_ids(actor)
    if ids is not None and branch.pk not in ids:
        raise MarketingError(_("You may only look after partners of your own branches."), field="branch")


def _value(instance, name: str):
    return (
        getattr(instance, f"{name}_id") if name in ("branch", "account_manager") else getattr(instance, name)
    )


@transaction.atomic
def partner_create(*, actor, branch: Branch, name: str, kind: str, **fields) -> Partner:
    """A new partner of ``branch`` (one of the actor's); names are unique per branch."""
    _check_branch(actor, branch)
    partner = Partner(branch=branch, name=name.strip(), kind=kind)
    for key, value in fields.items():
        if key not in PARTNER_FIELDS:
            raise TypeError(key)
        setattr(partner, key, value)
    try:
        with transaction.atomic():
            partner.save()
    except IntegrityError as exc:
        raise MarketingError(_("This branch already has a partner of that name."), field="name") from exc
    audit_record(
        actor=actor,
        action="marketing.partner.created",
        target=partner,
        changes={f: _value(partner, f) for f in PARTNER_FIELDS},
    )
    return partner


@transaction.atomic
def partner_update(*, actor, partner: Partner, **fields) -> Partner:
    """Change a partner's details; the audit row holds every changed field as [old, new]."""
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if "branch" in fields:
        _check_branch(actor, fields["branch"])
    changes = {}
    for key, value in fields.items():
        if key not in PARTNER_FIELDS:
            raise TypeError(key)
        old = _value(partner, key)
        setattr(partner, key, value)
        new = _value(partner, key)
        if old != new:
            changes[key] = [old, new]
    if not changes:
        return partner
    try:
        with transaction.atomic():
            partner.save()
    except IntegrityError as exc:
        raise MarketingError(_("This branch already has a partner of that name."), field="name") from exc
    audit_record(actor=actor, action="marketing.partner.changed", target=partner, changes=changes)
    return partner


@transaction.atomic
def partner_contact_add(
    *, actor, partner: Partner, name: str, title: str = "", phone: str = "", notes: str = ""
) -> PartnerContact:
    contact = PartnerContact.objects.create(
        partner=partner, name=name.strip(), title=title.strip(), phone=phone.strip(), notes=notes.strip()
    )
    audit_record(
        actor=actor,
        action="marketing.partner.contact_added",
        target=partner,
        changes={"contact": contact.pk, "name": contact.name, "title": contact.title},
    )
    return contact


@transaction.atomic
def partner_contact_remove(*, actor, contact: PartnerContact) -> None:
    audit_record(
        actor=actor,
        action="marketing.partner.contact_removed",
        target=contact.partner,
        changes={"contact": contact.pk, "name": contact.name, "title": contact.title},
    )
    contact.delete()


@transaction.atomic
def rebate_term_add(
    *,
    actor,
    partner: Partner,
    kind: str,
    valid_from: dt.date,
    valid_until: dt.date | None = None,
    category: ServiceCategory | None = None,
    percent: Decimal | None = None,
    amount: Decimal | None = None,
    notes: str = "",
) -> RebateTerm:
    """A contract term. A percentage is of the money actually collected (0 < % ≤ 100); a fixed
    amount is paid once per person, for their first paid visit. Terms are never edited once
    made (rebates point at them): a changed contract is a new term, the old one ended."""
    if kind == RebateKind.PERCENT:
        if percent is None or not (0 < percent <= 100):
            raise MarketingError(_("Give a percentage above 0 and at most 100."), field="percent")
        percent, amount = Decimal(percent).quantize(Decimal("0.01")), None
    elif kind == RebateKind.FIXED:
        if amount is None or to_money(amount) <= 0:
            raise MarketingError(_("Give an amount above zero."), field="amount")
        percent, amount = None, to_money(amount)
    else:
        raise MarketingError(_("Unknown kind of rebate."), field="kind")
    if valid_until is not None and valid_until < valid_from:
        raise MarketingError(_("The end cannot be before the start."), field="valid_until")
    term = RebateTerm.objects.create(
        partner=partner,
        kind=kind,
        category=category,
        percent=percent,
        amount=amount,
        valid_from=valid_from,
        valid_until=valid_until,
        notes=notes.strip(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="marketing.rebate_term.created",
        target=partner,
        changes={
            "term": term.pk,
            "kind": kind,
            "category": category.code if category else None,
            "percent": percent,
            "amount": amount,
            "valid_from": valid_from,
            "valid_until": valid_until,
        },
    )
    return term


@transaction.atomic
def rebate_term_end(*, actor, term: RebateTerm, last_day: dt.date | None = None) -> RebateTerm:
    """End a term on ``last_day`` (default today): checkouts after it earn nothing from it.
    Rebates already earned stay."""
    term = RebateTerm.objects.select_for_update().select_related("partner").get(pk=term.pk)
    last_day = last_day or timezone.localdate()
    if last_day < term.valid_from:
        raise MarketingError(_("The end cannot be before the start."), field="valid_until")
    if term.valid_until is not None and term.valid_until <= last_day:
        raise MarketingError(_("This term has ended already."), code="state")
    old = term.valid_until
    term.valid_until = last_day
    term.save(update_fields=["valid_until"])
    audit_record(
        actor=actor,
        action="marketing.rebate_term.ended",
        target=term.partner,
        changes={"term": term.pk, "valid_until": [old, last_day]},
    )
    return term
