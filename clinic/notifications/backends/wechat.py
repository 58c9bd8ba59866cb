"""WeChat service account (微信服务号) subscribe or template messages, through a thin HTTP
client.

The access token lives 7,200 s and fetching a new one invalidates the old one, so there is
exactly one per app id, kept in the database (``WeChatAccessToken``) and refreshed under a
row lock: two workers never refresh at once and knock each other's token out.
"""

from __future__ import annotations

import datetime as dt

import httpx
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import conf
from ..errors import PermanentSendError, SendError, TransientSendError
from ..models import WeChatAccessToken
from . import BaseBackend, Message

TOKEN_ERRORS = {40001, 40014, 42001}  # invalid, malformed or expired access token
TRANSIENT_ERRORS = {-1, 45009, 45011, 45047}  # system busy, API quota, frequency limits
# Refresh a little before the token really expires.
EXPIRY_MARGIN = dt.timedelta(seconds=300)


class WeChatClient:
    def __init__(self, options: dict | None = None, http: httpx.Client | None = None):
        self.options = {**conf.get("NOTIFICATIONS_WECHAT"), **(options or {})}
        self.app_id = self.options.get("APP_ID") or ""
        self.base = (self.options.get("API_BASE") or "https://api.weixin.qq.com").rstrip("/")
        self.http = http or httpx.Client(timeout=conf.get("NOTIFICATIONS_HTTP_TIMEOUT_SECONDS"))

    def _json(self, response: httpx.Response) -> dict:
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientSendError(f"HTTP {response.status_code}", code=str(response.status_code))
        if response.status_code >= 400:
            raise PermanentSendError(f"HTTP {response.status_code}", code=str(response.status_code))
        try:
            return response.json()
        except ValueError as exc:
            raise TransientSendError("answer is not JSON", code="bad_json") from exc

    def _fetch_token(self) -> tuple[str, int]:
        try:
            response = self.http.get(
                f"{self.base}/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.app_id,
                    "secret": self.options.get("APP_SECRET") or "",
                },
            )
        except httpx.HTTPError as exc:
            raise TransientSendError(str(exc), code="network") from exc
        data = self._json(response)
        if "access_token" not in data:
            code = data.get("errcode", "")
            error = TransientSendError if code in TRANSIENT_ERRORS else PermanentSendError
            raise error(data.get("errmsg", "no access_token"), code=str(code))
        return data["access_token"], int(data.get("expires_in", 7200))

    def access_token(self, *, stale: str | None = None) -> str:
        """The current token; ``stale`` is one WeChat just refused, forcing a refresh unless
        another process has refreshed it meanwhile."""
        now = timezone.now()
        row = WeChatAccessToken.objects.filter(app_id=self.app_id).first()
        if row and row.token and row.token != stale and row.expires_at - EXPIRY_MARGIN > now:
            return row.token
        if row is None:
            try:
                with transaction.atomic():
                    WeChatAccessToken.objects.create(app_id=self.app_id, token="", expires_at=now)
            except IntegrityError:
                pass  # another process created it: we lock the same row below
        with transaction.atomic():
            # The lock stops a second refresh: a new token would invalidate this one.
            row = WeChatAccessToken.objects.select_for_update().get(app_id=self.app_id)
            if row.token and row.token != stale and row.expires_at - EXPIRY_MARGIN > timezone.now():
                return row.token
            token, expires_in = self._fetch_token()
            row.token = token
            row.expires_at = timezone.now() + dt.timedelta(seconds=expires_in)
            row.save(update_fields=["token", "expires_at", "refreshed_at"])
            return token

    def post(self, path: str, payload: dict) -> dict:
        """POST with the access token; a refused token is refreshed once and retried."""
        token = self.access_token()
        for attempt in (1, 2):
            try:
                response = self.http.post(f"{self.base}{path}", params={"access_token": token}, json=payload)
            except httpx.HTTPError as exc:
                raise TransientSendError(str(exc), code="network") from exc
            data = self._json(response)
            code = data.get("errcode", 0)
            if code in TOKEN_ERRORS and attempt == 1:
                token = self.access_token(stale=token)
                continue
            if code == 0:
                return data
            error = TransientSendError if code in TRANSIENT_ERRORS else PermanentSendError
            raise error(data.get("errmsg", ""), code=str(code))
        raise TransientSendError("access token refused twice", code="token")

    def close(self) -> None:
        self.http.close()


class WeChatBackend(BaseBackend):
    """``KIND`` "subscribe" sends 订阅通知 (``message/subscribe/bizsend``), "template" the
    older 模板消息 (``message/template/send``). The recipient is the person's openid."""

    name = "wechat"

    def __init__(self, options: dict | None = None, http: httpx.Client | None = None):
        self.client = WeChatClient(options, http)
        self.kind = self.client.options.get("KIND") or "subscribe"

    def send(self, message: Message) -> str:
        template = message.template
        if not template.wechat_template_id:
            raise PermanentSendError("template has no WeChat template id", code="config")
        fields = template.wechat_fields or {}
        missing = [var for var in fields.values() if message.params.get(var) in (None, "")]
        if missing:
            raise PermanentSendError(f"missing variables: {', '.join(missing)}", code="missing")
        data = {key: {"value": str(message.params[var])} for key, var in fields.items()}
        payload = {"touser": message.recipient, "template_id": template.wechat_template_id, "data": data}
        if self.kind == "template":
            path = "/cgi-bin/message/template/send"
            if template.wechat_page:
                payload["url"] = template.wechat_page
        else:
            path = "/cgi-bin/message/subscribe/bizsend"
            if template.wechat_page:
                payload["page"] = template.wechat_page
        answer = self.client.post(path, payload)
        return str(answer.get("msgid") or message.reference)

    def close(self) -> None:
        self.client.close()


__all__ = ["SendError", "WeChatBackend", "WeChatClient"]
