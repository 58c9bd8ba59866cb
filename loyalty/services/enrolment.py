"""办卡: a lead or patient becomes a member with a card number and the entry tier."""

from __future__ import annotations

import re

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch
from clinic.services import audit_record
from members.models import Member, MemberStatus, Stage
from members.services import member_stage_advance

from ..errors import LoyaltyError
from ..models import CardSequence, Membership, TierCause, TierChange
from ..reasons import PointsReason
from .ledger import account_open, add_months, points_earn, policy
from .tiers import entry_tier, tier_evaluate_upgrade

ENROL_PERMISSION = "loyalty.enrol_member"


def check_digit(body: str) -> str:
    """Luhn check digit over the card body; letters count as 10–35 (A–Z)."""
    digits = "".join(str(int(ch, 36)) for ch in body.upper())
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def card_is_valid(card_no: str) -> bool:
    card_no = (card_no or "").strip().upper()
    return len(card_no) > 1 and card_no[:-1].isalnum() and check_digit(card_no[:-1]) == card_no[-1]


def _next_sequence(branch: Branch) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CardSequence._meta.db_table} (branch_id, last) VALUES (%s, 0) "
            "ON CONFLICT (branch_id) DO NOTHING",
            [branch.pk],
        )
        # The row lock taken by this UPDATE hands out each number once, even under
        # concurrent enrolments at the same branch.
        cursor.execute(
            f"UPDATE {CardSequence._meta.db_table} SET last = last + 1 WHERE branch_id = %s RETURNING last",
            [branch.pk],
        )
        return cursor.fetchone()[0]


def card_number_next(branch: Branch) -> str:
    """Branch code + 6-digit sequence + check digit, e.g. ``JA0000127``. Unique chain-wide:
    a number some other card already has (two branch codes can run into each other) is
    skipped."""
    prefix = re.sub(r"[^A-Z0-9]", "", branch.code.upper())
    while True:
        body = f"{prefix}{_next_sequence(branch):06d}"
        card_no = body + check_digit(body)
        taken = (
            Membership.objects.filter(card_no=card_no).exists()
            or Member.objects.filter(card_no=card_no).exists()
        )
        if not taken:
            return card_no


def _card_for_enrolment(member: Member, card_no: str | None) -> str | None:
    """The existing card number this enrolment keeps, checked to be nobody else's."""
    card_no = (card_no or member.card_no or "").strip().upper() or None
    if card_no is None:
        return None
    if member.card_no and card_no != member.card_no:
        # Replacing the number a person already shows would make the old one find nobody.
        raise LoyaltyError(
            _("This person already carries card number %(card)s.") % {"card": member.card_no}, field="card_no"
        )
    if len(card_no) > 32 or not re.fullmatch(r"[A-Z0-9-]+", card_no):
        raise LoyaltyError(_("A card number has letters, digits and dashes only."), field="card_no")
    if (
        Membership.objects.filter(card_no=card_no).exists()
        or Member.objects.filter(card_no=card_no).exclude(pk=member.pk).exists()
    ):
        raise LoyaltyError(_("This card number is already in use."), field="card_no")
    return card_no


@transaction.atomic
def membership_enrol(
    *,
    actor,
    member: Member,
    branch: Branch,
    welcome_points: int | None = None,
    card_no: str | None = None,
) -> Membership:
    """Make ``member`` a member: card number, the entry tier (then any higher tier the last
    12 months of purchases already qualify for), a points account, the welcome points and a
    welcome message. The stage and card number on the person record change through
    ``members.services.member_stage_advance``.

    One card number per person: ``card_no`` (an existing card, e.g. from the migration import,
    kept in its own format) else the number the person already carries, else a new one from
    the branch sequence. ``welcome_points`` is for trusted callers only (seed data, import,
    tests); requests never pass it, the policy's amount applies (any other grant is a manual
    adjustment with a reason)."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.status != MemberStatus.ACTIVE:
        raise LoyaltyError(_("This record is restricted or closed and cannot be enrolled."), code="inactive")
    if Membership.objects.filter(member=member).exists():
        raise LoyaltyError(_("This person is already a member."), code="exists")
    if welcome_points is not None and welcome_points < 0:
        raise LoyaltyError(_("Welcome points cannot be negative."), field="welcome_points")
    card_no = _card_for_enrolment(member, card_no) or card_number_next(branch)
    tier = entry_tier()
    today = timezone.localdate()
    membership = Membership.objects.create(
        member=member,
        card_no=card_no,
        branch=branch,
        tier=tier,
        enrolled_by=actor if getattr(actor, "pk", None) else None,
        tier_since=today,
        review_on=add_months(today, 12),
    )
    member_stage_advance(actor=actor, member=member, stage=Stage.MEMBER, card_no=card_no)
    TierChange.objects.create(
        member=member,
        to_tier=tier,
        cause=TierCause.ENROLMENT,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    account_open(member=member)
    audit_record(
        actor=actor,
        action="loyalty.membership.enrolled",
        target=member,
        branch=branch,
        changes={"card_no": card_no, "tier": tier.code, "membership": membership.pk},
    )
    points = policy().welcome_points if welcome_points is None else welcome_points
    if points:
        points_earn(
            actor=actor,
            member=member,
            points=points,
            idempotency_key=f"enrol:{membership.pk}:welcome",
            source_key=f"enrol:{membership.pk}",
            reason=PointsReason.WELCOME,
        )
    membership.member = member
    tier_evaluate_upgrade(actor=actor, membership=membership, source_key=f"enrol:{membership.pk}")

    from ..notify import notify_member

    notify_member(
        member=member,
        template_key="loyalty.welcome",
        params={"name": member.name, "card_no": card_no, "tier": membership.tier.name, "points": points},
        dedupe_key=f"loyalty:welcome:{membership.pk}",
        branch=branch,
        actor=actor,
    )
    from ..auto_coupons import coupon_issue_for_tier
    from ..coupons import coupon_issue_auto
    from ..referrals import referral_reward_on_enrol

    coupon_issue_auto(actor=actor, member=member, trigger="welcome", key=f"enrol:{membership.pk}")
    # The tier reached at enrolment grants its yearly coupon (an upgrade above already did).
    coupon_issue_for_tier(actor=actor, membership=membership)
    # Enrolled after the first paid visit: the referral is rewarded now.
    referral_reward_on_enrol(actor=actor, member=member)
    return membership
