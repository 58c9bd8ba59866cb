"""Demo loyalty data for ``manage.py seed_demo``: members in every tier, points about to
expire, a member close to the next tier, allowances partly used. Idempotent: people are
found by name and phone, purchases and points by their keys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from clinic.models import Branch
from members import services as member_services
from members.models import Member, Stage

from . import services
from .models import Membership

# name, phone, branch, [(days ago, amount)], allowance uses, extra points (days ago, points)
PEOPLE = [
    ("赵雪", "13900001001", "JA", [(300, "12000"), (200, "15000"), (60, "6000")], ["cleaning"], []),
    ("钱坤", "13900001002", "JA", [(340, "8000"), (120, "2500")], [], [(345, 300)]),
    ("孙丽", "13900001003", "JA", [(250, "4000"), (150, "3200"), (40, "2000")], [], []),
    ("李强", "13900001004", "PD", [(330, "600")], [], [(350, 120)]),
    ("周敏", "13900001005", "PD", [(100, "3500")], ["cleaning"], [(20, 80)]),
]


def seed_loyalty(*, branches: dict[str, Branch]) -> int:
    """Create what is missing; returns the number of members enrolled."""
    import importlib

    from django.apps import apps

    # The seed programme is a data migration; put it back if a flush took it away.
    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)
    enrolled = 0
    now = timezone.now()
    for name, phone, code, purchases, uses, extra in PEOPLE:
        branch = branches[code]
        member = Member.objects.filter(name=name, phone=f"+86{phone}").first()
        if member is None:
            member = member_services.member_register(
                actor=None, branch=branch, name=name, phone=phone, stage=Stage.PATIENT, allow_duplicate=True
            )
        if not Membership.objects.filter(member=member).exists():
            # Enrolled a year ago, so the purchases below fall in the membership's first year.
            services.membership_enrol(actor=None, member=member, branch=branch, welcome_points=100)
            enrolled += 1
        for i, (days, amount) in enumerate(purchases):
            services.purchase_record(
                actor=None,
                member=member,
                amount=Decimal(amount),
                source_key=f"demo:loyalty:{phone}:{i}",
                occurred_at=now - dt.timedelta(days=days),
                branch=branch,
            )
        for i, kind in enumerate(uses):
            membership = Membership.objects.get(member=member)
            if any(s.kind == kind and s.per_year for s in services.allowance_status(membership)):
                services.allowance_consume(
                    actor=None, member=member, kind=kind, source_key=f"demo:loyalty:{phone}:allowance:{i}"
                )
        for i, (days, points) in enumerate(extra):
            # Points earned ~11 months ago: they expire within the next 30 days.
            services.points_earn(
                actor=None,
                member=member,
                points=points,
                idempotency_key=f"demo:loyalty:{phone}:bonus:{i}",
                source_key="demo",
                reason="活动赠送",
                earned_at=now - dt.timedelta(days=days),
            )
    return enrolled
