"""Opt-out by reply (回T退订) and by link, and the providers' delivery reports: each takes
effect at once, pushed twice counts once, and a bad push gets a clear answer, never a 500."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from clinic.models import AuditLog
from clinic.notifications import services
from clinic.notifications.backends import locmem
from clinic.notifications.inbound import is_opt_out
from clinic.notifications.models import Channel, InboundKind, InboundMessage, OptOut, Outbox, Purpose, Status
from clinic.notifications.unsubscribe import unsubscribe_token
from tests.notifications.factories import REMINDER_PARAMS, MessageTemplateFactory, reminder_templates
from tests.notifications.test_services import PHONE, enqueue

TOKEN = "inbound-test-token"


@pytest.fixture
def templates(db, settings):
    settings.NOTIFICATIONS_QUIET_HOURS = None
    rows = reminder_templates()
    for channel in Channel.values:
        MessageTemplateFactory(
            key="marketing.promo",
            channel=channel,
            name="促销",
            subject="冬季洁牙",
            body="{name}您好，冬季洁牙八折。",
        )
    return rows


def promo(channel=Channel.SMS, recipient=PHONE, key="promo:1") -> Outbox:
    return enqueue(
        channel=channel,
        recipient=recipient,
        template_key="marketing.promo",
        params={"name": "张三"},
        purpose=Purpose.MARKETING,
        consent_ref="consent:1",
        dedupe_key=key,
    )


def push(provider: str, kind: str, payload, token: str = TOKEN):
    url = reverse(
        "notifications:inbound", kwargs={"provider": provider, "kind": kind, "inbound_token": token}
    )
    return Client().post(url, data=json.dumps(payload), content_type="application/json")


@pytest.mark.parametrize("text", ["T", "t", "TD", " 退订 ", "退订。", "N", "0000", "取消"])
def test_the_carriers_opt_out_words_are_recognised(text):
    assert is_opt_out(text)


@pytest.mark.parametrize("text", ["", "你好", "T恤", "请问明天几点开门", "TDD"])
def test_other_replies_are_not_opt_outs(text):
    assert not is_opt_out(text)


def test_a_t_reply_opts_out_at_once_even_for_messages_already_queued(templates):
    queued = promo()
    reminder = enqueue(dedupe_key="reminder:1")
    reply = {"mobile": "13812345678", "nationcode": "86", "text": "T", "sign": "微笑口腔", "time": 1760000000}
    response = push("tencent", "reply", reply)
    assert response.status_code == 200 and response.json() == {"result": 0, "errmsg": "OK"}
    assert OptOut.objects.get(channel=Channel.SMS, recipient=PHONE).scope == "marketing"
    assert InboundMessage.objects.get().kind == InboundKind.OPT_OUT
    assert AuditLog.objects.filter(action="notifications.optout.set").count() == 1
    services.outbox_send_due(budget_seconds=5)
    queued.refresh_from_db()
    reminder.refresh_from_db()
    assert queued.status == Status.SKIPPED  # the promotion is not sent
    assert reminder.status == Status.SENT  # care and service messages still go
    # The provider pushes the same reply again: stored once, one opt-out, one audit row.
    assert push("tencent", "reply", [reply]).status_code == 200
    assert InboundMessage.objects.count() == 1
    assert AuditLog.objects.filter(action="notifications.optout.set").count() == 1


def test_an_aliyun_reply_in_chinese_and_an_ordinary_reply(templates):
    payload = [
        {
            "phone_number": "13812345678",
            "content": "退订",
            "send_time": "2026-12-06 10:00:00",
            "sequence_id": 11,
        },
        {
            "phone_number": "13900001111",
            "content": "明天几点开门？",
            "send_time": "2026-12-06 10:01:00",
            "sequence_id": 12,
        },
    ]
    response = push("aliyun", "reply", payload)
    assert response.status_code == 200 and response.json()["code"] == 0
    assert list(OptOut.objects.values_list("recipient", flat=True)) == [PHONE]
    other = InboundMessage.objects.get(kind=InboundKind.OTHER)
    assert other.sender == "+8613900001111" and other.text == "明天几点开门？"


@pytest.mark.parametrize(
    "payload",
    ["not json", [], [1, 2], {"text": "T"}, {"mobile": "12", "text": "T"}, {"mobile": "138", "time": "x"}],
)
def test_a_bad_push_gets_400_and_changes_nothing(templates, payload):
    url = reverse(
        "notifications:inbound", kwargs={"provider": "tencent", "kind": "reply", "inbound_token": TOKEN}
    )
    body = payload if isinstance(payload, str) else json.dumps(payload)
    response = Client().post(url, data=body, content_type="application/json")
    assert response.status_code == 400 and response.json()["result"] == 1
    assert not OptOut.objects.exists() and not InboundMessage.objects.exists()


def test_the_wrong_secret_or_provider_is_not_found_and_get_is_not_served(templates, settings):
    assert push("tencent", "reply", {"mobile": "13812345678", "text": "T"}, token="guess").status_code == 404
    assert push("other", "reply", {"mobile": "13812345678", "text": "T"}).status_code == 404
    assert push("tencent", "other", {"mobile": "13812345678", "text": "T"}).status_code == 404
    settings.NOTIFICATIONS_INBOUND_TOKEN = ""  # not configured: nothing is accepted
    assert push("tencent", "reply", {"mobile": "13812345678", "text": "T"}, token="x").status_code == 404
    url = reverse(
        "notifications:inbound", kwargs={"provider": "tencent", "kind": "reply", "inbound_token": TOKEN}
    )
    assert Client().get(url).status_code == 405
    assert not OptOut.objects.exists()


def test_delivery_reports_mark_messages_delivered_or_say_why_not(templates):
    first, second = enqueue(dedupe_key="r1"), enqueue(dedupe_key="r2", recipient="+8613900001111")
    third = enqueue(dedupe_key="r3", recipient="+8613900002222")
    services.outbox_send_due(budget_seconds=5)
    first.refresh_from_db()
    Outbox.objects.filter(pk=second.pk).update(provider_message_id="sid-2")
    tencent = [
        {
            "mobile": "13900001111",
            "report_status": "SUCCESS",
            "errmsg": "DELIVRD",
            "sid": "sid-2",
            "user_receive_time": "2026-12-06 10:00:05",
        },
    ]
    assert push("tencent", "report", tencent).status_code == 200
    aliyun = [
        {
            "phone_number": "13812345678",
            "success": True,
            "err_code": "DELIVERED",
            "biz_id": "b1",
            "out_id": str(first.pk),
            "report_time": "2026-12-06 10:00:06",
        },
        {
            "phone_number": "13900002222",
            "success": False,
            "err_code": "MK:0001",
            "err_msg": "空号",
            "biz_id": "b3",
            "out_id": str(third.pk),
            "report_time": "2026-12-06 10:00:07",
        },
    ]
    assert push("aliyun", "report", aliyun).status_code == 200
    for row in (first, second, third):
        row.refresh_from_db()
    assert first.delivered_at and second.delivered_at and not third.delivered_at
    assert third.delivery_error == "MK:0001 空号"
    assert {first.status, second.status, third.status} == {Status.SENT}
    # Pushed again: nothing moves (the first report stands).
    delivered_at = first.delivered_at
    assert push("aliyun", "report", aliyun).status_code == 200
    first.refresh_from_db()
    assert first.delivered_at == delivered_at


def test_the_unsubscribe_link_asks_first_then_opts_out(templates):
    token = unsubscribe_token(Channel.EMAIL, "zhang@example.com")
    url = reverse("notifications:unsubscribe", kwargs={"unsub_token": token})
    client = Client()
    page = client.get(url)
    assert page.status_code == 200 and "z***@example.com" in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    assert not OptOut.objects.exists()  # a link scanner's GET unsubscribes no one
    assert client.post(url, {"x": "1"}).status_code == 200 and not OptOut.objects.exists()
    done = client.post(url, {"confirm": "unsubscribe"})
    assert done.status_code == 200 and 'data-testid="unsubscribe-done"' in done.content.decode()
    assert OptOut.objects.get(channel=Channel.EMAIL, recipient="zhang@example.com").reason == "退订链接"
    # A forged or damaged token is refused with a page that says what to do.
    bad = client.post(
        reverse("notifications:unsubscribe", kwargs={"unsub_token": token[:-3] + "xyz"}),
        {"confirm": "unsubscribe"},
    )
    assert bad.status_code == 400 and 'data-testid="unsubscribe-invalid"' in bad.content.decode()
    assert OptOut.objects.count() == 1


def test_a_mail_clients_one_click_post_without_csrf_token_works(templates):
    token = unsubscribe_token(Channel.EMAIL, "li@example.com")
    client = Client(enforce_csrf_checks=True)
    url = reverse("notifications:unsubscribe", kwargs={"unsub_token": token})
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert OptOut.objects.filter(recipient="li@example.com").exists()


def test_marketing_mail_carries_the_link_and_list_unsubscribe_service_mail_does_not(templates, settings):
    settings.NOTIFICATIONS_BACKENDS = {"sms": "locmem", "wechat": "locmem", "email": "email"}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    promo(channel=Channel.EMAIL, recipient="zhang@Example.com", key="promo:mail")
    enqueue(
        channel=Channel.EMAIL,
        recipient="zhang@example.com",
        dedupe_key="reminder:mail",
        params=REMINDER_PARAMS,
    )
    services.outbox_send_due(budget_seconds=5)
    marketing, service = sorted(mail.outbox, key=lambda m: "List-Unsubscribe" not in m.extra_headers)
    link = marketing.extra_headers["List-Unsubscribe"].strip("<>")
    assert link in marketing.body and "/notifications/unsubscribe/" in link
    assert marketing.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "List-Unsubscribe" not in service.extra_headers and "unsubscribe" not in service.body
    # The stored text is what was sent, link included; following it opts the address out.
    assert link in Outbox.objects.get(dedupe_key="promo:mail").body
    assert (
        Client()
        .post(link.replace("http://localhost:8000", ""), {"List-Unsubscribe": "One-Click"})
        .status_code
        == 200
    )
    assert OptOut.objects.filter(channel=Channel.EMAIL, recipient="zhang@example.com").exists()


def test_marketing_sms_says_how_to_opt_out(templates):
    promo(key="promo:sms")
    enqueue(dedupe_key="reminder:sms")
    services.outbox_send_due(budget_seconds=5)
    bodies = {m.purpose: m.body for m in locmem.outbox}
    assert bodies["marketing"].endswith("回T退订")
    assert "退订" not in bodies["service"]
