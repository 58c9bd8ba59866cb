"""Demo loyalty data for ``manage.py seed_demo``: members in every tier, points about to
expire, a member close to the next tier, allowances partly used, coupons (printed batch,
automatic ones: welcome, tier yearly coupons, a review reward; one not combinable with the
tier discount), rewards, a referral, stored value balances (top-ups with the bonus rule, a migrated balance).
Idempotent: people are found by name and phone,
purchases, points and coupons by their keys."""

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
    # Before anyone enrols or upgrades: the coupons LOYALTY_AUTO_COUPONS names in
    # development (clinic/settings/local.py) are then issued by the real triggers.
    seed_auto_coupon_templates()
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
    # The members demo gives some people a card number (stage 会员): they hold that card.
    for member in Member.objects.filter(stage=Stage.MEMBER, card_no__isnull=False, membership__isnull=True):
        services.membership_enrol(actor=None, member=member, branch=member.branch)
        enrolled += 1
    seed_coupons(branches=branches)
    seed_auto_coupons()
    seed_stored_value()
    return enrolled


# Stored value (储值): the bonus rules HQ set, and members with a balance.
STORED_VALUE_RULES = [("充1000送100", "1000", "100"), ("充3000送400", "3000", "400")]
# phone, [(top-up amount, method)], spent at the front desk, migrated (paid, bonus)
STORED_VALUE = [
    ("13900001001", [("3000", "wechat_pay")], "680", None),
    ("13900001003", [("1000", "alipay"), ("500", "cash")], "", None),
    ("13900001004", [], "", ("1200", "150")),
]


def seed_stored_value() -> None:
    """Top-ups by the demo front desk (through the service, so the bonus rule applies), one
    spend, and one balance carried over from the old system. Idempotent by keys."""
    from django.contrib.auth import get_user_model

    from .models import StoredValueBonusRule

    for name, threshold, bonus in STORED_VALUE_RULES:
        StoredValueBonusRule.objects.get_or_create(
            name=name, defaults={"threshold": Decimal(threshold), "bonus": Decimal(bonus)}
        )
    desk = get_user_model().objects.filter(username="frontdesk").first()
    for phone, top_ups, spent, opening in STORED_VALUE:
        member = Member.objects.filter(phone=f"+86{phone}").first()
        if member is None:
            continue
        if desk is not None:
            for i, (amount, method) in enumerate(top_ups):
                services.stored_value_top_up(
                    actor=desk,
                    member=member,
                    amount=Decimal(amount),
                    method=method,
                    idempotency_key=f"demo:stored_value:{phone}:top_up:{i}",
                    branch=member.branch,
                )
            if spent:
                services.stored_value_spend(
                    actor=desk,
                    member=member,
                    amount=Decimal(spent),
                    idempotency_key=f"demo:stored_value:{phone}:spend",
                    source_key="demo",
                    branch=member.branch,
                )
        if opening:
            services.stored_value_open_balance(
                actor=None,
                member=member,
                paid=Decimal(opening[0]),
                bonus=Decimal(opening[1]),
                idempotency_key=f"demo:stored_value:{phone}:open",
                reason="旧系统余额迁移",
            )


# Names match LOYALTY_AUTO_COUPONS in clinic/settings/local.py.
AUTO_TEMPLATES = [
    # name, kind, fields, eligible category codes
    ("新会员礼：满300减50", "amount", {"amount_off": "50", "min_spend": "300"}, []),
    ("金卡年度礼券", "amount", {"amount_off": "100", "min_spend": "500"}, []),
    ("钻石年度礼券", "amount", {"amount_off": "300", "min_spend": "1000"}, []),
    ("好评礼：洁牙9折", "percent", {"percent_off": "10", "cap": "50"}, ["PREV"]),
    # Not combinable with the tier discount: checkout applies whichever is better.
    (
        "周年庆满1000减150（不与会员折扣同享）",
        "amount",
        {"amount_off": "150", "min_spend": "1000", "with_tier_discount": False},
        [],
    ),
]


def seed_auto_coupon_templates() -> None:
    from clinic.models import ServiceCategory

    from .coupon_models import CouponTemplate

    for name, kind, fields, categories in AUTO_TEMPLATES:
        values = {k: Decimal(v) if isinstance(v, str) else v for k, v in fields.items()}
        tpl, created = CouponTemplate.objects.get_or_create(
            name=name, defaults={"kind": kind, "valid_days": 180, **values}
        )
        if created and categories:
            tpl.categories.set(ServiceCategory.objects.filter(code__in=categories))


def seed_auto_coupons() -> None:
    """The tier yearly coupons of the demo members (idempotent: what the triggers gave is
    found by its key), a review rewarded for 孙丽 (survey points, and the review coupon when
    configured), and the not-combinable coupon for 赵雪 to try at checkout."""
    from .auto_coupons import coupon_issue_for_tier, review_reward
    from .coupon_models import CouponTemplate
    from .coupons import coupon_issue

    people = {
        name: m
        for name, phone, *_rest in PEOPLE
        if (m := Member.objects.filter(name=name, phone=f"+86{phone}").first()) is not None
    }
    for membership in Membership.objects.filter(member__in=people.values()).select_related("tier", "member"):
        coupon_issue_for_tier(actor=None, membership=membership)
    if "孙丽" in people:
        review_reward(
            actor=None,
            member=people["孙丽"],
            source_key="demo:review:dianping:1",
            detail={"channel": "dianping", "reference": "demo"},
        )
    anniversary = CouponTemplate.objects.filter(name=AUTO_TEMPLATES[-1][0]).first()
    if "赵雪" in people and anniversary is not None:
        coupon_issue(
            actor=None,
            template=anniversary,
            member=people["赵雪"],
            reason="演示：不与会员折扣同享",
            issue_key="demo:coupon:anniversary:赵雪",
            system=True,
        )


def seed_coupons(*, branches: dict[str, Branch]) -> None:
    """Coupon templates, a printed batch handed to 孙磊 (marketing), coupons issued to the
    demo members, reward items with stock, and one referral pair. Idempotent: templates and
    rewards by name, the batch by marketer, issues and the referral by their keys."""
    from django.contrib.auth import get_user_model

    from clinic.models import ServiceCategory, ServiceItem

    from .coupon_models import (
        CouponBatch,
        CouponKind,
        CouponTemplate,
        Referral,
        RewardItem,
        RewardKind,
    )
    from .coupons import coupon_batch_create, coupon_issue
    from .referrals import referral_set

    cleaning = ServiceItem.objects.filter(code="PV01").first()
    prevention = ServiceCategory.objects.filter(code="PREV").first()
    templates = {}
    for name, kind, fields in [
        ("满300减50", CouponKind.AMOUNT, {"amount_off": Decimal("50"), "min_spend": Decimal("300")}),
        ("洁牙9折（最高减100）", CouponKind.PERCENT, {"percent_off": Decimal("10"), "cap": Decimal("100")}),
        ("免费涂氟", CouponKind.FREE_ITEM, {"free_item": ServiceItem.objects.filter(code="PV03").first()}),
    ]:
        tpl, _created = CouponTemplate.objects.get_or_create(
            name=name,
            defaults={"kind": kind, "valid_days": 90, "stackable": kind == CouponKind.FREE_ITEM, **fields},
        )
        if name.startswith("洁牙") and prevention is not None:
            tpl.categories.add(prevention)
        templates[name] = tpl
    marketer = get_user_model().objects.filter(username="marketing").first()
    if marketer is not None and not CouponBatch.objects.filter(marketer=marketer).exists():
        coupon_batch_create(
            actor=marketer,
            template=templates["满300减50"],
            count=200,
            name="社区地推（孙磊）",
            branch=branches["JA"],
            marketer=marketer,
            channel="地推",
        )
    people = {m.name: m for m in Member.objects.filter(name__in=[p[0] for p in PEOPLE])}
    for i, (name, _phone, *_rest) in enumerate(PEOPLE):
        member = people.get(name)
        if member is not None:
            tpl = list(templates.values())[i % len(templates)]
            coupon_issue(
                actor=None,
                template=tpl,
                member=member,
                reason="演示",
                issue_key=f"demo:coupon:{name}",
                system=True,
            )
    for name, kind, cost, stock, extra in [
        ("电动牙刷", RewardKind.GIFT, 800, 20, {}),
        ("漱口水礼盒", RewardKind.GIFT, 300, 50, {}),
        ("免费洁牙一次", RewardKind.SERVICE, 500, None, {"service_item": cleaning}),
        ("满300减50券", RewardKind.COUPON, 200, None, {"coupon_template": templates["满300减50"]}),
    ]:
        RewardItem.objects.get_or_create(
            name=name, defaults={"kind": kind, "points_cost": cost, "stock": stock, **extra}
        )
    referrer, referee = people.get("赵雪"), people.get("周敏")
    if referrer and referee and not Referral.objects.filter(referee=referee).exists():
        referral_set(actor=None, referee=referee, referrer=referrer)
