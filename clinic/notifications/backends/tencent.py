"""Tencent Cloud SMS (腾讯云短信, API 2021-01-11) through the official SDK.

Tencent numbers template parameters ({1}, {2}…); the template's ``tencent_param_order``
lists our variables in that order. Our outbox id goes out as ``SessionContext``, which the
delivery reports echo back.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from .. import conf
from ..errors import PermanentSendError, TransientSendError
from . import BaseBackend, Delivery, LookupResult, Message

TRANSIENT_PREFIXES = (
    "InternalError",
    "RequestLimitExceeded",
    "LimitExceeded.PhoneNumberThirtySecondLimit",
    "LimitExceeded.PhoneNumberOneHourLimit",
    "LimitExceeded.DeliveryFrequencyLimit",
    "FailedOperation.InsufficientBalanceInSmsPackage",
    "ClientNetworkError",
    "ServerNetworkError",
)


def _error(code: str, message: str):
    transient = any(code.startswith(prefix) for prefix in TRANSIENT_PREFIXES)
    return (TransientSendError if transient else PermanentSendError)(message, code=code)


class TencentSmsBackend(BaseBackend):
    name = "tencent"

    def __init__(self, options: dict | None = None):
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        self.options = {**conf.get("NOTIFICATIONS_TENCENT"), **(options or {})}
        http = HttpProfile(
            protocol=self.options.get("SCHEME") or "https",
            endpoint=self.options.get("ENDPOINT") or "sms.tencentcloudapi.com",
            reqTimeout=int(conf.get("NOTIFICATIONS_HTTP_TIMEOUT_SECONDS")),
        )
        self.client = sms_client.SmsClient(
            credential.Credential(self.options.get("SECRET_ID"), self.options.get("SECRET_KEY")),
            self.options.get("REGION") or "ap-guangzhou",
            ClientProfile(httpProfile=http),
        )

    def _call(self, method, request):
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        try:
            return method(request)
        except TencentCloudSDKException as exc:
            raise _error(exc.get_code() or "TencentCloudSDKException", exc.get_message() or str(exc)) from exc
        except OSError as exc:
            raise TransientSendError(str(exc), code="network") from exc

    def send(self, message: Message) -> str:
        from tencentcloud.sms.v20210111 import models

        template = message.template
        if not template.tencent_template_id or not template.tencent_sign_name:
            raise PermanentSendError("template has no Tencent template id or sign name", code="config")
        order = [name.strip() for name in template.tencent_param_order.split(",") if name.strip()]
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [message.recipient]
        request.SmsSdkAppId = self.options.get("SDK_APP_ID")
        request.SignName = template.tencent_sign_name
        request.TemplateId = template.tencent_template_id
        request.TemplateParamSet = [str(message.params.get(name, "")) for name in order]
        request.SessionContext = str(message.outbox_id)
        response = self._call(self.client.SendSms, request)
        statuses = response.SendStatusSet or []
        if not statuses:
            raise TransientSendError("empty SendStatusSet", code="empty")
        status = statuses[0]
        if status.Code != "Ok":
            raise _error(status.Code, status.Message or status.Code)
        return status.SerialNo

    def lookup(self, message: Message) -> LookupResult:
        """Delivery reports can lag: a report with our id proves the send, but no report
        does not prove the opposite, so the answer is then 'unknown'."""
        from tencentcloud.sms.v20210111 import models

        claimed = message.extra.get("claimed_at") or timezone.now()
        request = models.PullSmsSendStatusByPhoneNumberRequest()
        request.BeginTime = int((claimed - dt.timedelta(minutes=5)).timestamp())
        request.EndTime = int(timezone.now().timestamp())
        request.Offset = 0
        request.Limit = 100
        request.PhoneNumber = message.recipient
        request.SmsSdkAppId = self.options.get("SDK_APP_ID")
        response = self._call(self.client.PullSmsSendStatusByPhoneNumber, request)
        for status in response.PullSmsSendStatusSet or []:
            if status.SessionContext == str(message.outbox_id):
                return LookupResult(Delivery.SENT, status.SerialNo or f"tencent-{message.outbox_id}")
        return LookupResult(Delivery.UNKNOWN)
