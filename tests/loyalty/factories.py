from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from loyalty import services
from loyalty.models import Membership, PointsAccount, Tier
from tests.members.factories import make_member


def tier(code: str) -> Tier:
    return Tier.objects.get(code=code)


def enrolled(branch, *, name: str = "王芳", welcome_points: int = 0, actor=None, **kwargs) -> Membership:
    member = make_member(branch, name=name, **kwargs)
    return services.membership_enrol(actor=actor, member=member, branch=branch, welcome_points=welcome_points)


def account(member) -> PointsAccount:
    return PointsAccount.objects.get(member=member, is_open=True)


def earn(member, points: int, key: str, *, days_ago: int = 0):
    at = timezone.now() - dt.timedelta(days=days_ago)
    return services.points_earn(actor=None, member=member, points=points, idempotency_key=key, earned_at=at)


def buy(member, amount: str, key: str, *, days_ago: int = 0, **kwargs):
    at = timezone.now() - dt.timedelta(days=days_ago)
    return services.purchase_record(
        actor=None, member=member, amount=Decimal(amount), source_key=key, occurred_at=at, **kwargs
    )


def invariant_holds(member) -> bool:
    """balance == sum(entries) == sum(open lots), all >= 0, for every account of the person."""
    rows = {row[0]: row for row in services.ledger_drift_rows()}
    return not any(a.pk in rows for a in PointsAccount.objects.filter(member=member))
