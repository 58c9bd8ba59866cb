"""The recall, dormancy, care and survey jobs on the beat schedule (``followups-*`` in
``CELERY_BEAT_SCHEDULE``; this module is in ``CELERY_IMPORTS``). Each calls an idempotent service, so a
retry or a second beat applies nothing twice; only transient database errors are retried,
with backoff."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from clinic.services import heartbeat_record

TRANSIENT = (OperationalError, InterfaceError)
_RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 60, "retry_backoff_max": 900, "max_retries": 3}


@shared_task(bind=True, acks_late=True, time_limit=1800, soft_time_limit=1700, **_RETRY)
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


@shared_task(bind=True, acks_late=True, time_limit=1800, soft_time_limit=1700, **_RETRY)
def recall_reminders(self) -> dict:
    """Daily in the morning: recall reminders (due −14 days and on the due day)."""
    from .recall import recall_reminders_send

    out = recall_reminders_send()
    heartbeat_record(name="followups.recall_reminders")
    return out


@shared_task(bind=True, acks_late=True, time_limit=1800, soft_time_limit=1700, **_RETRY)
def care_daily(self) -> dict:
    """Daily: birthday, holiday and anniversary greetings."""
    from .care import care_run

    out = care_run()
    heartbeat_record(name="followups.care_daily")
    return out


@shared_task(bind=True, acks_late=True, time_limit=600, soft_time_limit=540, **_RETRY)
def surveys_send(self) -> dict:
    """Every 10 minutes: survey invitations due now (and any a lost signal missed)."""
    from .surveys import surveys_invite_missing, surveys_send_due

    out = {"invited": surveys_invite_missing(), **surveys_send_due()}
    heartbeat_record(name="followups.surveys_send")
    return out
