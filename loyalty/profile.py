"""What loyalty adds to the member profile through members' registry: the 会员与积分 tab,
the tier badge, timeline entries, and the merge handling of every foreign key to Member."""

from __future__ import annotations

from functools import cached_property

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from members.registry import (
    Badge,
    ProfileTab,
    TimelineEntry,
    register_header_badge,
    register_merge_field,
    register_profile_tab,
    register_timeline_source,
)

HISTORY_ON_TAB = 20


class LoyaltyPanel:
    """The tab's data, computed only when the tab is actually rendered (the profile builds
    every tab's context on each page view)."""

    def __init__(self, member, user):
        self.member = member
        self.user = user

    @cached_property
    def membership(self):
        from .selectors import membership_for

        return membership_for(self.member)

    @cached_property
    def account(self):
        from .models import PointsAccount

        return PointsAccount.objects.filter(member=self.member, is_open=True).first()

    @property
    def balance(self) -> int:
        return self.account.balance if self.account else 0

    @cached_property
    def progress(self):
        from .selectors import tier_progress

        return tier_progress(self.membership) if self.membership else None

    @cached_property
    def lots(self):
        from .selectors import open_lots

        return list(open_lots(self.account)) if self.account else []

    @cached_property
    def history(self):
        from .reasons import reason_label
        from .selectors import points_history, source_label, source_url

        entries = list(points_history(self.member)[:HISTORY_ON_TAB])
        for entry in entries:
            entry.source_url = source_url(entry.source_key)
            entry.source_text = source_label(entry.source_key)
            entry.reason_text = reason_label(entry.reason)
        return entries

    @cached_property
    def allowances(self):
        from .services.allowances import allowance_status

        return allowance_status(self.membership) if self.membership else []

    @cached_property
    def tier_changes(self):
        from .models import TierChange

        return list(TierChange.objects.filter(member=self.member).select_related("from_tier", "to_tier")[:10])

    @cached_property
    def keep(self):
        from .services.tiers import keep_requirement, keep_tier_text

        m = self.membership
        if not m or not m.tier.has_thresholds:
            return ""
        amount, visits = keep_requirement(m)
        return keep_tier_text(m.tier, amount, visits, m.tier.qualify_logic)

    @property
    def can_enrol(self) -> bool:
        return (
            self.membership is None and self.user.has_perm("loyalty.enrol_member") and self.member.is_active
        )

    @cached_property
    def welcome_points(self) -> int:
        """What enrolment grants (HQ's policy); shown next to the button, never typed in."""
        from .services.ledger import policy

        return policy().welcome_points if self.can_enrol else 0

    @property
    def can_adjust(self) -> bool:
        return (
            self.membership is not None
            and self.user.has_perm("clinic.adjust_points")
            and self.member.is_active
        )

    @property
    def can_override(self) -> bool:
        return (
            self.membership is not None
            and self.user.has_perm("loyalty.override_tier")
            and self.member.is_active
        )

    @cached_property
    def tiers(self):
        from .models import Tier

        return list(Tier.objects.filter(is_active=True).order_by("rank"))

    @cached_property
    def adjust_token(self) -> str:
        import uuid

        return str(uuid.uuid4())

    @property
    def history_url(self) -> str:
        return reverse("loyalty:history", args=[self.member.pk])


def _tab_context(member, user) -> dict:
    return {"panel": LoyaltyPanel(member, user)}


def _badge(member):
    from .models import Membership

    if not member.card_no:  # enrolment writes the card number to the person: no query needed
        return None
    membership = Membership.objects.select_related("tier").filter(member=member).first()
    if membership is None:
        return None
    return Badge(label=membership.tier.display_name, css=membership.tier.badge_css)


def _tier_timeline(member, user, limit):
    from .models import TierCause, TierChange

    if not member.card_no:
        return
    for change in TierChange.objects.filter(member=member).select_related(
        "from_tier", "to_tier", "actor__staff"
    )[:limit]:
        if change.cause == TierCause.ENROLMENT:
            title = _("Enrolled as %(tier)s") % {"tier": change.to_tier.display_name}
            icon = "bi-credit-card"
        else:
            title = _("Tier %(from)s → %(to)s") % {
                "from": change.from_tier.display_name if change.from_tier else "—",
                "to": change.to_tier.display_name,
            }
            icon = "bi-award"
        staff = getattr(getattr(change.actor, "staff", None), "full_name", "") if change.actor else ""
        detail = change.get_cause_display() + (f" · {change.reason}" if change.reason else "")
        yield TimelineEntry(
            at=change.at, kind="tier_change", title=title, detail=detail, icon=icon, staff=staff
        )


def _points_timeline(member, user, limit):
    from .models import EntryKind, PointsEntry
    from .reasons import reason_label

    if not member.card_no:
        return
    # Expiries are many small rows written by the nightly job; the tab lists them.
    entries = (
        PointsEntry.objects.filter(account__member=member)
        .exclude(kind=EntryKind.EXPIRE)
        .order_by("-created_at", "-id")[:limit]
    )
    for entry in entries:
        yield TimelineEntry(
            at=entry.created_at,
            kind="points",
            title=_("Points %(points)+d (%(kind)s)")
            % {"points": entry.points, "kind": entry.get_kind_display()},
            detail=reason_label(entry.reason),
            icon="bi-coin",
        )


def _stored_value_timeline(member, user, limit):
    from clinic.money import format_cny

    from .models import StoredValueEntry

    entries = (
        StoredValueEntry.objects.filter(account__member=member)
        .select_related("actor__staff")
        .order_by("-created_at", "-id")[:limit]
    )
    for entry in entries:
        staff = getattr(getattr(entry.actor, "staff", None), "full_name", "") if entry.actor else ""
        yield TimelineEntry(
            at=entry.created_at,
            kind="stored_value",
            title=_("Stored value %(amount)s (%(kind)s)")
            % {"amount": format_cny(entry.amount), "kind": entry.get_kind_display()},
            detail=entry.reason,
            icon="bi-wallet2",
            url=reverse("loyalty:stored_value", args=[member.pk]),
            staff=staff,
        )


def _account_before_move(source, target) -> dict:
    from .services.ledger import points_transfer_on_merge

    return {"points": points_transfer_on_merge(source, target)}


def _stored_value_before_move(source, target) -> dict:
    from .services.stored_value import stored_value_transfer_on_merge

    return {"stored_value": str(stored_value_transfer_on_merge(source, target))}


def _referral_before_move(source, target) -> dict:
    """One code and one referrer per person: the kept record's own win."""
    from .coupon_models import Referral, ReferralCode

    dropped = {}
    if ReferralCode.objects.filter(member=target).exists():
        dropped["referral_code"] = ReferralCode.objects.filter(member=source).delete()[0]
    if Referral.objects.filter(referee=target).exists():
        dropped["referred_by"] = Referral.objects.filter(referee=source, rewarded_at__isnull=True).delete()[0]
    # A referral between the two records would become a self-referral.
    Referral.objects.filter(referee=source, referrer=target).delete()
    Referral.objects.filter(referee=target, referrer=source).delete()
    return dropped


def register() -> None:
    from .models import Membership, PointsAccount, Purchase, TierChange

    register_profile_tab(
        ProfileTab(
            key="loyalty",
            label=_("Membership & points"),
            template="loyalty/_panel.html",
            context=_tab_context,
            permission="members.view_member",
            order=20,
        )
    )
    from .stored_value_views import tab_context as stored_value_context

    register_profile_tab(
        ProfileTab(
            key="stored_value",
            label=_("Stored value"),
            template="loyalty/_stored_value.html",
            context=stored_value_context,
            permission="loyalty.view_storedvalueaccount",
            order=25,
        )
    )
    register_header_badge(_badge)
    register_timeline_source("loyalty.tiers", _tier_timeline)
    register_timeline_source("loyalty.points", _points_timeline)
    register_timeline_source(
        "loyalty.stored_value", _stored_value_timeline, permission="loyalty.view_storedvalueaccount"
    )
    # members refuses to merge two card holders, so at most one side has a Membership.
    register_merge_field(Membership, "member")
    register_merge_field(Purchase, "member")
    register_merge_field(TierChange, "member")
    register_merge_field(PointsAccount, "member", before_move=_account_before_move)
    from .stored_value_models import StoredValueAccount

    register_merge_field(StoredValueAccount, "member", before_move=_stored_value_before_move)
    from .coupon_models import Coupon, CouponEvent

    register_merge_field(Coupon, "member")
    register_merge_field(CouponEvent, "member")
    from .coupon_models import Entitlement, RewardRedemption

    register_merge_field(RewardRedemption, "member")
    register_merge_field(Entitlement, "member")
    from .coupon_models import Referral, ReferralCode
    from .referrals import register_registration_field

    register_registration_field()
    register_merge_field(Referral, "referee", before_move=_referral_before_move)
    register_merge_field(Referral, "referrer")
    register_merge_field(ReferralCode, "member")
