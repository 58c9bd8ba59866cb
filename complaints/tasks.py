"""The complaint jobs on the beat schedule (settings ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record

from . import services


@clinic_task(retry_backoff=30, time_limit=600, soft_time_limit=540)
def escalate(self) -> dict:
    """Every 15 minutes: overdue acknowledgements and proposals, and medical disputes, go up
    (each level once per complaint)."""
    counts = services.complaints_escalate_overdue()
    heartbeat_record(name="complaints.escalate")
    return counts
