"""The campaigns part's beat job (imported by ``campaign_apps.ready`` so the worker knows it)."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record


@clinic_task(name="marketing.campaign_tasks.reminders_send", time_limit=600, soft_time_limit=540)
def reminders_send(self) -> int:
    """Every 5 minutes: the campaign reminders now due (a day and 2 hours before)."""
    from .campaigns import campaign_reminders_send

    queued = campaign_reminders_send()
    heartbeat_record(name="marketing.campaign_reminders")
    return queued
