"""Demo message templates and a few outbox rows in every state, for ``seed_demo``.
Idempotent: templates are matched by key, channel and language; rows by dedupe key."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from .models import Channel, MessageTemplate, Outbox, Purpose, Status
from .services import notification_enqueue

# key, name, zh body, en body, Aliyun code, Tencent id, Tencent order, WeChat fields
TEMPLATES = [
    (
        "appointment.reminder",
        "预约提醒",
        "【微笑口腔】{name}您好，您已预约{start}在{branch}的{service}，请提前10分钟到店。如需改期请致电{phone}。",
        "Smile Dental: Hello {name}, your {service} at {branch} is booked for {start}. "
        "Please arrive 10 minutes early. To reschedule, call {phone}.",
        "SMS_460001",
        "1900001",
        "name,start,branch,service,phone",
        {"thing1": "service", "time2": "start", "thing3": "branch"},
    ),
    (
        "points.expiry",
        "积分到期提醒",
        "【微笑口腔】{name}您好，您有{points}积分将于{date}到期，欢迎到店兑换礼品或抵扣诊疗费用。",
        "Smile Dental: Hello {name}, {points} of your points expire on {date}. "
        "Redeem them for gifts or treatment at any branch.",
        "SMS_460002",
        "1900002",
        "name,points,date",
        {"thing1": "name", "number2": "points", "date3": "date"},
    ),
    (
        "birthday.care",
        "生日关怀",
        "【微笑口腔】{name}，祝您生日快乐！生日当月到店可享免费口腔检查一次。",
        "Smile Dental: Happy birthday, {name}! Enjoy a free oral check-up at any branch this month.",
        "SMS_460003",
        "1900003",
        "name",
        {"thing1": "name"},
    ),
    (
        "complaint.reply",
        "投诉处理回复",
        "【微笑口腔】{name}您好，您反馈的问题（编号{case}）已处理：{summary}。如有疑问请致电{phone}。",
        "Smile Dental: Hello {name}, your feedback (case {case}) has been handled: {summary}. "
        "Questions? Call {phone}.",
        "SMS_460004",
        "1900004",
        "name,case,summary,phone",
        {"character_string1": "case", "thing2": "summary"},
    ),
]

DEMO_PARAMS = {
    "appointment.reminder": {
        "name": "张伟",
        "start": "明天 10:00",
        "branch": "静安店",
        "service": "超声洁牙",
        "phone": "021-62881234",
    },
    "points.expiry": {"name": "李娜", "points": 1200, "date": "2026-12-31"},
    "birthday.care": {"name": "王芳"},
    "complaint.reply": {
        "name": "刘洋",
        "case": "TS-0012",
        "summary": "已为您安排复诊",
        "phone": "021-62881234",
    },
}


@transaction.atomic
def seed_notifications(*, branches: dict) -> None:
    for key, name, zh, en, aliyun, tencent, order, wx in TEMPLATES:
        for channel in (Channel.SMS, Channel.WECHAT):
            for language, body in (("zh-hans", zh), ("en", en)):
                MessageTemplate.objects.update_or_create(
                    key=key,
                    channel=channel,
                    language=language,
                    defaults={
                        "name": name,
                        "body": body,
                        "aliyun_template_code": aliyun,
                        "aliyun_sign_name": "微笑口腔",
                        "tencent_template_id": tencent,
                        "tencent_sign_name": "微笑口腔",
                        "tencent_param_order": order,
                        "wechat_template_id": f"demo-{key}",
                        "wechat_fields": wx,
                    },
                )
    branch = branches.get("JA")
    now = timezone.now()
    demo_rows = [
        (
            "demo:reminder:1",
            "appointment.reminder",
            "+8613800138001",
            Purpose.SERVICE,
            "",
            Status.PENDING,
            "",
        ),
        ("demo:points:1", "points.expiry", "+8613800138002", Purpose.SERVICE, "", Status.SENT, ""),
        (
            "demo:birthday:1",
            "birthday.care",
            "+8613800138003",
            Purpose.MARKETING,
            "demo-consent-1",
            Status.SKIPPED,
            "接收人已退订此类消息。",
        ),
        (
            "demo:complaint:1",
            "complaint.reply",
            "+8613800138004",
            Purpose.SERVICE,
            "",
            Status.FAILED,
            "isv.MOBILE_NUMBER_ILLEGAL: 非法手机号",
        ),
    ]
    for dedupe_key, key, phone, purpose, consent, status, error in demo_rows:
        row = notification_enqueue(
            channel=Channel.SMS,
            recipient=phone,
            template_key=key,
            params=DEMO_PARAMS[key],
            purpose=purpose,
            consent_ref=consent or None,
            dedupe_key=dedupe_key,
            branch=branch,
            not_before=now + dt.timedelta(hours=20) if status == Status.PENDING else None,
        )
        if row.was_created and status != Status.PENDING:
            # Demo history: rows as the sender would have left them.
            Outbox.objects.filter(pk=row.pk).update(
                status=status,
                attempts=1,
                last_error=error,
                sent_at=now if status == Status.SENT else None,
                provider_message_id="file:demo" if status == Status.SENT else "",
            )
