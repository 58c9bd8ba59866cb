"""The inventory job on the beat schedule (settings ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record

from . import services


@clinic_task(time_limit=600, soft_time_limit=540)
def stock_alerts(self) -> dict:
    """Every morning: near-expiry and low-stock alerts to each branch's stock keepers (the
    outbox dedupe key per keeper, branch and day makes a retry a no-op)."""
    counts = services.stock_alerts_send()
    heartbeat_record(name="inventory.alerts")
    return counts
