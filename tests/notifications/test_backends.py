"""The provider backends against a local HTTP server on 127.0.0.1 that checks what each
provider's API expects and answers with that provider's success and error shapes. The
official SDKs (Aliyun, Tencent) and our WeChat client do real HTTP; nothing of ours is
mocked."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from clinic.notifications import services
from clinic.notifications.backends import Delivery, Message
from clinic.notifications.backends.aliyun import AliyunSmsBackend
from clinic.notifications.backends.simple import ConsoleBackend, FileBackend
from clinic.notifications.backends.tencent import TencentSmsBackend
from clinic.notifications.backends.wechat import WeChatBackend
from clinic.notifications.errors import PermanentSendError, TransientSendError
from clinic.notifications.models import Channel, Outbox, Purpose, Status, WeChatAccessToken
from tests.notifications.factories import REMINDER_PARAMS, MessageTemplateFactory

pytestmark = pytest.mark.django_db


class Recorded:
    def __init__(self, method: str, path: str, query: dict, headers: dict, body: bytes):
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body

    def json(self) -> dict:
        return json.loads(self.body)


class FakeProvider:
    """A tiny HTTP server: ``answer(request) -> (status, json)`` decides each reply."""

    def __init__(self, answer: Callable[[Recorded], tuple[int, dict]]):
        self.answer = answer
        self.requests: list[Recorded] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Recorded(
                    self.command,
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                provider.requests.append(request)
                status, payload = provider.answer(request)
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def template(db):
    return MessageTemplateFactory()


def message(template, outbox_id: int = 41, recipient: str = "+8613812345678", **extra) -> Message:
    return Message(
        outbox_id=outbox_id,
        channel=template.channel,
        recipient=recipient,
        language="zh-hans",
        subject="",
        body="…",
        params=REMINDER_PARAMS,
        template=template,
        extra=extra,
    )


# --- Aliyun -------------------------------------------------------------------------------

ALIYUN_OK = {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "F655A8D5-B967"}


def aliyun_checks(request: Recorded, action: str) -> None:
    assert request.method == "POST" and request.path == "/"
    assert request.headers["x-acs-action"] == action
    assert request.headers["x-acs-version"] == "2017-05-25"
    auth = request.headers["authorization"]
    assert auth.startswith("ACS3-HMAC-SHA256 Credential=test-ak,")
    assert "SignedHeaders=" in auth and "Signature=" in auth
    assert request.headers["x-acs-signature-nonce"] and request.headers["x-acs-date"]


def aliyun(provider: FakeProvider) -> AliyunSmsBackend:
    return AliyunSmsBackend(
        {
            "ACCESS_KEY_ID": "test-ak",
            "ACCESS_KEY_SECRET": "test-secret",
            "ENDPOINT": provider.host,
            "PROTOCOL": "http",
        }
    )


def test_aliyun_send_sms(template):
    def answer(request):
        aliyun_checks(request, "SendSms")
        return 200, ALIYUN_OK

    with FakeProvider(answer) as provider:
        biz_id = aliyun(provider).send(message(template))
    assert biz_id == "900619746936498440^0"
    query = provider.requests[0].query
    assert query["PhoneNumbers"] == "13812345678"
    assert query["SignName"] == "微笑口腔" and query["TemplateCode"] == "SMS_100001"
    assert json.loads(query["TemplateParam"]) == REMINDER_PARAMS
    assert query["OutId"] == "41"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", PermanentSendError),
        ("isv.SMS_TEMPLATE_ILLEGAL", PermanentSendError),
        ("isv.BUSINESS_LIMIT_CONTROL", TransientSendError),
        ("isp.SYSTEM_ERROR", TransientSendError),
    ],
)
def test_aliyun_business_errors(template, code, error):
    answer = {"Code": code, "Message": "触发错误", "RequestId": "A1"}
    with FakeProvider(lambda r: (200, answer)) as provider, pytest.raises(error) as info:
        aliyun(provider).send(message(template))
    assert info.value.code == code


def test_aliyun_signature_rejected_is_permanent(template):
    answer = {
        "RequestId": "B2",
        "Message": "Specified signature is not matched with our calculation.",
        "Recommend": "https://api.aliyun.com/troubleshoot?q=SignatureDoesNotMatch",
        "HostId": "dysmsapi.aliyuncs.com",
        "Code": "SignatureDoesNotMatch",
    }
    with FakeProvider(lambda r: (400, answer)) as provider, pytest.raises(PermanentSendError) as info:
        aliyun(provider).send(message(template))
    assert info.value.code == "SignatureDoesNotMatch"


def test_aliyun_server_error_is_transient(template):
    answer = {"RequestId": "C3", "Code": "ServiceUnavailable", "Message": "The request has failed."}
    with FakeProvider(lambda r: (503, answer)) as provider, pytest.raises(TransientSendError):
        aliyun(provider).send(message(template))


def test_aliyun_lookup_finds_our_out_id(template):
    claimed = dt.datetime(2030, 3, 1, 23, 30, tzinfo=dt.UTC)  # 07:30 on 2 March in Shanghai

    def answer(request):
        aliyun_checks(request, "QuerySendDetails")
        assert request.query["PhoneNumber"] == "13812345678"
        assert request.query["SendDate"] == "20300302"
        details = [
            {"OutId": "40", "PhoneNum": "13812345678", "SendStatus": 3, "TemplateCode": "SMS_100001"},
            {"OutId": "41", "PhoneNum": "13812345678", "SendStatus": 1, "TemplateCode": "SMS_100001"},
        ]
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "RequestId": "D4",
            "TotalCount": 2,
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": details},
        }

    with FakeProvider(answer) as provider:
        backend = aliyun(provider)
        assert backend.lookup(message(template, 41, claimed_at=claimed)).delivery is Delivery.SENT
        assert backend.lookup(message(template, 42, claimed_at=claimed)).delivery is Delivery.NOT_SENT


def test_aliyun_crash_recovery_end_to_end(template, settings):
    """A row stuck in sending whose OutId Aliyun already has is marked sent, not resent."""
    settings.NOTIFICATIONS_BACKENDS = {**settings.NOTIFICATIONS_BACKENDS, "sms": "aliyun"}
    row = Outbox.objects.create(
        dedupe_key="stuck",
        channel=Channel.SMS,
        recipient="+8613812345678",
        template_key=template.key,
        language="zh-hans",
        params=REMINDER_PARAMS,
        purpose=Purpose.SERVICE,
        status=Status.SENDING,
        attempts=1,
        claim_token="dead",
        claimed_at=timezone.now() - dt.timedelta(hours=1),
        next_attempt_at=timezone.now() - dt.timedelta(hours=1),
    )

    def answer(request):
        assert request.headers["x-acs-action"] == "QuerySendDetails", "must not send again"
        details = [{"OutId": str(row.pk), "PhoneNum": "13812345678", "SendStatus": 3}]
        return 200, {"Code": "OK", "Message": "OK", "SmsSendDetailDTOs": {"SmsSendDetailDTO": details}}

    with FakeProvider(answer) as provider:
        settings.NOTIFICATIONS_ALIYUN = {
            "ACCESS_KEY_ID": "test-ak",
            "ACCESS_KEY_SECRET": "s",
            "ENDPOINT": provider.host,
            "PROTOCOL": "http",
        }
        services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert row.status == Status.SENT and row.attempts == 1


# --- Tencent ------------------------------------------------------------------------------


def tencent(provider: FakeProvider) -> TencentSmsBackend:
    return TencentSmsBackend(
        {
            "SECRET_ID": "AKIDtest",
            "SECRET_KEY": "test-key",
            "SDK_APP_ID": "1400000001",
            "REGION": "ap-guangzhou",
            "ENDPOINT": provider.host,
            "SCHEME": "http",
        }
    )


def tencent_checks(request: Recorded, action: str) -> dict:
    assert request.method == "POST" and request.path == "/"
    assert request.headers["x-tc-action"] == action
    assert request.headers["x-tc-version"] == "2021-01-11"
    assert request.headers["x-tc-region"] == "ap-guangzhou" and request.headers["x-tc-timestamp"]
    auth = request.headers["authorization"]
    assert auth.startswith("TC3-HMAC-SHA256 Credential=AKIDtest/") and "/sms/tc3_request" in auth
    assert "SignedHeaders=" in auth and "Signature=" in auth
    return request.json()


def tencent_status(code: str = "Ok", message_text: str = "send success") -> dict:
    return {
        "Response": {
            "SendStatusSet": [
                {
                    "SerialNo": "5000:1045710669157053657849499619",
                    "PhoneNumber": "+8613812345678",
                    "Fee": 1,
                    "SessionContext": "41",
                    "Code": code,
                    "Message": message_text,
                    "IsoCode": "CN",
                }
            ],
            "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
        }
    }


def test_tencent_send_sms(template):
    def answer(request):
        body = tencent_checks(request, "SendSms")
        assert body["PhoneNumberSet"] == ["+8613812345678"]
        assert body["SmsSdkAppId"] == "1400000001" and body["SignName"] == "微笑口腔"
        assert body["TemplateId"] == "1100001"
        assert body["TemplateParamSet"] == ["张三", "5月6日 10:00", "超声洁牙"]
        assert body["SessionContext"] == "41"
        return 200, tencent_status()

    with FakeProvider(answer) as provider:
        serial = tencent(provider).send(message(template))
    assert serial == "5000:1045710669157053657849499619" and len(provider.requests) == 1


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("InvalidParameterValue.IncorrectPhoneNumber", PermanentSendError),
        ("FailedOperation.PhoneNumberInBlacklist", PermanentSendError),
        ("LimitExceeded.PhoneNumberThirtySecondLimit", TransientSendError),
    ],
)
def test_tencent_per_number_errors(template, code, error):
    with (
        FakeProvider(lambda r: (200, tencent_status(code, "failed"))) as provider,
        pytest.raises(error) as info,
    ):
        tencent(provider).send(message(template))
    assert info.value.code == code


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("AuthFailure.SignatureFailure", PermanentSendError),
        ("InternalError.Timeout", TransientSendError),
        ("RequestLimitExceeded", TransientSendError),
    ],
)
def test_tencent_request_errors(template, code, error):
    answer = {"Response": {"Error": {"Code": code, "Message": "错误"}, "RequestId": "e1"}}
    with FakeProvider(lambda r: (200, answer)) as provider, pytest.raises(error) as info:
        tencent(provider).send(message(template))
    assert info.value.code == code


def test_tencent_lookup_by_session_context(template):
    def answer(request):
        body = tencent_checks(request, "PullSmsSendStatusByPhoneNumber")
        assert body["PhoneNumber"] == "+8613812345678" and body["SmsSdkAppId"] == "1400000001"
        statuses = [
            {
                "UserReceiveTime": 1900000000,
                "CountryCode": "86",
                "SubscriberNumber": "13812345678",
                "PhoneNumber": "+8613812345678",
                "SerialNo": "5000:77",
                "ReportStatus": "SUCCESS",
                "Description": "DELIVRD",
                "SessionContext": "41",
            }
        ]
        return 200, {"Response": {"PullSmsSendStatusSet": statuses, "RequestId": "r"}}

    with FakeProvider(answer) as provider:
        backend = tencent(provider)
        found = backend.lookup(message(template, 41, claimed_at=timezone.now()))
        # No report for 42 does not prove it was not sent: unknown, never a blind resend.
        other = backend.lookup(message(template, 42, claimed_at=timezone.now()))
    assert found.delivery is Delivery.SENT and found.provider_message_id == "5000:77"
    assert other.delivery is Delivery.UNKNOWN


# --- WeChat -------------------------------------------------------------------------------


class WeChatServer:
    """Issues tokens; a new token invalidates the previous one, like WeChat does."""

    def __init__(self, send_answer: dict | None = None):
        self.current = ""
        self.issued = 0
        self.send_answer = send_answer or {"errcode": 0, "errmsg": "ok", "msgid": 2043561234567}

    def __call__(self, request: Recorded) -> tuple[int, dict]:
        if request.path == "/cgi-bin/token":
            assert request.method == "GET"
            assert request.query == {
                "grant_type": "client_credential",
                "appid": "wx-app",
                "secret": "wx-secret",
            }
            self.issued += 1
            self.current = f"TOKEN-{self.issued}"
            return 200, {"access_token": self.current, "expires_in": 7200}
        assert request.method == "POST"
        if request.query.get("access_token") != self.current:
            return 200, {
                "errcode": 40001,
                "errmsg": "invalid credential, access_token is invalid or not latest",
            }
        body = request.json()
        assert body["touser"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
        assert body["template_id"] == "tpl-reminder"
        assert body["data"] == {"thing1": {"value": "超声洁牙"}, "time2": {"value": "5月6日 10:00"}}
        return 200, self.send_answer


def wechat(provider: FakeProvider, kind: str = "subscribe") -> WeChatBackend:
    return WeChatBackend(
        {"APP_ID": "wx-app", "APP_SECRET": "wx-secret", "API_BASE": f"http://{provider.host}", "KIND": kind}
    )


@pytest.fixture
def wx_template(db):
    return MessageTemplateFactory(channel=Channel.WECHAT, wechat_page="pages/booking/detail")


OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def test_wechat_subscribe_message_with_one_shared_token(wx_template):
    fake = WeChatServer()
    with FakeProvider(fake) as provider:
        first, second = wechat(provider), wechat(provider)  # two workers
        assert first.send(message(wx_template, recipient=OPENID)) == "2043561234567"
        assert second.send(message(wx_template, recipient=OPENID)) == "2043561234567"
    paths = [r.path for r in provider.requests]
    assert paths == [
        "/cgi-bin/token",
        "/cgi-bin/message/subscribe/bizsend",
        "/cgi-bin/message/subscribe/bizsend",
    ]
    assert provider.requests[1].json()["page"] == "pages/booking/detail"
    token = WeChatAccessToken.objects.get(app_id="wx-app")
    assert token.token == "TOKEN-1"
    assert dt.timedelta(seconds=7190) < token.expires_at - timezone.now() <= dt.timedelta(seconds=7200)


def test_wechat_template_message_endpoint(wx_template):
    with FakeProvider(WeChatServer()) as provider:
        wechat(provider, kind="template").send(message(wx_template, recipient=OPENID))
    send = provider.requests[-1]
    assert send.path == "/cgi-bin/message/template/send" and send.json()["url"] == "pages/booking/detail"


def test_wechat_refused_token_is_refreshed_once(wx_template):
    """Someone else refreshed the token (the stored one is now invalid): refresh and retry."""
    WeChatAccessToken.objects.create(
        app_id="wx-app", token="OLD", expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    fake = WeChatServer()
    fake.current = "SOMETHING-ELSE"
    with FakeProvider(fake) as provider:
        wechat(provider).send(message(wx_template, recipient=OPENID))
    assert [r.path for r in provider.requests] == [
        "/cgi-bin/message/subscribe/bizsend",
        "/cgi-bin/token",
        "/cgi-bin/message/subscribe/bizsend",
    ]
    assert WeChatAccessToken.objects.get(app_id="wx-app").token == "TOKEN-1"


def test_wechat_expired_token_is_refreshed_before_sending(wx_template):
    WeChatAccessToken.objects.create(app_id="wx-app", token="OLD", expires_at=timezone.now())
    with FakeProvider(WeChatServer()) as provider:
        wechat(provider).send(message(wx_template, recipient=OPENID))
    assert provider.requests[0].path == "/cgi-bin/token"


@pytest.mark.parametrize(
    ("errcode", "error"),
    [
        (43101, PermanentSendError),
        (40003, PermanentSendError),
        (-1, TransientSendError),
        (45009, TransientSendError),
    ],
)
def test_wechat_errors(wx_template, errcode, error):
    fake = WeChatServer(send_answer={"errcode": errcode, "errmsg": "refused"})
    with FakeProvider(fake) as provider, pytest.raises(error) as info:
        wechat(provider).send(message(wx_template, recipient=OPENID))
    assert info.value.code == str(errcode)


def test_wechat_token_error_shape(wx_template):
    answer = {"errcode": 40013, "errmsg": "invalid appid"}
    with FakeProvider(lambda r: (200, answer)) as provider, pytest.raises(PermanentSendError) as info:
        wechat(provider).send(message(wx_template, recipient=OPENID))
    assert info.value.code == "40013"


def test_wechat_through_the_outbox(wx_template, settings):
    settings.NOTIFICATIONS_BACKENDS = {**settings.NOTIFICATIONS_BACKENDS, "wechat": "wechat"}
    fake = WeChatServer()
    with FakeProvider(fake) as provider:
        settings.NOTIFICATIONS_WECHAT = {
            "APP_ID": "wx-app",
            "APP_SECRET": "wx-secret",
            "API_BASE": f"http://{provider.host}",
        }
        row = services.notification_enqueue(
            channel=Channel.WECHAT,
            recipient=OPENID,
            template_key=wx_template.key,
            params=REMINDER_PARAMS,
            purpose=Purpose.SERVICE,
            dedupe_key="wx:1",
        )
        services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert row.status == Status.SENT and row.provider_message_id == "2043561234567"


# --- development backends and e-mail ------------------------------------------------------


def test_file_backend_writes_one_file_per_message_and_answers_lookup(template, tmp_path):
    backend = FileBackend(tmp_path)
    assert backend.lookup(message(template)).delivery is Delivery.NOT_SENT
    backend.send(message(template))
    written = json.loads((tmp_path / "41.json").read_text(encoding="utf-8"))
    assert written["recipient"] == "+8613812345678" and written["params"] == REMINDER_PARAMS
    assert backend.lookup(message(template)).delivery is Delivery.SENT


def test_console_backend_prints(template):
    import io

    stream = io.StringIO()
    ConsoleBackend(stream).send(message(template))
    assert "+8613812345678" in stream.getvalue()


def test_email_backend_uses_djangos_mail(db, settings, mailoutbox=None):
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NOTIFICATIONS_BACKENDS = {**settings.NOTIFICATIONS_BACKENDS, "email": "email"}
    MessageTemplateFactory(channel=Channel.EMAIL, subject="预约提醒：{start}")
    row = services.notification_enqueue(
        channel=Channel.EMAIL,
        recipient="Zhang.San@Example.COM",
        template_key="appointment.reminder",
        params=REMINDER_PARAMS,
        purpose=Purpose.SERVICE,
        dedupe_key="mail:1",
    )
    services.outbox_send_due(budget_seconds=5)
    row.refresh_from_db()
    assert row.status == Status.SENT
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["Zhang.San@example.com"] and sent.subject == "预约提醒：5月6日 10:00"
    assert sent.extra_headers["Message-ID"] == row.provider_message_id
