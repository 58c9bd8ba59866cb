"""The inventory job on the beat schedule (settings ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from clinic.services import heartbeat_record

from . import services


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),  # transient database trouble only
    retry_backoff=30,
    max_retries=3,
    time_limit=600,
    soft_time_limit=540,
)
def stock_alerts(self) -> dict:
    """Every morning: near-expiry and low-stock alerts to each branch's stock keepers."""
    counts = services.stock_alerts_send()
    heartbeat_record(name="inventory.alerts")
    return counts
