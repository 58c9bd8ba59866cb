"""Reasons the system writes on points entries by itself, stored as stable codes and put into
words only when an entry is shown, in the reader's language.

A translated text stored at write time stays in the language of whoever caused the entry (an
enrolment by a Chinese-speaking front desk showed "开卡赠送积分" on every English screen). A
reason typed by staff (a manual adjustment, a cancelled reward, a voided visit) is stored and
shown as typed; so is the text that entries written before these codes carry.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import BonusKind


class PointsReason(models.TextChoices):
    WELCOME = "welcome", _("Welcome points")
    # The code is what merges always wrote, so their older entries read in words too.
    MERGE = "merge", _("Moved by a merge of duplicate records")
    REFERRAL_REVERSED = "referral_reversed", _("Referral reward reversed")
    OPENING = "opening", _("Opening balance from the old system")


_LABELS = {**dict(PointsReason.choices), **dict(BonusKind.choices)}


def reason_label(reason: str) -> str:
    """``reason`` in words: the label of a system code in the active language, anything else
    (typed by staff, or stored before the codes) as it is. The codes are lower-case English
    identifiers; a typed reason would have to be exactly one of them to read as its label."""
    label = _LABELS.get(reason or "")
    return str(label) if label is not None else reason


class CouponReason(models.TextChoices):
    """Why the system issued a coupon (``Coupon.reason``): the automatic triggers and reward
    redemptions store their code; a coupon issued by hand keeps the reason staff typed."""

    WELCOME = "welcome", _("Welcome coupon")
    BIRTHDAY = "birthday", _("Birthday coupon")
    ALLOWANCE = "allowance", _("Tier yearly coupon")
    REVIEW = "review", _("Review or survey reward")
    REFERRAL = "referral", _("Referral reward")
    REWARD = "reward", _("Points reward")


def coupon_reason_label(reason: str) -> str:
    """``reason`` in words, like ``reason_label`` for points entries."""
    label = dict(CouponReason.choices).get(reason or "")
    return str(label) if label is not None else reason
