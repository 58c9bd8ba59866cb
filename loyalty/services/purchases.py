"""Purchases: the paid visits that tiers and points are computed from."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch, ServiceCategory
from clinic.money import to_money
from clinic.params import parse_int
from clinic.services import audit_record
from members.models import Member

from ..errors import LoyaltyError
from ..models import AllowanceUse, EarnCategoryRate, Membership, Purchase, Tier
from .ledger import points_earn, points_reverse, policy
from .tiers import tier_evaluate_upgrade


def _normalise_categories(eligible: dict | None) -> dict[str, Decimal]:
    """Keys may be category ids or codes; values amounts. Returns {id: amount}."""
    if not eligible:
        return {}
    codes = {str(k) for k in eligible if parse_int(str(k)) is None}
    by_code = dict(ServiceCategory.objects.filter(code__in=codes).values_list("code", "pk")) if codes else {}
    out: dict[str, Decimal] = {}
    for key, value in eligible.items():
        pk = parse_int(str(key))
        pk = pk if pk is not None else by_code.get(str(key))
        if pk is None:
            raise LoyaltyError(
                _("Unknown service category: %(code)s") % {"code": key}, field="eligible_by_category"
            )
        amount = to_money(value)
        if amount < 0:
            raise LoyaltyError(_("An amount cannot be negative."), field="eligible_by_category")
        out[str(pk)] = out.get(str(pk), Decimal(0)) + amount
    return out


def points_for(amount: Decimal, eligible: dict[str, Decimal], tier: Tier) -> int:
    """Paid amount × rate (per category where HQ set one) × tier multiplier, rounded down
    once at the end. Without a category split the whole amount earns at the policy rate."""
    rate = policy().points_per_yuan
    if eligible:
        overrides = dict(
            EarnCategoryRate.objects.filter(category_id__in=[int(k) for k in eligible]).values_list(
                "category_id", "points_per_yuan"
            )
        )
        base = sum((v * overrides.get(int(k), rate) for k, v in eligible.items()), Decimal(0))
    else:
        base = amount * rate
    return max(math.floor(base * tier.points_multiplier), 0)


@transaction.atomic
def purchase_record(
    *,
    actor,
    member: Member,
    amount: Decimal,
    source_key: str,
    occurred_at: dt.datetime | None = None,
    eligible_by_category: dict | None = None,
    branch: Branch | None = None,
    counts_as_visit: bool = True,
) -> Purchase:
    """Record a paid purchase (idempotent on ``source_key``: a second call returns the first
    row with ``was_created`` False). A member earns its points (key ``<source_key>:earn``,
    at the multiplier of the tier held at checkout), then is upgraded at once if the last
    12 months now qualify for a higher tier. A non-member's purchases count toward the tier
    they will get when they enrol."""
    source_key = (source_key or "").strip()
    if not source_key:
        raise ValueError("a purchase needs a source key")
    amount = to_money(amount)
    if amount < 0:
        raise LoyaltyError(_("An amount cannot be negative."), field="amount")
    existing = Purchase.objects.filter(source_key=source_key).first()
    if existing is not None:
        existing.was_created = False
        return existing
    eligible = _normalise_categories(eligible_by_category)
    occurred_at = occurred_at or timezone.now()
    try:
        with transaction.atomic():
            purchase = Purchase.objects.create(
                member=member,
                branch=branch or member.branch,
                source_key=source_key,
                amount=amount,
                eligible_by_category={k: str(v) for k, v in eligible.items()},
                counts_as_visit=counts_as_visit,
                occurred_at=occurred_at,
            )
    except IntegrityError:  # the same checkout recorded concurrently: the first one stands
        existing = Purchase.objects.get(source_key=source_key)
        existing.was_created = False
        return existing
    purchase.was_created = True
    audit_record(
        actor=actor,
        action="loyalty.purchase.recorded",
        target=member,
        branch=purchase.branch,
        changes={"source": source_key, "amount": amount, "purchase": purchase.pk},
    )
    membership = (
        Membership.objects.select_for_update().select_related("tier", "member").filter(member=member).first()
    )
    if membership is None:
        return purchase
    points = points_for(amount, eligible, membership.tier)
    if points:
        points_earn(
            actor=actor,
            member=member,
            points=points,
            idempotency_key=f"{source_key}:earn",
            source_key=source_key,
            earned_at=occurred_at,
        )
    tier_evaluate_upgrade(actor=actor, membership=membership, source_key=source_key)
    return purchase


@transaction.atomic
def purchase_reverse(*, actor, source_key: str, reason: str = "") -> Purchase | None:
    """A refund or void: the purchase stops counting toward tiers (a tier already reached
    is kept until its anniversary review), its points are reversed, and the allowances it
    used (``source_key`` itself or ``<source_key>:…``) are given back. Idempotent."""
    purchase = Purchase.objects.select_for_update().filter(source_key=source_key).first()
    if purchase is None:
        return None
    if purchase.reversed_at is not None:
        return purchase
    purchase.reversed_at = timezone.now()
    purchase.save(update_fields=["reversed_at"])
    points_reverse(actor=actor, earn_key=f"{source_key}:earn", reason=reason)
    from .allowances import allowance_restore

    for use in AllowanceUse.objects.filter(restored_at__isnull=True, source_key__startswith=source_key):
        if use.source_key == source_key or use.source_key.startswith(f"{source_key}:"):
            allowance_restore(actor=actor, source_key=use.source_key)
    audit_record(
        actor=actor,
        action="loyalty.purchase.reversed",
        target=purchase.member,
        branch=purchase.branch,
        changes={"source": source_key, "amount": purchase.amount, "reason": reason},
    )
    return purchase
