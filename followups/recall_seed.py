"""The recall types, holiday greetings, settings row and message templates a clinic starts
with. Used by the data migration (with its historical ``apps``) and by ``seed_demo`` and the
tests (with the live registry), since a flushing test removes what migrations seeded."""

from __future__ import annotations

RECALL_TYPES = [
    # code, name, name_en, months, trigger services, trigger categories, max age, order
    ("cleaning", "洁牙复查", "Cleaning", 6, ["PV01", "PV02"], [], None, 1),
    ("periodontal", "牙周维护", "Periodontal maintenance", 3, [], ["PERI"], None, 2),
    ("orthodontic", "正畸复诊", "Orthodontic check", 1, [], ["ORTH"], None, 3),
    ("fluoride", "儿童涂氟", "Children's fluoride", 6, ["PE01", "PV03"], [], 14, 4),
]

HOLIDAYS = [
    ("new_year", "元旦", "New Year's Day", "solar", 1, 1),
    ("spring_festival", "春节", "Spring Festival", "lunar", 1, 1),
    ("dragon_boat", "端午节", "Dragon Boat Festival", "lunar", 5, 5),
    ("mid_autumn", "中秋节", "Mid-Autumn Festival", "lunar", 8, 15),
    ("national_day", "国庆节", "National Day", "solar", 10, 1),
]

# key, zh name, en name, zh body, en body (the names are what staff read in admin)
TEMPLATES = [
    (
        "followups.recall_early",
        "复查提前提醒",
        "Check-up due soon",
        "【微笑口腔】{name}您好，您的{type}将于{date}到期，欢迎提前预约{branch}，电话{phone}。",
        "Smile Dental: Hello {name}, your {type} is due on {date}. Book at {branch}: {phone}.",
    ),
    (
        "followups.recall_due",
        "复查到期提醒",
        "Check-up due today",
        "【微笑口腔】{name}您好，今天是您{type}的建议日期，按时复查可获积分奖励，预约请致电{phone}。",
        "Smile Dental: Hello {name}, your {type} is due today. Come on time for bonus points; call {phone} to book.",
    ),
    (
        "followups.birthday",
        "生日祝福",
        "Birthday greeting",
        "【微笑口腔】{name}，祝您生日快乐！{branch}全体医护人员祝您笑口常开。",
        "Smile Dental: Happy birthday, {name}! Best wishes from everyone at {branch}.",
    ),
    (
        "followups.birthday_coupon",
        "生日祝福（含礼券）",
        "Birthday greeting with a coupon",
        "【微笑口腔】{name}，祝您生日快乐！生日礼券“{coupon}”已放入您的账户，欢迎到店使用。",
        "Smile Dental: Happy birthday, {name}! A birthday coupon, {coupon}, is waiting in your account.",
    ),
    (
        "followups.holiday",
        "节日问候",
        "Holiday greeting",
        "【微笑口腔】{name}您好，{holiday}快乐！祝您和家人节日安康。",
        "Smile Dental: Hello {name}, happy {holiday}! Best wishes to you and your family.",
    ),
    (
        "followups.anniversary_visit",
        "就诊周年问候",
        "Anniversary of the first visit",
        "【微笑口腔】{name}您好，感谢您{years}年来对{branch}的信任，我们会继续守护您的口腔健康。",
        "Smile Dental: Hello {name}, thank you for trusting {branch} for {years} years.",
    ),
    (
        "followups.anniversary_enrol",
        "入会周年问候",
        "Membership anniversary",
        "【微笑口腔】{name}您好，今天是您成为会员{years}周年，感谢一路相伴！",
        "Smile Dental: Hello {name}, today marks {years} years as our member. Thank you!",
    ),
    (
        "followups.survey",
        "满意度问卷邀请",
        "Satisfaction survey invitation",
        "【微笑口腔】{name}您好，感谢您今天到访{branch}，请花1分钟评价本次服务：{link}",
        "Smile Dental: Hello {name}, thank you for visiting {branch}. Please rate us in one minute: {link}",
    ),
    (
        "followups.event_survey",
        "活动评价邀请",
        "Event feedback invitation",
        "【微笑口腔】{name}您好，感谢您参加{branch}的“{campaign}”活动，请花1分钟评价本次活动：{link}",
        'Smile Dental: Hello {name}, thank you for joining "{campaign}" at {branch}. Please rate the event in one minute: {link}',
    ),
]


def seed(apps) -> None:
    """Idempotent: rows are matched by their codes and keys."""
    RecallType = apps.get_model("followups", "RecallType")
    CareHoliday = apps.get_model("followups", "CareHoliday")
    CarePolicy = apps.get_model("followups", "CarePolicy")
    ServiceItem = apps.get_model("clinic", "ServiceItem")
    ServiceCategory = apps.get_model("clinic", "ServiceCategory")
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    CarePolicy.objects.get_or_create(pk=1)
    for code, name, name_en, months, items, cats, max_age, order in RECALL_TYPES:
        rt, created = RecallType.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "interval_months": months,
                "max_age": max_age,
                "sort_order": order,
                "window_before_days": 30 if months >= 3 else 7,
                "window_after_days": 30 if months >= 3 else 7,
            },
        )
        if created:
            rt.trigger_services.set(ServiceItem.objects.filter(code__in=items))
            rt.trigger_categories.set(ServiceCategory.objects.filter(code__in=cats))
    for code, name, name_en, calendar, month, day in HOLIDAYS:
        CareHoliday.objects.get_or_create(
            code=code,
            defaults={"name": name, "name_en": name_en, "calendar": calendar, "month": month, "day": day},
        )
    for key, zh_name, _en_name, zh, en in TEMPLATES:
        for channel in ("sms", "wechat"):
            # Staff read a template by its Chinese name in both languages' rows (as elsewhere).
            for language, name, body in (("zh-hans", zh_name, zh), ("en", zh_name, en)):
                MessageTemplate.objects.get_or_create(
                    key=key, channel=channel, language=language, defaults={"name": name, "body": body}
                )
