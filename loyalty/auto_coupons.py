"""The callers of the one automatic-coupon mechanism, ``coupons.coupon_issue_auto`` over
``LOYALTY_AUTO_COUPONS``:

- ``welcome``: at enrolment (``services.enrolment``);
- ``birthday``: the daily job, once a year (``coupons_birthday_issue``);
- ``allowance``: a tier's yearly coupon, when a member reaches a tier or keeps it at the
  anniversary (``coupon_issue_for_tier``, called from ``services.tiers`` and enrolment);
- ``review``: a completed review or survey (``coupon_issue_for_review``; with the survey
  bonus points in ``review_reward``; staff record one through ``review_record``);
- ``referral``: both sides of a rewarded referral (``referrals.referral_reward_check``).

Each issue has an issue key that is unique in the database, so a retry, a re-run job or a
second click never gives a second coupon.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinic.services import audit_record
from members.models import Member, MemberStatus

from .coupon_models import Coupon
from .coupons import auto_template, coupon_issue_auto
from .errors import LoyaltyError
from .models import BonusKind, BonusRule, Membership, PointsAccount, PointsEntry

REVIEW_PERMISSION = "loyalty.record_review"


# --- birthday -------------------------------------------------------------------------------


def coupons_birthday_issue(*, today: dt.date | None = None) -> int:
    """Daily: the ``LOYALTY_AUTO_COUPONS["birthday"]`` coupon to every active member whose
    birthday is today (29 February counts on 28 February in other years), once per year
    (issue key ``birthday:<year>:<member>``). Returns how many were issued now."""
    template = auto_template("birthday")
    if template is None:
        return 0
    today = today or timezone.localdate()
    days = [today.day]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append(29)
    ids = Membership.objects.filter(
        member__status=MemberStatus.ACTIVE,
        member__birth_date__month=today.month,
        member__birth_date__day__in=days,
    ).values_list("member_id", flat=True)
    done = set(
        Coupon.objects.filter(issue_key__startswith=f"birthday:{today.year}:").values_list(
            "issue_key", flat=True
        )
    )
    issued = 0
    for member in Member.objects.filter(pk__in=list(ids)).order_by("pk"):
        key = f"{today.year}:{member.pk}"
        if f"birthday:{key}" in done:
            continue
        coupon = coupon_issue_auto(actor=None, member=member, trigger="birthday", key=key, template=template)
        if coupon is not None:
            issued += 1
    return issued


# --- tier allowance -------------------------------------------------------------------------


def coupon_issue_for_tier(*, actor, membership: Membership) -> Coupon | None:
    """The yearly coupon of the tier the member holds now: ``LOYALTY_AUTO_COUPONS
    ["allowance"]`` is a template name for every tier or ``{tier code: name}``. Once per
    tier year: the key ``allowance:<member>:<tier>:<review_on>`` changes when the member
    reaches a tier (enrolment, upgrade, manual change, anniversary step down: a new
    ``review_on``) and when they keep it at the anniversary (``review_on`` moves a year on).
    Runs in the caller's transaction; None when this tier grants none."""
    tier = membership.tier
    return coupon_issue_auto(
        actor=actor,
        member=membership.member,
        trigger="allowance",
        key=f"{membership.member_id}:{tier.code}:{membership.review_on.isoformat()}",
        qualifier=tier.code,
    )


# --- reviews and surveys ---------------------------------------------------------------------


class ReviewChannel(models.TextChoices):
    """Where the member left the review (or which survey they answered)."""

    SURVEY = "survey", gettext_lazy("Satisfaction survey")
    DIANPING = "dianping", gettext_lazy("Dianping review")
    MEITUAN = "meituan", gettext_lazy("Meituan review")
    XIAOHONGSHU = "xiaohongshu", gettext_lazy("Xiaohongshu post")
    OTHER = "other", gettext_lazy("Other")


def coupon_issue_for_review(*, actor, member: Member, source_key: str) -> Coupon | None:
    """The ``LOYALTY_AUTO_COUPONS["review"]`` coupon for one completed review or survey,
    once per ``source_key`` (issue key ``review:<source_key>``). For callers that record the
    review themselves (a survey answer in follow-ups: ``source_key="survey:<id>"``)."""
    return coupon_issue_auto(
        actor=actor,
        member=member,
        trigger="review",
        key=source_key,
    )


@dataclass(frozen=True)
class ReviewReward:
    coupon: Coupon | None
    points: PointsEntry | None
    already: bool  # this source was rewarded before: nothing new was given


@transaction.atomic
def review_reward(*, actor, member: Member, source_key: str, detail: dict | None = None) -> ReviewReward:
    """Reward a completed review or survey once per ``source_key``: the survey bonus points
    (``BonusRule`` survey, for members with a points account; key
    ``review:<source_key>:points``) and the review coupon. Refused with a clear message when
    no reward is configured; audited ``loyalty.review.rewarded``."""
    if not source_key:
        raise ValueError("a review reward needs a source key")
    if member.status != MemberStatus.ACTIVE:
        raise LoyaltyError(_("This record is restricted or closed."), code="inactive")
    points_key, coupon_key = f"review:{source_key}:points", f"review:{source_key}"
    already = (
        PointsEntry.objects.filter(idempotency_key=points_key).exists()
        or Coupon.objects.filter(issue_key=coupon_key).exists()
    )
    rule = BonusRule.objects.filter(kind=BonusKind.SURVEY, is_active=True, points__gt=0).first()
    has_account = PointsAccount.objects.filter(member=member, is_open=True).exists()
    template = auto_template("review")
    if template is None and (rule is None or not has_account):
        raise LoyaltyError(
            _("No reward is set up for reviews and surveys (a review coupon or survey points)."),
            code="not_configured",
        )
    entry = None
    if rule is not None and has_account:
        from .services import points_bonus_award

        entry = points_bonus_award(
            actor=actor,
            member=member,
            kind=BonusKind.SURVEY,
            idempotency_key=points_key,
            source_key=coupon_key,
        )
    coupon = coupon_issue_for_review(actor=actor, member=member, source_key=source_key)
    if not already:
        audit_record(
            actor=actor,
            action="loyalty.review.rewarded",
            target=member,
            changes={
                "source": source_key,
                "coupon": coupon.code if coupon else None,
                "points": entry.points if entry else 0,
                **(detail or {}),
            },
        )
    return ReviewReward(coupon=coupon, points=entry, already=already)


def _reference_key(reference: str) -> str:
    return re.sub(r"[^0-9A-Za-z\u4e00-\u9fff_-]+", "", reference)[:40]


def review_record(
    *, actor, member: Member, channel: str, reference: str = "", note: str = ""
) -> ReviewReward:
    """Staff record that a member completed a review or survey (``loyalty.record_review``).
    One reward per member, channel and reference (the review's number or link); without a
    reference, one per member, channel and day."""
    if actor is None or not actor.has_perm(REVIEW_PERMISSION):
        raise LoyaltyError(_("Your role may not record reviews."), code="forbidden")
    if channel not in ReviewChannel.values:
        raise LoyaltyError(_("Choose where the review was left."), field="channel")
    reference = " ".join((reference or "").split())[:200]
    ref = _reference_key(reference) or timezone.localdate().isoformat()
    return review_reward(
        actor=actor,
        member=member,
        source_key=f"staff:{member.pk}:{channel}:{ref}",
        detail={"channel": channel, "reference": reference, "note": (note or "")[:200]},
    )
