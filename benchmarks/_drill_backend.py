"""The SMS/WeChat/e-mail stand-in of the fault drills (benchmarks/drills.py): a provider that
keeps a record of **every** send it accepts, so a message sent twice shows as two records.

Each accepted send is one file ``<DRILL_JOURNAL>/<outbox id>-<random>.json`` (written to a
temporary name and renamed: it exists whole or not at all, like a provider's acceptance).
``lookup`` answers from those files, as a real provider answers by our reference after a
crash. ``DRILL_SEND_DELAY`` seconds of sleep before each send make a batch slow enough to be
killed in the middle; ``DRILL_SEND_DELAY_AFTER`` seconds after the provider accepted a message
(its answer still on the way back) make a kill land, most often, when the provider has the
message and our row still says ``sending``: the case that must not become a second send.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from clinic.notifications.backends import BaseBackend, Delivery, LookupResult, Message


def journal_dir() -> Path:
    return Path(os.environ["DRILL_JOURNAL"])


def journal() -> list[dict]:
    """Every send the provider accepted, in no particular order."""
    directory = journal_dir()
    if not directory.exists():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in directory.glob("*.json")]


class JournalBackend(BaseBackend):
    name = "drill-journal"

    def send(self, message: Message) -> str:
        delay = float(os.environ.get("DRILL_SEND_DELAY", "0") or 0)
        if delay:
            time.sleep(delay)  # the provider's round trip
        directory = journal_dir()
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{message.outbox_id}-{uuid.uuid4().hex[:12]}.json"
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "outbox_id": message.outbox_id,
                    "reference": message.reference,
                    "recipient": message.recipient,
                    "pid": os.getpid(),
                    "at": time.time(),
                },
                handle,
            )
        os.replace(tmp, directory / name)
        after = float(os.environ.get("DRILL_SEND_DELAY_AFTER", "0") or 0)
        if after:
            time.sleep(after)
        return f"drill:{name}"

    def lookup(self, message: Message) -> LookupResult:
        found = sorted(journal_dir().glob(f"{message.outbox_id}-*.json"))
        if found:
            return LookupResult(Delivery.SENT, f"drill:{found[0].name}")
        return LookupResult(Delivery.NOT_SENT)
