"""Tiers: qualification, immediate upgrade, the anniversary review (warning, then one step
down) and the manual override. Every change is a ``TierChange`` row and an audit row.

Tiers depend on purchases only (rolling 12 months of paid amount and visits), never on
points, so expiring points cannot lower a tier.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from clinic.money import format_cny, to_money
from clinic.services import audit_record
from members.models import Member

from ..errors import LoyaltyError
from ..models import Membership, Purchase, QualifyLogic, Tier, TierCause, TierChange
from .ledger import add_months, policy

OVERRIDE_PERMISSION = "loyalty.override_tier"


def active_tiers() -> list[Tier]:
    return list(Tier.objects.filter(is_active=True).order_by("rank"))


def entry_tier() -> Tier:
    tier = Tier.objects.filter(is_active=True).order_by("rank").first()
    if tier is None:
        raise LoyaltyError(_("No tier is set up: HQ must configure the tiers first."), code="no_tier")
    return tier


def _end_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def rolling_stats(member: Member, *, until: dt.datetime | None = None) -> tuple[Decimal, int]:
    """Paid amount and visits in the 12 months up to ``until`` (reversed purchases excluded)."""
    until = until or timezone.now()
    since = _months_back(until)
    row = Purchase.objects.filter(
        member=member, reversed_at__isnull=True, occurred_at__gt=since, occurred_at__lte=until
    ).aggregate(amount=Sum("amount"), visits=Sum("visits", filter=Q(counts_as_visit=True)))
    return to_money(row["amount"] or 0), row["visits"] or 0


def _months_back(moment: dt.datetime, months: int = 12) -> dt.datetime:
    local = timezone.localtime(moment)
    day = add_months(local.date(), -months)
    return local.replace(year=day.year, month=day.month, day=day.day)


def qualifies(tier: Tier, amount: Decimal, visits: int) -> bool:
    if not tier.has_thresholds:
        return True
    checks = []
    if tier.qualify_amount is not None:
        checks.append(amount >= tier.qualify_amount)
    if tier.qualify_visits is not None:
        checks.append(visits >= tier.qualify_visits)
    return all(checks) if tier.qualify_logic == QualifyLogic.AND else any(checks)


def qualifying_tier(amount: Decimal, visits: int, tiers: list[Tier] | None = None) -> Tier:
    tiers = tiers if tiers is not None else active_tiers()
    best = tiers[0] if tiers else entry_tier()
    for tier in tiers:
        if qualifies(tier, amount, visits):
            best = tier
    return best


def needed_for(tier: Tier, amount: Decimal, visits: int) -> tuple[Decimal | None, int | None]:
    """How much more spend and how many more visits reach ``tier`` (None: not a criterion)."""
    more_amount = (
        None if tier.qualify_amount is None else max(to_money(tier.qualify_amount - amount), Decimal(0))
    )
    more_visits = None if tier.qualify_visits is None else max(tier.qualify_visits - visits, 0)
    return more_amount, more_visits


def keep_tier_text(tier: Tier, amount: Decimal | None, visits: int | None, logic: str) -> str:
    """The sentence that says exactly what keeps (or reaches) ``tier``, e.g.
    再消费 ¥1,280.00 或就诊 1 次即可保留金卡. Call inside the member's language."""
    name = tier.display_name
    params = {"amount": format_cny(amount or 0), "visits": visits or 0, "tier": name}
    if amount and visits:
        if logic == QualifyLogic.AND:
            return (
                ngettext(
                    "Spend %(amount)s more and visit %(visits)s more time to keep %(tier)s",
                    "Spend %(amount)s more and visit %(visits)s more times to keep %(tier)s",
                    visits,
                )
                % params
            )
        return (
            ngettext(
                "Spend %(amount)s more or visit %(visits)s more time to keep %(tier)s",
                "Spend %(amount)s more or visit %(visits)s more times to keep %(tier)s",
                visits,
            )
            % params
        )
    if amount:
        return _("Spend %(amount)s more to keep %(tier)s") % params
    if visits:
        return (
            ngettext(
                "Visit %(visits)s more time to keep %(tier)s",
                "Visit %(visits)s more times to keep %(tier)s",
                visits,
            )
            % params
        )
    return _("You already qualify to keep %(tier)s") % {"tier": name}


def keep_requirement(
    membership: Membership, *, now: dt.datetime | None = None
) -> tuple[Decimal | None, int | None]:
    """What the member still needs, from now to the review day, to keep the tier they hold.
    Purchases older than 12 months before the review day will not count then, so they do not
    count now either. Under OR, meeting either threshold is enough: both figures are shown."""
    now = now or timezone.now()
    review_end = _end_of_day(membership.review_on)
    since = _months_back(review_end)
    row = Purchase.objects.filter(
        member_id=membership.member_id, reversed_at__isnull=True, occurred_at__gt=since, occurred_at__lte=now
    ).aggregate(amount=Sum("amount"), visits=Sum("visits", filter=Q(counts_as_visit=True)))
    from ..registry import keep_credits

    credits = keep_credits(membership.member_id, since, now)
    return needed_for(membership.tier, to_money(row["amount"] or 0), (row["visits"] or 0) + credits)


def _change(
    membership: Membership,
    *,
    to_tier: Tier,
    cause: str,
    actor,
    today: dt.date,
    reason: str = "",
    source_key: str = "",
    tier_since: dt.date | None = None,
    review_on: dt.date | None = None,
) -> TierChange:
    from_tier = membership.tier
    change = TierChange.objects.create(
        member_id=membership.member_id,
        from_tier=from_tier,
        to_tier=to_tier,
        cause=cause,
        reason=reason[:300],
        source_key=source_key,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    membership.tier = to_tier
    membership.tier_since = tier_since or today
    membership.review_on = review_on or add_months(membership.tier_since, 12)
    membership.warned_for = None
    membership.save(update_fields=["tier", "tier_since", "review_on", "warned_for"])
    _allowance_coupon(actor, membership)
    audit_record(
        actor=actor,
        action="loyalty.tier.changed",
        target=membership.member,
        changes={
            "tier": [from_tier.code if from_tier else None, to_tier.code],
            "cause": cause,
            "reason": reason,
            "source": source_key,
            "change": change.pk,
        },
    )
    return change


def _allowance_coupon(actor, membership: Membership) -> None:
    """The tier's yearly coupon (``LOYALTY_AUTO_COUPONS["allowance"]``), once per tier year."""
    from ..auto_coupons import coupon_issue_for_tier

    coupon_issue_for_tier(actor=actor, membership=membership)


def tier_evaluate_upgrade(*, actor, membership: Membership, source_key: str = "") -> TierChange | None:
    """Upgrade at once if the last 12 months qualify for a higher tier (never downgrades).
    The caller holds the membership row lock and the transaction."""
    amount, visits = rolling_stats(membership.member)
    target = qualifying_tier(amount, visits)
    if target.rank <= membership.tier.rank:
        return None
    change = _change(
        membership,
        to_tier=target,
        cause=TierCause.UPGRADE,
        actor=actor,
        today=timezone.localdate(),
        source_key=source_key,
        reason=f"{format_cny(amount)} / {visits}",
    )
    _notify_tier(membership, "loyalty.tier_upgraded", {"tier": target.name})
    return change


@transaction.atomic
def tier_override(*, actor, member: Member, tier: Tier, reason: str) -> TierChange:
    """Set a member's tier by hand. Needs ``loyalty.override_tier`` and a reason; the new
    tier's anniversary starts today. Later purchases may still upgrade it."""
    if actor is None or not actor.has_perm(OVERRIDE_PERMISSION):
        raise LoyaltyError(_("Your role may not change tiers by hand."), code="forbidden")
    reason = (reason or "").strip()
    if not reason:
        raise LoyaltyError(_("Give a reason for the tier change."), field="reason")
    membership = (
        Membership.objects.select_for_update().select_related("tier", "member").filter(member=member).first()
    )
    if membership is None:
        raise LoyaltyError(_("This person is not a member yet."), code="not_member")
    if not tier.is_active:
        raise LoyaltyError(_("This tier is not active."), field="tier")
    if tier.pk == membership.tier_id:
        raise LoyaltyError(_("The member already holds this tier."), field="tier")
    return _change(
        membership,
        to_tier=tier,
        cause=TierCause.MANUAL,
        actor=actor,
        today=timezone.localdate(),
        reason=reason,
    )


def _notify_tier(membership: Membership, template_key: str, params: dict, *, suffix: str = "") -> None:
    from ..notify import notify_member

    member = membership.member
    notify_member(
        member=member,
        template_key=template_key,
        params={"name": member.name, **params},
        dedupe_key=f"{template_key}:{membership.pk}:{suffix or timezone.now().isoformat()}",
        branch=member.branch,
    )


def _lower_tier(tier: Tier) -> Tier | None:
    return Tier.objects.filter(is_active=True, rank__lt=tier.rank).order_by("-rank").first()


def _warn(membership: Membership, *, today: dt.date) -> bool:
    """Tell the member exactly what keeps their tier at the review; once per review day."""
    amount, visits = keep_requirement(membership)
    if not amount and not visits:
        return False
    member = membership.member
    with translation.override(member.language or "zh-hans"):
        text = keep_tier_text(membership.tier, amount, visits, membership.tier.qualify_logic)
    _notify_tier(
        membership,
        "loyalty.tier_review_warning",
        {"tier": membership.tier.name, "date": membership.review_on.isoformat(), "needed": text},
        suffix=membership.review_on.isoformat(),
    )
    membership.warned_for = membership.review_on
    membership.save(update_fields=["warned_for"])
    audit_record(
        actor=None,
        action="loyalty.tier.review_warned",
        target=member,
        changes={"tier": membership.tier.code, "review_on": membership.review_on, "needed": text},
    )
    return True


@transaction.atomic
def tier_review(*, membership_id: int, today: dt.date | None = None) -> str:
    """The anniversary review of one membership. Returns what happened:

    - ``warned``: the review is within the warning window and the member is short;
    - ``kept`` / ``upgraded``: on the review day they qualify, the next review is a year on;
    - ``downgraded``: one step down, only if the warning for this review went out; if it did
      not (e.g. the job was down), the warning goes now and the review moves to
      ``tier_warn_days`` later;
    - ``none``: nothing to do yet.
    """
    today = today or timezone.localdate()
    membership = (
        Membership.objects.select_for_update()
        .select_related("tier", "member")
        .filter(pk=membership_id)
        .first()
    )
    if membership is None or not membership.tier.has_thresholds:
        return "none"
    warn_days = policy().tier_warn_days
    if today < membership.review_on:
        if (
            membership.review_on - today <= dt.timedelta(days=warn_days)
            and membership.warned_for != membership.review_on
        ):
            return "warned" if _warn(membership, today=today) else "none"
        return "none"
    review_end = _end_of_day(membership.review_on)
    amount, visits = rolling_stats(membership.member, until=review_end)
    target = qualifying_tier(amount, visits)
    if target.rank < membership.tier.rank and _kept_by_credits(membership, amount, visits, review_end):
        target = membership.tier
    if target.rank >= membership.tier.rank:
        if target.rank > membership.tier.rank:
            _change(membership, to_tier=target, cause=TierCause.UPGRADE, actor=None, today=today)
            return "upgraded"
        next_review = membership.review_on
        while next_review <= today:
            next_review = add_months(next_review, 12)
        membership.review_on, membership.warned_for = next_review, None
        membership.save(update_fields=["review_on", "warned_for"])
        _allowance_coupon(None, membership)  # a new tier year: its coupon, if the tier grants one
        return "kept"
    if membership.warned_for != membership.review_on:
        membership.review_on = today + dt.timedelta(days=warn_days)
        membership.save(update_fields=["review_on"])
        _warn(membership, today=today)
        return "warned"
    lower = _lower_tier(membership.tier) or target
    review_day = membership.review_on
    _change(
        membership,
        to_tier=lower,
        cause=TierCause.ANNIVERSARY,
        actor=None,
        today=today,
        reason=f"{format_cny(amount)} / {visits}",
        tier_since=review_day,
        review_on=_next_anniversary(review_day, today),
    )
    _notify_tier(membership, "loyalty.tier_downgraded", {"tier": lower.name}, suffix=review_day.isoformat())
    return "downgraded"


def _kept_by_credits(membership: Membership, amount: Decimal, visits: int, review_end: dt.datetime) -> bool:
    """Whether the keep credits that higher apps register (``loyalty.registry``: a recall
    kept on time counts as a visit) let the member keep the tier they hold. Only keeping:
    credits never lift a member above their tier."""
    from ..registry import keep_credits

    credits = keep_credits(membership.member_id, _months_back(review_end), review_end)
    return credits > 0 and qualifies(membership.tier, amount, visits + credits)


def _next_anniversary(day: dt.date, today: dt.date) -> dt.date:
    nxt = add_months(day, 12)
    while nxt <= today:
        nxt = add_months(nxt, 12)
    return nxt


def tier_reviews_run(*, today: dt.date | None = None) -> dict[str, int]:
    """The daily job: review every membership whose review or warning is due."""
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=policy().tier_warn_days)
    ids = list(
        Membership.objects.filter(review_on__lte=horizon, tier__qualify_amount__isnull=False)
        .union(Membership.objects.filter(review_on__lte=horizon, tier__qualify_visits__isnull=False))
        .values_list("pk", flat=True)
    )
    counts: dict[str, int] = {}
    for pk in sorted(set(ids)):
        outcome = tier_review(membership_id=pk, today=today)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
