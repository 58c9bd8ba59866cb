"""The consultations part's beat job (imported by ``consultation_apps.ready`` so the worker
knows it; M2's ``marketing/tasks.py`` holds the rebates' jobs)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record


@clinic_task(name="marketing.consultation_tasks.enrolments_sync", time_limit=600, soft_time_limit=540)
def enrolments_sync(self) -> int:
    """Hourly: enrolments (办卡) of the last two days onto the consultations they belong to
    (enrolment has no signal; the checkout listener covers the usual case at once)."""
    from .consultations import enrolments_sync as sync

    stamped = sync(since=timezone.now() - dt.timedelta(days=2))
    heartbeat_record(name="marketing.enrolments_sync")
    return stamped


@clinic_task(name="marketing.consultation_tasks.funnel_refresh", time_limit=600, soft_time_limit=540)
def funnel_refresh(self) -> int:
    """Every few minutes: rebuild the funnel rollup of the months whose consultations changed."""
    from .funnel import funnel_refresh as refresh

    rebuilt = 0
    while batch := refresh(limit=200):
        rebuilt += batch
    heartbeat_record(name="marketing.funnel_refresh")
    return rebuilt
