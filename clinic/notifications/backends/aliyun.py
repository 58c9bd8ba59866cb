"""Aliyun SMS (阿里云短信, Dysmsapi 2017-05-25) through the official SDK.

Our outbox id goes out as ``OutId``: after a crash, ``QuerySendDetails`` for the number and
day lists each message with its ``OutId``, so we can tell whether Aliyun already has it.
"""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from clinic.phones import national_digits

from .. import conf
from ..errors import PermanentSendError, TransientSendError
from . import BaseBackend, Delivery, LookupResult, Message

# Codes worth another try later; every other error code is permanent (bad number, template
# or sign not approved, content blocked, the number's daily quota…).
TRANSIENT_CODES = {
    "isp.SYSTEM_ERROR",
    "isp.RAM_PERMISSION_DENY",
    "isv.BUSINESS_LIMIT_CONTROL",
    "isv.OUT_OF_SERVICE",
    "isv.AMOUNT_NOT_ENOUGH",
    "Throttling",
    "Throttling.User",
    "ServiceUnavailable",
    "InternalError",
}


def aliyun_phone(e164: str) -> str:
    """Mainland numbers without a prefix; others as country code + number."""
    if e164.startswith("+86"):
        return national_digits(e164)
    return e164.lstrip("+")


class AliyunSmsBackend(BaseBackend):
    name = "aliyun"

    def __init__(self, options: dict | None = None):
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        self.options = {**conf.get("NOTIFICATIONS_ALIYUN"), **(options or {})}
        timeout_ms = int(conf.get("NOTIFICATIONS_HTTP_TIMEOUT_SECONDS") * 1000)
        self.client = Client(
            Config(
                access_key_id=self.options.get("ACCESS_KEY_ID"),
                access_key_secret=self.options.get("ACCESS_KEY_SECRET"),
                endpoint=self.options.get("ENDPOINT") or "dysmsapi.aliyuncs.com",
                protocol=self.options.get("PROTOCOL") or "https",
                region_id=self.options.get("REGION") or "cn-hangzhou",
                read_timeout=timeout_ms,
                connect_timeout=timeout_ms,
            )
        )

    def _runtime(self):
        from darabonba.runtime import RuntimeOptions

        # Retries are the outbox's job (with backoff, and without a double send).
        return RuntimeOptions(autoretry=False, max_attempts=0)

    def _call(self, method, request):
        try:
            return method(request, self._runtime()).body
        except Exception as exc:
            code = getattr(exc, "code", "") or type(exc).__name__
            message = getattr(exc, "message", "") or str(exc)
            status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
            # 4xx answers about our credentials or request are not fixed by waiting.
            if code in TRANSIENT_CODES or status is None or status >= 500 or status == 429:
                raise TransientSendError(message, code=code) from exc
            raise PermanentSendError(message, code=code) from exc

    def send(self, message: Message) -> str:
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest

        template = message.template
        if not template.aliyun_template_code or not template.aliyun_sign_name:
            raise PermanentSendError("template has no Aliyun template code or sign name", code="config")
        params = {key: str(message.params[key]) for key in _template_vars(template) if key in message.params}
        request = SendSmsRequest(
            phone_numbers=aliyun_phone(message.recipient),
            sign_name=template.aliyun_sign_name,
            template_code=template.aliyun_template_code,
            template_param=json.dumps(params, ensure_ascii=False),
            out_id=str(message.outbox_id),
        )
        body = self._call(self.client.send_sms_with_options, request)
        if body.code != "OK":
            error = TransientSendError if body.code in TRANSIENT_CODES else PermanentSendError
            raise error(body.message or body.code, code=body.code)
        return body.biz_id

    def lookup(self, message: Message) -> LookupResult:
        from alibabacloud_dysmsapi20170525.models import QuerySendDetailsRequest

        claimed = message.extra.get("claimed_at") or timezone.now()
        day = claimed.astimezone(ZoneInfo(settings.TIME_ZONE)).strftime("%Y%m%d")
        page = 1
        while True:
            request = QuerySendDetailsRequest(
                phone_number=aliyun_phone(message.recipient), send_date=day, page_size=50, current_page=page
            )
            body = self._call(self.client.query_send_details_with_options, request)
            if body.code != "OK":
                raise TransientSendError(body.message or body.code, code=body.code)
            details = (
                (body.sms_send_detail_dtos.sms_send_detail_dto or []) if body.sms_send_detail_dtos else []
            )
            for detail in details:
                if detail.out_id == str(message.outbox_id):
                    return LookupResult(Delivery.SENT, f"aliyun-out-{message.outbox_id}")
            if len(details) < 50:
                return LookupResult(Delivery.NOT_SENT)
            page += 1


def _template_vars(template) -> list[str]:
    from ..rendering import variables

    return variables(template.body)
