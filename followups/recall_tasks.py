"""The recall, dormancy, care and survey (visit and event) jobs on the beat schedule (``followups-*`` in
``CELERY_BEAT_SCHEDULE``; this module is in ``CELERY_IMPORTS``). Each calls an idempotent service, so a
retry or a second beat applies nothing twice; only transient errors are retried,
with backoff (clinic.jobs)."""

from __future__ import annotations

from clinic.jobs import clinic_task
from clinic.services import heartbeat_record


@clinic_task(time_limit=1800, soft_time_limit=1700)
def recall_nightly(self) -> dict:
    """Nightly: recalls of new trigger visits, recall phone tasks, dormancy and spend drops."""
    from .dormancy import reactivations_run
    from .recall import recall_calls_make, recalls_sync, sync_since

    out = {
        "sync": recalls_sync(since=sync_since()),
        "calls": recall_calls_make(),
        "reactivation": reactivations_run(),
    }
    heartbeat_record(name="followups.recall_nightly")
    return out


@clinic_task(time_limit=1800, soft_time_limit=1700)
def recall_reminders(self) -> dict:
    """Daily in the morning: recall reminders (due −14 days and on the due day)."""
    from .recall import recall_reminders_send

    out = recall_reminders_send()
    heartbeat_record(name="followups.recall_reminders")
    return out


@clinic_task(time_limit=1800, soft_time_limit=1700)
def care_daily(self) -> dict:
    """Daily: birthday, holiday and anniversary greetings."""
    from .care import care_run

    out = care_run()
    heartbeat_record(name="followups.care_daily")
    return out


@clinic_task(time_limit=600, soft_time_limit=540)
def surveys_send(self) -> dict:
    """Every 10 minutes: survey invitations due now (and any a lost signal missed)."""
    from .surveys import surveys_invite_missing, surveys_send_due

    out = {"invited": surveys_invite_missing(), **surveys_send_due()}
    heartbeat_record(name="followups.surveys_send")
    return out


@clinic_task(time_limit=600, soft_time_limit=540)
def event_surveys_send(self) -> dict:
    """Every 10 minutes: event survey invitations for the attended of campaigns that ended,
    and those due now."""
    from .event_surveys import event_surveys_invite, event_surveys_send_due

    out = {"invited": event_surveys_invite(), **event_surveys_send_due()}
    heartbeat_record(name="followups.event_surveys_send")
    return out
