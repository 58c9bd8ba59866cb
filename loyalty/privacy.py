"""Loyalty's part of a person's copy of their data (members.privacy): card and tier, tier
changes, purchases counted toward tiers, the points ledger, coupons, rewards and their
entitlements, referrals, stored value."""

from __future__ import annotations

from members.privacy import Contributor, queryset_section, register_contributor

from .models import (
    Coupon,
    Entitlement,
    Membership,
    PointsEntry,
    Purchase,
    Referral,
    RewardRedemption,
    TierChange,
)
from .stored_value_models import StoredValueEntry


def contribute(member, *, medical: bool):
    return [
        queryset_section(
            "membership",
            Membership.objects.filter(member=member).select_related("tier", "branch"),
            ["card_no", "tier", "branch", "enrolled_at", "tier_since", "review_on"],
        ),
        queryset_section(
            "tier_changes",
            TierChange.objects.filter(member=member).select_related("from_tier", "to_tier").order_by("at"),
            ["at", "from_tier", "to_tier", "cause", "reason"],
        ),
        queryset_section(
            "purchases",
            Purchase.objects.filter(member=member).select_related("branch").order_by("occurred_at"),
            ["occurred_at", "branch", "amount", "visits", "reversed_at"],
        ),
        queryset_section(
            "points",
            PointsEntry.objects.filter(account__member=member).order_by("created_at", "id"),
            ["created_at", "kind", "points", "balance_after", "reason"],
        ),
        queryset_section(
            "coupons",
            Coupon.objects.filter(member=member).select_related("template").order_by("issued_at"),
            ["code", "template", "issued_at", "valid_from", "valid_until", "used_at", "voided_at"],
        ),
        queryset_section(
            "rewards",
            RewardRedemption.objects.filter(member=member).select_related("item").order_by("created_at"),
            ["created_at", "item", "quantity", "points", "handed_over_at", "cancelled_at"],
        ),
        queryset_section(
            "entitlements",
            Entitlement.objects.filter(member=member).select_related("service_item"),
            ["service_item", "valid_until", "used_at", "voided_at"],
        ),
        queryset_section(
            "referrals",
            Referral.objects.filter(referrer=member).select_related("referee").order_by("created_at"),
            ["created_at", "referee__name", "status", "rewarded_at"],
        ),
        queryset_section(
            "stored_value",
            StoredValueEntry.objects.filter(account__member=member).order_by("created_at", "id"),
            ["created_at", "kind", "paid", "bonus", "paid_after", "bonus_after", "reason"],
        ),
    ]


def register() -> None:
    register_contributor(Contributor("loyalty", contribute, order=20))
