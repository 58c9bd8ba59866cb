"""The rewards catalogue (积分兑换): redeem points for a gift, a free service (an
entitlement used at checkout) or a coupon; cancel gives points and stock back.

Invariants:

- points move only through the ledger (``points_redeem`` / ``points_earn`` with keys
  ``reward:<id>:redeem`` / ``reward:<id>:refund``), so the balance rules hold;
- stock never goes below zero, even under concurrent redemptions: it is taken with
  ``UPDATE … SET stock = stock - n WHERE stock >= n`` and a CHECK constraint backs it;
- the per-member limit is checked under the member's points-account row lock, which every
  redemption of that member takes first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.services import audit_record
from members.models import Member

from .coupon_models import Entitlement, RewardItem, RewardKind, RewardRedemption
from .errors import LoyaltyError
from .models import Membership, PointsAccount
from .reasons import CouponReason
from .services import points_earn, points_redeem

REDEEM_PERMISSION = "loyalty.redeem_reward"
CANCEL_PERMISSION = "loyalty.cancel_reward"


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


_UNSET = object()


# The most of one reward redeemed at once (the redeem form offers the same).
MAX_QUANTITY = 20


def reward_refusal(
    item: RewardItem,
    member: Member,
    qty: int = 1,
    *,
    balance: int | None = None,
    tier_id=_UNSET,
    taken: int | None = None,
) -> str:
    """Why ``member`` cannot redeem ``qty`` of ``item`` now ("" when they can). A list page
    passes ``tier_id`` and ``taken`` (already redeemed of this item) it read once."""
    today = timezone.localdate()
    if not item.is_active or (item.available_from and today < item.available_from):
        return _("This reward is not available.")
    if item.available_until and today > item.available_until:
        return _("This reward is no longer available.")
    if qty < 1:
        return _("Choose at least one.")
    if qty > MAX_QUANTITY:
        return _("At most %(max)s at a time.") % {"max": MAX_QUANTITY}
    tier_ids = {t.pk for t in item.tiers.all()}
    if tier_ids:
        if tier_id is _UNSET:
            tier_id = Membership.objects.filter(member=member).values_list("tier_id", flat=True).first()
        if tier_id not in tier_ids:
            return _("This reward is only for some tiers.")
    if item.stock is not None and item.stock < qty:
        return _("Out of stock.")
    if item.per_member_limit and taken is None:
        taken = (
            RewardRedemption.objects.filter(member=member, item=item, cancelled_at__isnull=True).aggregate(
                n=Sum("quantity")
            )["n"]
            or 0
        )
    if item.per_member_limit and taken + qty > item.per_member_limit:
        return _("Each person may redeem this reward %(limit)s time(s).") % {"limit": item.per_member_limit}
    if balance is not None and balance < item.points_cost * qty:
        return _("Not enough points.")
    return ""


def reward_refusals(member: Member, items: list[RewardItem], *, balance: int) -> dict[int, str]:
    """``reward_refusal`` for a whole catalogue page in two queries."""
    tier_id = Membership.objects.filter(member=member).values_list("tier_id", flat=True).first()
    taken = dict(
        RewardRedemption.objects.filter(member=member, cancelled_at__isnull=True)
        .values("item_id")
        .annotate(n=Sum("quantity"))
        .values_list("item_id", "n")
    )
    return {
        item.pk: reward_refusal(item, member, balance=balance, tier_id=tier_id, taken=taken.get(item.pk, 0))
        for item in items
    }


@transaction.atomic
def reward_redeem(*, actor, member: Member, item: RewardItem, qty: int = 1) -> RewardRedemption:
    """Exchange ``qty × item.points_cost`` points for the reward: stock is taken, points are
    redeemed through the ledger (refused when the balance is short, and then nothing is
    taken), and the entitlements, coupons or the gift handover (by ``actor``, now) are
    recorded. Audited."""
    if actor is not None and not actor.has_perm(REDEEM_PERMISSION):
        raise LoyaltyError(_("Your role may not redeem rewards."), code="forbidden")
    # Serialises this member's redemptions (limit check) and their points spending.
    account = PointsAccount.objects.select_for_update().filter(member=member, is_open=True).first()
    if account is None:
        raise LoyaltyError(_("This person has no points account: enrol them first."), code="no_account")
    item = RewardItem.objects.prefetch_related("tiers").get(pk=item.pk)
    why = reward_refusal(item, member, qty, balance=account.balance)
    if why:
        raise LoyaltyError(why, code="refused")
    if item.stock is not None:
        taken = RewardItem.objects.filter(pk=item.pk, stock__gte=qty).update(stock=F("stock") - qty)
        if taken != 1:  # another redemption took the last unit after our read
            raise LoyaltyError(_("Out of stock."), code="refused")
    now = timezone.now()
    redemption = RewardRedemption.objects.create(
        member=member,
        item=item,
        quantity=qty,
        points=item.points_cost * qty,
        created_by=_actor(actor),
        handed_over_at=now if item.kind == RewardKind.GIFT else None,
        handed_over_by=_actor(actor) if item.kind == RewardKind.GIFT else None,
    )
    points_redeem(
        actor=actor,
        member=member,
        points=redemption.points,
        idempotency_key=f"reward:{redemption.pk}:redeem",
        source_key=f"reward:{redemption.pk}",
        reason=item.name,
    )
    if item.kind == RewardKind.SERVICE and item.service_item_id:
        until = timezone.localdate() + dt.timedelta(days=item.entitlement_days)
        Entitlement.objects.bulk_create(
            [
                Entitlement(
                    member=member,
                    redemption=redemption,
                    service_item_id=item.service_item_id,
                    valid_until=until,
                )
                for _i in range(qty)
            ]
        )
    elif item.kind == RewardKind.COUPON and item.coupon_template_id:
        from .coupons import coupon_issue

        for i in range(qty):
            coupon_issue(
                actor=actor,
                template=item.coupon_template,
                member=member,
                reason=CouponReason.REWARD,  # a code: the coupons page shows it in words
                issue_key=f"reward:{redemption.pk}:{i}",
                system=True,
            )
    audit_record(
        actor=actor,
        action="loyalty.reward.redeemed",
        target=member,
        changes={
            "reward": item.name,
            "quantity": qty,
            "points": redemption.points,
            "redemption": redemption.pk,
        },
    )
    return redemption


@transaction.atomic
def reward_cancel(*, actor, redemption: RewardRedemption, reason: str) -> RewardRedemption:
    """Undo a redemption: points come back as a new lot (``reward:<id>:refund``), stock is
    returned, unused entitlements and coupons are cancelled. Refused when one was already
    used. Idempotent. Audited."""
    if actor is not None and not actor.has_perm(CANCEL_PERMISSION):
        raise LoyaltyError(_("Your role may not cancel reward redemptions."), code="forbidden")
    reason = (reason or "").strip()
    if not reason:
        raise LoyaltyError(_("Give the reason for the cancellation."), field="reason")
    redemption = RewardRedemption.objects.select_for_update().select_related("item").get(pk=redemption.pk)
    if redemption.cancelled_at is not None:
        return redemption
    from .coupon_models import Coupon

    coupons = Coupon.objects.filter(issue_key__startswith=f"reward:{redemption.pk}:")
    if (
        redemption.entitlements.filter(used_at__isnull=False).exists()
        or coupons.filter(used_at__isnull=False).exists()
    ):
        raise LoyaltyError(_("Part of this reward has already been used; it cannot be cancelled."))
    now = timezone.now()
    redemption.entitlements.filter(voided_at__isnull=True).update(voided_at=now)
    coupons.filter(voided_at__isnull=True).update(voided_at=now)
    if redemption.item.stock is not None:
        RewardItem.objects.filter(pk=redemption.item_id).update(stock=F("stock") + redemption.quantity)
    points_earn(
        actor=actor,
        member=redemption.member,
        points=redemption.points,
        idempotency_key=f"reward:{redemption.pk}:refund",
        source_key=f"reward:{redemption.pk}",
        reason=reason,
        audit_action="loyalty.points.refunded",
    )
    redemption.cancelled_at, redemption.cancelled_by = now, _actor(actor)
    redemption.cancel_reason = reason[:200]
    redemption.save(update_fields=["cancelled_at", "cancelled_by", "cancel_reason"])
    audit_record(
        actor=actor,
        action="loyalty.reward.cancelled",
        target=redemption.member,
        changes={"redemption": redemption.pk, "reason": reason},
    )
    return redemption


# --- entitlements at checkout -----------------------------------------------------------------


@dataclass(frozen=True)
class EntitlementGrant:
    ref: str
    label: str
    item_ids: frozenset[int]
    units: int


def entitlement_grants_for(member: Member, item_ids) -> list[EntitlementGrant]:
    """Unused, unexpired entitlements of the person for these services, one grant each
    (``entitlement:<id>``), soonest expiry first."""
    today = timezone.localdate()
    rows = Entitlement.objects.filter(
        member=member,
        service_item_id__in=list(item_ids),
        used_at__isnull=True,
        voided_at__isnull=True,
        valid_until__gte=today,
    ).select_related("redemption__item")
    return [
        EntitlementGrant(
            ref=f"entitlement:{e.pk}",
            label=_("Points reward: %(name)s") % {"name": e.redemption.item.name},
            item_ids=frozenset({e.service_item_id}),
            units=1,
        )
        for e in rows
    ]


@transaction.atomic
def entitlement_use(*, actor, entitlement_id: int, member: Member, source_key: str) -> None:
    """Mark one entitlement used by a checkout; exactly once (conditional update)."""
    changed = Entitlement.objects.filter(
        pk=entitlement_id, member=member, used_at__isnull=True, voided_at__isnull=True
    ).update(used_at=timezone.now(), used_source=source_key)
    if changed != 1 and not Entitlement.objects.filter(pk=entitlement_id, used_source=source_key).exists():
        raise LoyaltyError(_("This free service was already used."), code="used")
    audit_record(
        actor=actor,
        action="loyalty.entitlement.used",
        target=member,
        changes={"entitlement": entitlement_id, "source": source_key},
    )


@transaction.atomic
def entitlement_restore(*, actor, source_key: str) -> int:
    """A voided visit gives back the entitlements it used. Idempotent."""
    return Entitlement.objects.filter(Q(used_source=source_key), used_at__isnull=False).update(
        used_at=None, used_source=""
    )
