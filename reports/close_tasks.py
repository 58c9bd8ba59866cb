"""The month-close job on the beat schedule (settings ``CELERY_BEAT_SCHEDULE``): on the 1st it
closes last month for every branch; idempotent (a closed month is never closed again)."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record

from . import month_close


@clinic_task(time_limit=1800, soft_time_limit=1700)
def month_close_due(self) -> int:
    closed = month_close.close_due_months()
    heartbeat_record(name="reports.month_close_due")
    return closed
