"""The rollup job on the beat schedule (settings ``CELERY_BEAT_SCHEDULE``): idempotent, a
second run rebuilds the same days to the same figures."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record

from . import dashboard, rollups


@clinic_task(time_limit=1800, soft_time_limit=1700)
def rollup_refresh(self) -> int:
    """Every ten minutes: rebuild the days changed since the last run, then recompute the
    dashboards' shared live figures (复诊率, points liability) ahead of their viewers."""
    written = rollups.rollup_refresh()
    dashboard.warm_shared()
    rollups.shared_purge()
    heartbeat_record(name="reports.rollup_refresh")
    return written
