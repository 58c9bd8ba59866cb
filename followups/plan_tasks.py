"""The follow-up plan jobs on the beat schedule (settings ``CELERY_BEAT_SCHEDULE``). Each
calls an idempotent service: a retry or a second beat makes nothing twice."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record

from . import plans


@clinic_task(  # transient database trouble only
    retry_backoff=30, time_limit=1800, soft_time_limit=1700
)
def generate(self) -> int:
    """Every hour: visits of the last days that have no follow-up tasks yet get theirs."""
    made = plans.plan_tasks_sweep()
    heartbeat_record(name="followups.plans.generate")
    return made


@clinic_task(time_limit=1800, soft_time_limit=1700)
def escalate(self) -> dict:
    """Every morning: overdue tasks go up to the branch manager (once each)."""
    counts = plans.tasks_escalate_overdue()
    heartbeat_record(name="followups.plans.escalate")
    return counts
