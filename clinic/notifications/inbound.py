"""What the SMS providers push back to us: replies (上行短信) and delivery reports (状态报告).

Both providers call a URL we give them in their console; the URL carries a secret
(``NOTIFICATIONS_INBOUND_TOKEN``), compared in constant time. A reply that is an opt-out
keyword (T, TD, N, 退订, 取消…, the words Chinese carriers and the MIIT rules expect) records
an opt-out from marketing on SMS at once, so even messages already queued are not sent.

Payloads, as the providers document them:

* Tencent Cloud SMS, reply callback: ``{"mobile": "13800000000", "nationcode": "86",
  "text": "T", "sign": "…", "time": 1457336869, "extend": ""}`` (or a list of them);
  status callback: ``[{"mobile": …, "report_status": "SUCCESS" | "FAIL", "errmsg":
  "DELIVRD", "description": "…", "sid": "<SerialNo>", "user_receive_time": "…"}]``.
  Answer: ``{"result": 0, "errmsg": "OK"}``.
* Aliyun SMS, ``SmsUp``: ``[{"phone_number": "1380…", "content": "T", "send_time": "…",
  "sign_name": "…", "dest_code": "…", "sequence_id": 123}]``; ``SmsReport``:
  ``[{"phone_number": …, "success": true, "err_code": "DELIVERED", "err_msg": "…",
  "biz_id": "<BizId>", "out_id": "<our OutId>", "report_time": "…"}]``.
  Answer: ``{"code": 0, "msg": "成功"}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.phones import PhoneError, normalize_phone

from .models import Channel, InboundKind, InboundMessage, OptOutScope, Outbox, Status

PROVIDERS = ("aliyun", "tencent")

# A reply that is only one of these words (case, spaces and punctuation aside) is an opt-out.
OPT_OUT_WORDS = frozenset(
    {"t", "td", "n", "0000", "00000", "退订", "退定", "取消", "拒收", "退", "unsubscribe", "stop"}
)
_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)


def is_opt_out(text: str) -> bool:
    return _STRIP.sub("", text or "").lower() in OPT_OUT_WORDS


def token_ok(token: str) -> bool:
    expected = getattr(settings, "NOTIFICATIONS_INBOUND_TOKEN", "") or ""
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


class PayloadError(ValueError):
    """The provider's body is not what its documentation says."""


@dataclass(frozen=True)
class Reply:
    sender: str  # E.164
    text: str
    received_at: dt.datetime
    key: str


@dataclass(frozen=True)
class Report:
    provider_id: str
    reference: str  # our outbox reference, where the provider echoes it ("" otherwise)
    delivered: bool
    error: str
    at: dt.datetime


def _items(payload) -> list[dict]:
    items = payload if isinstance(payload, list) else [payload]
    if not items or not all(isinstance(i, dict) for i in items):
        raise PayloadError("expected an object or a list of objects")
    return items


def _phone(raw, nationcode="86") -> str:
    digits = str(raw or "").strip()
    if not digits:
        raise PayloadError("no phone number")
    try:
        return normalize_phone(
            digits if digits.startswith("+") or str(nationcode) == "86" else f"+{nationcode}{digits}"
        )
    except PhoneError as exc:
        raise PayloadError(f"bad phone number {digits!r}") from exc


def _when(value) -> dt.datetime:
    """A provider's time: epoch seconds, or ``YYYY-MM-DD HH:MM:SS`` in China time."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
    if isinstance(value, str) and value.strip():
        try:
            naive = dt.datetime.strptime(value.strip()[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError as exc:
            raise PayloadError(f"bad time {value!r}") from exc
        return timezone.make_aware(naive, timezone.get_default_timezone())
    return timezone.now()


def parse_replies(provider: str, payload) -> list[Reply]:
    replies = []
    for item in _items(payload):
        if provider == "tencent":
            sender = _phone(item.get("mobile"), item.get("nationcode") or "86")
            text, at = str(item.get("text") or ""), _when(item.get("time"))
        else:
            sender = _phone(item.get("phone_number"))
            text, at = str(item.get("content") or ""), _when(item.get("send_time"))
        ref = item.get("sequence_id") if provider == "aliyun" else None
        basis = f"{provider}:{ref}" if ref else f"{provider}:{sender}:{at.isoformat()}:{text}"
        key = basis if len(basis) <= 200 else f"{provider}:{hashlib.sha256(basis.encode()).hexdigest()}"
        replies.append(Reply(sender=sender, text=text[:500], received_at=at, key=key))
    return replies


def parse_reports(provider: str, payload) -> list[Report]:
    reports = []
    for item in _items(payload):
        if provider == "tencent":
            delivered = str(item.get("report_status", "")).upper() == "SUCCESS"
            error = "" if delivered else f"{item.get('errmsg', '')} {item.get('description', '')}".strip()
            reports.append(
                Report(
                    provider_id=str(item.get("sid") or ""),
                    reference="",
                    delivered=delivered,
                    error=error[:255],
                    at=_when(item.get("user_receive_time")),
                )
            )
        else:
            delivered = item.get("success") in (True, "true", "True", 1)
            error = "" if delivered else f"{item.get('err_code', '')} {item.get('err_msg', '')}".strip()
            reports.append(
                Report(
                    provider_id=str(item.get("biz_id") or ""),
                    reference=str(item.get("out_id") or ""),
                    delivered=delivered,
                    error=error[:255],
                    at=_when(item.get("report_time")),
                )
            )
    return reports


def reply_record(*, provider: str, reply: Reply) -> InboundMessage | None:
    """Store a reply once; an opt-out keyword opts the sender out of marketing SMS at once.
    Returns None for a reply already stored (the provider pushed it again)."""
    from .services import optout_set

    kind = InboundKind.OPT_OUT if is_opt_out(reply.text) else InboundKind.OTHER
    try:
        with transaction.atomic():
            row = InboundMessage.objects.create(
                channel=Channel.SMS,
                provider=provider,
                sender=reply.sender,
                text=reply.text,
                kind=kind,
                received_at=reply.received_at,
                provider_key=reply.key,
            )
            if kind == InboundKind.OPT_OUT:
                optout_set(
                    actor=None,
                    channel=Channel.SMS,
                    recipient=reply.sender,
                    scope=OptOutScope.MARKETING,
                    reason=f"短信回复“{reply.text[:20]}”",
                )
    except IntegrityError:
        return None
    return row


def report_record(*, report: Report) -> bool:
    """Mark the message the report is about as delivered (or note why not). Returns whether
    a message was found. Idempotent: a report pushed twice changes nothing more."""
    rows = Outbox.objects.filter(channel=Channel.SMS, status=Status.SENT)
    match = None
    if report.reference.startswith("outbox-") and report.reference[7:].isdigit():
        match = rows.filter(pk=int(report.reference[7:]))
    elif report.reference.isdigit():
        match = rows.filter(pk=int(report.reference))
    elif report.provider_id:
        match = rows.filter(provider_message_id=report.provider_id)
    if match is None:
        return False
    if report.delivered:
        return bool(match.filter(delivered_at__isnull=True).update(delivered_at=report.at, delivery_error=""))
    return bool(match.filter(delivered_at__isnull=True).update(delivery_error=report.error or "undelivered"))
