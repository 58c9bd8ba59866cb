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
        "review": gettext("Review or survey reward"),
        "refund": gettext("Refund"),
        "top_up": gettext("Stored value top-up"),
        "adjust": gettext("Manual adjustment"),
        "demo": gettext("Demo data"),
        "campaign": gettext("Campaign attendance"),
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


# --- stored value (储值) -----------------------------------------------------------------


def stored_value_account(member: Member):
    """The member's open stored value account, or None (never topped up)."""
    from .models import StoredValueAccount

    return StoredValueAccount.objects.filter(member=member, is_open=True).first()


def stored_value_history(member: Member) -> QuerySet:
    """Every entry of the person's accounts (a merged-in record's history too), newest first."""
    from .models import StoredValueEntry

    return (
        StoredValueEntry.objects.filter(account__member=member)
        .select_related("branch", "actor__staff")
        .order_by("-created_at", "-id")
    )


def stored_value_for_source(source_key: str) -> dict | None:
    """What a checkout (``visit:<id>``) paid from stored value, for its receipt: the paid and
    bonus parts taken, and the balance left right after (None when it used none)."""
    from .models import StoredValueEntry, StoredValueKind

    entries = list(
        StoredValueEntry.objects.filter(source_key=source_key, kind=StoredValueKind.SPEND).order_by("id")
    )
    if not entries:
        return None
    last = entries[-1]
    paid, bonus = -sum(e.paid for e in entries), -sum(e.bonus for e in entries)
    return {
        "paid": paid,
        "bonus": bonus,
        "spent": paid + bonus,
        "paid_after": last.paid_after,
        "bonus_after": last.bonus_after,
        "balance_after": last.paid_after + last.bonus_after,
    }


@dataclass(frozen=True)
class LiabilityRow:
    branch_id: int | None
    branch_name: str
    accounts: int
    paid: Decimal
    bonus: Decimal

    @property
    def total(self) -> Decimal:
        return self.paid + self.bonus


_LIABILITY_SQL = """
SELECT m.branch_id, COUNT(*) FILTER (WHERE s.paid + s.bonus > 0), COALESCE(SUM(s.paid), 0),
       COALESCE(SUM(s.bonus), 0)
FROM (SELECT account_id, SUM(paid) AS paid, SUM(bonus) AS bonus
      FROM loyalty_storedvalueentry WHERE created_at < %(until)s GROUP BY account_id) s
JOIN loyalty_storedvalueaccount a ON a.id = s.account_id
JOIN members_member m ON m.id = a.member_id
WHERE %(all)s OR m.branch_id = ANY(%(branches)s)
GROUP BY m.branch_id
"""


def stored_value_liability(user, *, as_of: dt.date) -> list[LiabilityRow]:
    """储值负债: what the clinic owes in stored value at the end of day ``as_of`` (clinic
    time), per branch of the members' records, the paid part (refundable) apart from the bonus
    part; only the branches the user may see. Computed from the ledger, so any past day can
    be asked for."""
    from django.db import connection

    from clinic.models import Branch
    from clinic.selectors import user_branch_ids

    ids = user_branch_ids(user)
    tz = timezone.get_default_timezone()  # the clinic's day, whatever zone a user picked
    until = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    with connection.cursor() as cursor:
        cursor.execute(_LIABILITY_SQL, {"until": until, "all": ids is None, "branches": list(ids or [])})
        rows = cursor.fetchall()
    names = {b.pk: str(b) for b in Branch.objects.filter(pk__in=[r[0] for r in rows if r[0]])}
    out = [
        LiabilityRow(branch_id=b, branch_name=names.get(b, "—"), accounts=n, paid=paid, bonus=bonus)
        for b, n, paid, bonus in rows
    ]
    return sorted(out, key=lambda r: r.branch_name)
