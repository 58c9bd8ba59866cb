"""The notification settings and their defaults. Each can be set in Django settings; the
environment-driven ones are read in ``clinic/settings/base.py``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # channel → backend alias (console, file, locmem, aliyun, tencent, wechat, email) or a
    # dotted path to a backend class.
    "NOTIFICATIONS_BACKENDS": {"sms": "file", "wechat": "file", "email": "file"},
    "NOTIFICATIONS_FILE_DIR": None,  # default: VAR_DIR / "outbox"
    # Marketing messages wait out the night, in the clinic's time zone. None: no quiet hours.
    "NOTIFICATIONS_QUIET_HOURS": ("21:00", "08:00"),
    # channel → messages per minute (0 or missing: unlimited).
    "NOTIFICATIONS_RATE_LIMITS": {},
    "NOTIFICATIONS_MAX_ATTEMPTS": 6,
    "NOTIFICATIONS_RETRY_BASE_SECONDS": 60,
    "NOTIFICATIONS_RETRY_MAX_SECONDS": 6 * 3600,
    # A row left in ``sending`` this long belongs to a worker that died. Longer than the
    # Celery hard time limit, so a slow but living worker is never second-guessed.
    "NOTIFICATIONS_SENDING_TIMEOUT_SECONDS": 15 * 60,
    "NOTIFICATIONS_BATCH_SIZE": 100,
    # The beat task stops claiming after this long, so runs do not pile up.
    "NOTIFICATIONS_SEND_BUDGET_SECONDS": 50,
    "NOTIFICATIONS_HTTP_TIMEOUT_SECONDS": 10,
    "NOTIFICATIONS_ALIYUN": {},
    "NOTIFICATIONS_TENCENT": {},
    "NOTIFICATIONS_WECHAT": {},
    "NOTIFICATIONS_EMAIL_FROM": None,
}


def get(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def quiet_hours() -> tuple[dt.time, dt.time] | None:
    value = get("NOTIFICATIONS_QUIET_HOURS")
    if not value:
        return None
    start, end = (v if isinstance(v, dt.time) else dt.time.fromisoformat(v) for v in value)
    return start, end


def file_dir():
    from pathlib import Path

    value = get("NOTIFICATIONS_FILE_DIR")
    return Path(value) if value else Path(settings.VAR_DIR) / "outbox"
