"""Notification tests send through the in-memory backend unless a test says otherwise."""

from __future__ import annotations

import pytest

from clinic.notifications.backends import locmem


@pytest.fixture(autouse=True)
def locmem_backends(settings, tmp_path):
    settings.NOTIFICATIONS_BACKENDS = {"sms": "locmem", "wechat": "locmem", "email": "locmem"}
    settings.NOTIFICATIONS_FILE_DIR = tmp_path / "outbox"
    settings.NOTIFICATIONS_RATE_LIMITS = {}
    locmem.outbox.clear()
    locmem.failures.clear()
    yield
    locmem.outbox.clear()
    locmem.failures.clear()
