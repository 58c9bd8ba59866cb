"""The clinic's seed programme (four tiers, the points policy, bonuses), the message
templates loyalty sends, and the role grants of docs/permissions.md. Idempotent: rows HQ
has edited are left alone."""

from decimal import Decimal

from django.contrib.auth.management import create_permissions
from django.db import migrations

TIERS = [
    # code, name, name_en, rank, amount, visits, basic-care %, multiplier, priority, rep, css, allowances
    ("basic", "普通会员", "Standard", 10, None, None, "5", "1.00", False, False, "text-bg-secondary", []),
    (
        "silver",
        "银卡",
        "Silver",
        20,
        "3000",
        3,
        "10",
        "1.20",
        False,
        False,
        "text-bg-light",
        [("cleaning", 1)],
    ),
    ("gold", "金卡", "Gold", 30, "10000", 6, "15", "1.50", True, False, "text-bg-warning", [("cleaning", 1)]),
    (
        "diamond",
        "钻石",
        "Diamond",
        40,
        "30000",
        10,
        "20",
        "2.00",
        True,
        True,
        "text-bg-dark",
        [("cleaning", 2), ("exam", 1)],
    ),
]

BONUSES = [("referral", 500), ("event", 100), ("survey", 50), ("birthday", 200), ("recall", 100)]

TEMPLATES = [
    # key, channel, name, zh, en, subject
    (
        "loyalty.welcome",
        "sms",
        "办卡欢迎",
        "{name}您好，欢迎成为会员！您的会员卡号 {card_no}，当前等级 {tier}，获赠积分 {points} 分。",
        "Dear {name}, welcome to our membership! Card {card_no}, tier {tier}, welcome points {points}.",
        "",
    ),
    (
        "loyalty.points_expiring",
        "sms",
        "积分到期提醒",
        "{name}您好，您有 {points} 积分将于 {date} 到期，请及时使用。",
        "Dear {name}, {points} of your points expire on {date}. Use them before then.",
        "",
    ),
    (
        "loyalty.tier_review_warning",
        "sms",
        "等级复核提醒",
        "{name}您好，您的{tier}将于 {date} 复核：{needed}。",
        "Dear {name}, your {tier} is reviewed on {date}: {needed}.",
        "",
    ),
    (
        "loyalty.tier_upgraded",
        "sms",
        "等级升级",
        "{name}您好，恭喜您升级为{tier}！",
        "Dear {name}, congratulations: you are now {tier}!",
        "",
    ),
    (
        "loyalty.tier_downgraded",
        "sms",
        "等级调整",
        "{name}您好，您的会员等级已调整为{tier}。",
        "Dear {name}, your membership tier is now {tier}.",
        "",
    ),
    (
        "loyalty.ledger_drift",
        "email",
        "积分对账差异",
        "{date} 对账发现 {count} 个积分账户的余额、流水与批次不一致，请在后台“积分对账差异”中查看。",
        "The reconciliation of {date} found {count} points accounts whose balance, entries and lots disagree. See Ledger drifts in admin.",
        "积分对账发现差异 / Points ledger drift",
    ),
]


def seed(apps, schema_editor):
    Tier = apps.get_model("loyalty", "Tier")
    TierAllowance = apps.get_model("loyalty", "TierAllowance")
    PointsPolicy = apps.get_model("loyalty", "PointsPolicy")
    BonusRule = apps.get_model("loyalty", "BonusRule")
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")

    if not Tier.objects.exists():
        for code, name, name_en, rank, amount, visits, pct, mult, priority, rep, css, allowances in TIERS:
            tier = Tier.objects.create(
                code=code,
                name=name,
                name_en=name_en,
                rank=rank,
                qualify_amount=Decimal(amount) if amount else None,
                qualify_visits=visits,
                qualify_logic="or",
                basic_care_discount=Decimal(pct),
                points_multiplier=Decimal(mult),
                priority_booking=priority,
                dedicated_rep=rep,
                badge_css=css,
            )
            for kind, per_year in allowances:
                TierAllowance.objects.create(tier=tier, kind=kind, per_year=per_year)
    PointsPolicy.objects.get_or_create(pk=1, defaults={"welcome_points": 100})
    for kind, points in BONUSES:
        BonusRule.objects.get_or_create(kind=kind, defaults={"points": points})
    for key, channel, name, zh, en, subject in TEMPLATES:
        for language, body in (("zh-hans", zh), ("en", en)):
            MessageTemplate.objects.get_or_create(
                key=key,
                channel=channel,
                language=language,
                defaults={"name": name, "body": body, "subject": subject},
            )


def grant_roles(apps, schema_editor):
    from clinic.roles import sync_roles

    # Permissions are normally created after the last migration; the role groups need the
    # loyalty permissions (and those of the apps it builds on) now: see clinic/roles.py and
    # docs/permissions.md.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0001_initial"),
        ("notifications", "0001_initial"),
        ("clinic", "0003_roles"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(grant_roles, migrations.RunPython.noop),
    ]
