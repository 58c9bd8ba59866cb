"""Channel backends, chosen per channel by ``NOTIFICATIONS_BACKENDS`` (like EMAIL_BACKEND).

A backend sends one rendered message and returns the provider's message id, or raises
``TransientSendError`` (retried with backoff) or ``PermanentSendError`` (failed at once).
``lookup`` answers, after a crash, whether a message was already accepted: it is how a row
left in ``sending`` is recovered without a second send.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string

from .. import conf

ALIASES = {
    "console": "clinic.notifications.backends.simple.ConsoleBackend",
    "file": "clinic.notifications.backends.simple.FileBackend",
    "locmem": "clinic.notifications.backends.locmem.LocmemBackend",
    "aliyun": "clinic.notifications.backends.aliyun.AliyunSmsBackend",
    "tencent": "clinic.notifications.backends.tencent.TencentSmsBackend",
    "wechat": "clinic.notifications.backends.wechat.WeChatBackend",
    "email": "clinic.notifications.backends.email.EmailBackend",
}


@dataclass(frozen=True)
class Message:
    """What a backend needs: our id (the idempotency reference), where, and what."""

    outbox_id: int
    channel: str
    recipient: str
    language: str
    subject: str
    body: str
    params: dict[str, Any]
    template: Any  # MessageTemplate: provider template ids, sign names, field maps
    purpose: str = "service"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return f"outbox-{self.outbox_id}"


class Delivery(enum.Enum):
    SENT = "sent"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LookupResult:
    delivery: Delivery
    provider_message_id: str = ""


class BaseBackend:
    """Override ``send``; override ``lookup`` where the provider can be asked by our id."""

    name = "base"

    def send(self, message: Message) -> str:
        raise NotImplementedError

    def lookup(self, message: Message) -> LookupResult:
        return LookupResult(Delivery.UNKNOWN)

    def close(self) -> None:
        """Release connections at the end of a sender run."""


def backend_path(channel: str) -> str:
    configured = conf.get("NOTIFICATIONS_BACKENDS").get(channel) or "file"
    return ALIASES.get(configured, configured)


def get_backend(channel: str) -> BaseBackend:
    return import_string(backend_path(channel))()
