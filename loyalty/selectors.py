"""Reads of loyalty data used by views, the profile panel and other apps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from clinic.models import ServiceCategory
from members.models import Member

from .models import Membership, PointsAccount, PointsEntry, PointsLot, Tier, TierCategoryDiscount
from .services.tiers import active_tiers, needed_for, rolling_stats


def membership_for(member: Member) -> Membership | None:
    return Membership.objects.select_related("tier", "branch").filter(member=member).first()


def member_has_priority_booking(member: Member) -> bool:
    """Used by appointments: may this person book the slots held back for top tiers?"""
    return Membership.objects.filter(member=member, tier__priority_booking=True).exists()


def tier_discount_percent(tier: Tier | None, category: ServiceCategory) -> Decimal:
    """The tier's discount for a service category: the category's own row, else the
    basic-care discount when the category is basic care, else none."""
    if tier is None:
        return Decimal(0)
    row = (
        TierCategoryDiscount.objects.filter(tier=tier, category=category)
        .values_list("percent", flat=True)
        .first()
    )
    if row is not None:
        return row
    return tier.basic_care_discount if category.is_basic_care else Decimal(0)


@dataclass(frozen=True)
class Progress:
    amount: Decimal
    visits: int
    next_tier: Tier | None
    amount_needed: Decimal | None
    visits_needed: int | None
    percent: int


def tier_progress(membership: Membership, *, now: dt.datetime | None = None) -> Progress:
    """Where the member stands in the rolling 12 months and what the next tier needs."""
    amount, visits = rolling_stats(membership.member, until=now)
    higher = [t for t in active_tiers() if t.rank > membership.tier.rank]
    if not higher:
        return Progress(amount, visits, None, None, None, 100)
    nxt = higher[0]
    more_amount, more_visits = needed_for(nxt, amount, visits)
    shares = []
    if nxt.qualify_amount:
        shares.append(min(float(amount / nxt.qualify_amount), 1.0))
    if nxt.qualify_visits:
        shares.append(min(visits / nxt.qualify_visits, 1.0))
    percent = int(100 * (max(shares) if shares else 0))
    return Progress(amount, visits, nxt, more_amount, more_visits, percent)


def open_lots(account: PointsAccount) -> QuerySet[PointsLot]:
    return PointsLot.objects.filter(account=account, remaining__gt=0).order_by("expires_on", "id")


def points_history(member: Member) -> QuerySet[PointsEntry]:
    """Every entry of every account the person has had (a merge brings a closed one)."""
    return (
        PointsEntry.objects.filter(account__member=member)
        .select_related("actor__staff")
        .order_by("-created_at", "-id")
    )


def open_balance(member: Member) -> int:
    return (
        PointsAccount.objects.filter(member=member, is_open=True).values_list("balance", flat=True).first()
        or 0
    )


def open_balances(member_ids) -> dict[int, int]:
    """``open_balance`` for many people in one query: member id → balance (members without
    an open account are absent)."""
    return dict(
        PointsAccount.objects.filter(member_id__in=list(member_ids), is_open=True).values_list(
            "member_id", "balance"
        )
    )


# Where a source key points: higher apps register a resolver for their prefix
# (``visit`` → the visit page), so the history links to it without loyalty importing them.
SOURCE_LINKS: dict[str, object] = {}


def register_source_link(prefix: str, fn) -> None:
    SOURCE_LINKS[prefix] = fn


def source_url(source_key: str) -> str:
    prefix, _sep, rest = (source_key or "").partition(":")
    fn = SOURCE_LINKS.get(prefix)
    if fn is None:
        return ""
    try:
        return fn(rest.split(":", 1)[0]) or ""
    except (NoReverseMatch, ValueError):
        return ""


def _source_kinds() -> dict[str, str]:
    from django.utils.translation import gettext

    return {
        "visit": gettext("Visit"),
        "enrol": gettext("Membership enrolment"),
        "referral": gettext("Referral"),
        "reward": gettext("Reward redemption"),
        "staff": gettext("Recorded by staff"),
        "survey": gettext("Follow-up survey"),
        "adjust": gettext("Manual adjustment"),
        "demo": gettext("Demo data"),
    }


def source_label(source_key: str) -> str:
    """What a source key is, in words a user reads: ``visit:2`` → 就诊 No. 2. Unknown
    prefixes (an import's own keys) are shown as they are."""
    from django.utils.translation import gettext

    if not source_key:
        return ""
    prefix, _sep, rest = source_key.partition(":")
    kind = _source_kinds().get(prefix)
    if kind is None:
        return source_key
    number = rest.split(":", 1)[0]
    if prefix == "demo" or not number.isdigit():
        return kind
    return gettext("%(kind)s No. %(number)s") % {"kind": kind, "number": number}


def _today() -> dt.date:
    return timezone.localdate()


def soon_expiring(account: PointsAccount, days: int = 30) -> int:
    today = _today()
    return sum(
        open_lots(account)
        .filter(expires_on__lte=today + dt.timedelta(days=days))
        .values_list("remaining", flat=True)
    )


def member_url(member_id: int) -> str:
    return reverse("members:detail", args=[member_id])
