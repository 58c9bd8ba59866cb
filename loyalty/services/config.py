"""Tier and points configuration edited by HQ in admin, and the bonus awards."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from django.db import transaction
from django.utils.translation import gettext as _

from clinic.services import record_save
from members.models import Member

from ..errors import LoyaltyError
from ..models import BonusKind, BonusRule, PointsEntry, Tier
from .ledger import points_earn


def tier_ladder_errors(tiers: Iterable[Tier]) -> list[str]:
    """Why this set of tiers cannot work, empty when it can. Over the active tiers by rank:
    the lowest is the entry tier and has no thresholds; every other tier has one at least;
    going up, a threshold both tiers use must strictly rise (equal thresholds overlap, lower
    ones are inverted); two neighbours must share a threshold so that they can be ordered."""
    ladder = sorted((t for t in tiers if t.is_active), key=lambda t: t.rank)
    errors: list[str] = []
    if not ladder:
        return [_("At least one tier must be active.")]
    if ladder[0].has_thresholds:
        errors.append(
            _("%(tier)s is the entry tier (lowest rank): it cannot have thresholds.")
            % {"tier": ladder[0].name}
        )
    for lower, higher in pairwise(ladder):
        if not higher.has_thresholds:
            errors.append(_("%(tier)s needs a qualifying amount or visit count.") % {"tier": higher.name})
            continue
        if not lower.has_thresholds:
            continue
        shared = False
        for field, label in (("qualify_amount", _("amount")), ("qualify_visits", _("visit count"))):
            low, high = getattr(lower, field), getattr(higher, field)
            if low is None or high is None:
                continue
            shared = True
            if high == low:
                errors.append(
                    _("%(higher)s and %(lower)s overlap: the same %(what)s threshold.")
                    % {"higher": higher.name, "lower": lower.name, "what": label}
                )
            elif high < low:
                errors.append(
                    _("%(higher)s ranks above %(lower)s but its %(what)s threshold is lower (inverted).")
                    % {"higher": higher.name, "lower": lower.name, "what": label}
                )
        if not shared:
            errors.append(
                _("%(higher)s and %(lower)s share no threshold, so they cannot be ordered.")
                % {"higher": higher.name, "lower": lower.name}
            )
    return errors


def tier_ladder_with(candidate: Tier) -> list[Tier]:
    others = [t for t in Tier.objects.exclude(pk=candidate.pk) if t.pk != candidate.pk]
    return [*others, candidate]


@transaction.atomic
def tier_save(*, actor, tier: Tier) -> Tier:
    """Save a tier edited in admin after checking the whole ladder; audited."""
    # Lock the table's rows so two admins cannot each save half of an inverted ladder.
    list(Tier.objects.select_for_update().all())
    errors = tier_ladder_errors(tier_ladder_with(tier))
    if errors:
        raise LoyaltyError(" ".join(errors), field="qualify_amount")
    return record_save(actor=actor, instance=tier)


@transaction.atomic
def points_bonus_award(
    *, actor, member: Member, kind: str, idempotency_key: str, source_key: str = ""
) -> PointsEntry | None:
    """Credit a configured bonus (referral, event attendance, survey, birthday, recall).
    None when HQ switched this bonus off. Idempotent on the key."""
    if kind not in BonusKind.values:
        raise LoyaltyError(_("Unknown bonus."), field="kind")
    rule = BonusRule.objects.filter(kind=kind, is_active=True).first()
    if rule is None or rule.points <= 0:
        return None
    return points_earn(
        actor=actor,
        member=member,
        points=rule.points,
        idempotency_key=idempotency_key,
        source_key=source_key,
        reason=kind,  # the code; reasons.reason_label puts it into words
        audit_action="loyalty.points.bonus_awarded",
    )
