"""For tests: messages go to ``outbox``, a list in memory, like Django's locmem e-mail.

``failures`` lets a test script the provider's answers: recipient → list of exceptions to
raise, one per attempt, before sending succeeds.
"""

from __future__ import annotations

import threading

from . import BaseBackend, Delivery, LookupResult, Message

outbox: list[Message] = []
failures: dict[str, list[Exception]] = {}
_lock = threading.Lock()


class LocmemBackend(BaseBackend):
    name = "locmem"

    def send(self, message: Message) -> str:
        with _lock:
            queued = failures.get(message.recipient)
            if queued:
                raise queued.pop(0)
            outbox.append(message)
        return f"locmem-{message.outbox_id}"

    def lookup(self, message: Message) -> LookupResult:
        with _lock:
            if any(m.outbox_id == message.outbox_id for m in outbox):
                return LookupResult(Delivery.SENT, f"locmem-{message.outbox_id}")
        return LookupResult(Delivery.NOT_SENT)
