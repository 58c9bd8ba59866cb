from __future__ import annotations

import factory
from django.utils import timezone

from clinic.notifications.models import Channel, MessageTemplate, Outbox, Purpose, Status


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate
        django_get_or_create = ("key", "channel", "language")

    key = "appointment.reminder"
    channel = Channel.SMS
    language = "zh-hans"
    name = "预约提醒"
    body = "【微笑口腔】{name}您好，您预约了{start}的{service}，请准时到店。"
    aliyun_template_code = "SMS_100001"
    aliyun_sign_name = "微笑口腔"
    tencent_template_id = "1100001"
    tencent_sign_name = "微笑口腔"
    tencent_param_order = "name,start,service"
    wechat_template_id = "tpl-reminder"
    wechat_fields = factory.LazyFunction(lambda: {"thing1": "service", "time2": "start"})


class OutboxFactory(factory.django.DjangoModelFactory):
    """Rows in any state, for list pages and admin (the services make the real ones)."""

    class Meta:
        model = Outbox

    dedupe_key = factory.Sequence(lambda n: f"test:{n}")
    channel = Channel.SMS
    recipient = "+8613812345678"
    template_key = "appointment.reminder"
    language = "zh-hans"
    params = factory.LazyFunction(lambda: {"name": "张三", "start": "5月6日 10:00", "service": "洁牙"})
    purpose = Purpose.SERVICE
    status = Status.PENDING
    next_attempt_at = factory.LazyFunction(timezone.now)


REMINDER_PARAMS = {"name": "张三", "start": "5月6日 10:00", "service": "超声洁牙"}


def reminder_templates() -> list[MessageTemplate]:
    """The reminder in both languages and all three channels."""
    rows = []
    for channel in Channel.values:
        rows.append(MessageTemplateFactory(channel=channel))
        rows.append(
            MessageTemplateFactory(
                channel=channel,
                language="en",
                name="Appointment reminder",
                subject="Your appointment",
                body="Hello {name}, you have {service} booked for {start}. See you soon.",
            )
        )
    return rows
