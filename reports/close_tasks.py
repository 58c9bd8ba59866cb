"""The month-close job on the beat schedule (settings ``CELERY_BEAT_SCHEDULE``): on the 1st it
closes last month for every branch; idempotent (a closed month is never closed again)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from clinic.services import heartbeat_record

from . import month_close


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def month_close_due(self) -> int:
    closed = month_close.close_due_months()
    heartbeat_record(name="reports.month_close_due")
    return closed
