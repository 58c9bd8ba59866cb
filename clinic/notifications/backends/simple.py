"""Development backends: print each message, or write it to ``var/outbox/`` so the demo
shows every message it would have sent."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from django.utils import timezone

from .. import conf
from . import BaseBackend, Delivery, LookupResult, Message


def _as_dict(message: Message) -> dict:
    return {
        "id": message.outbox_id,
        "reference": message.reference,
        "channel": message.channel,
        "recipient": message.recipient,
        "language": message.language,
        "purpose": message.purpose,
        "template": getattr(message.template, "key", ""),
        "subject": message.subject,
        "body": message.body,
        "params": message.params,
        "at": timezone.now().isoformat(),
    }


class ConsoleBackend(BaseBackend):
    name = "console"

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, message: Message) -> str:
        self.stream.write(
            f"[{message.channel} → {message.recipient}] {message.subject + ' · ' if message.subject else ''}"
            f"{message.body}\n"
        )
        self.stream.flush()
        return message.reference


class FileBackend(BaseBackend):
    """One JSON file per message, named by our id: ``<dir>/<yyyy-mm-dd>/<id>.json``.

    The file is written to a temporary name and renamed, so it exists whole or not at all:
    its existence is the answer to ``lookup`` after a crash.
    """

    name = "file"

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory or conf.file_dir())

    def _path(self, message: Message) -> Path:
        return self.directory / f"{message.outbox_id}.json"

    def send(self, message: Message) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self._path(message)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(_as_dict(message), handle, ensure_ascii=False, indent=1)
        os.replace(tmp, target)
        return f"file:{target.name}"

    def lookup(self, message: Message) -> LookupResult:
        target = self._path(message)
        if target.exists():
            return LookupResult(Delivery.SENT, f"file:{target.name}")
        return LookupResult(Delivery.NOT_SENT)
