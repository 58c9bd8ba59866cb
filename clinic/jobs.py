"""The house policy for Celery tasks: bounded retries with backoff, for transient errors only.

Every task of every app is declared with :func:`clinic_task` instead of ``shared_task``. A
task that fails on a *transient* error — the database or Redis briefly unreachable, a network
hiccup talking to the SMS or WeChat API — is retried with exponential backoff and jitter, at
most ``max_retries`` times. Anything else (a ``DomainError``, a bug, an ``IntegrityError``) is
not retried: running the same code on the same data again would fail the same way, and the
beat runs the job again anyway at its next slot.

Retrying is safe because every task calls an idempotent service (rows are claimed, ledger
entries carry idempotency keys, outbox messages move pending → sending once), see
docs/operations.md "Jobs".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import kombu.exceptions
import redis.exceptions
from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction

log = logging.getLogger(__name__)

# The one list of errors that may go away by themselves. Django's OperationalError covers a
# lost connection, a server restart and a statement cancelled by a failover; InterfaceError
# a connection already closed. httpx.TransportError is a connect/read timeout or a refused
# connection to the messaging APIs (an HTTP error *status* is an answer, not transient).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    httpx.TransportError,
)

RETRY_POLICY: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 30,  # 30 s, 60 s, 120 s … (seconds, doubled each time)
    "retry_backoff_max": 600,
    "retry_jitter": True,  # spread retries of many workers after a shared outage
    "max_retries": 3,
}


def clinic_task(*args, **options):
    """``shared_task`` with the house defaults: ``bind=True``, ``acks_late=True`` and
    :data:`RETRY_POLICY`. Each task still names its own time limits; a task may override any
    option (e.g. ``max_retries``)."""
    params = {"bind": True, "acks_late": True, **RETRY_POLICY, **options}
    if args and callable(args[0]) and len(args) == 1 and not options:
        return shared_task(**params)(args[0])
    return shared_task(*args, **params)


# What publishing a task raises when the broker (Redis) cannot be reached: kombu's wrapper
# after its publish retries, or the connection errors underneath it.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
)


def enqueue_on_commit(
    task, *args: Any, on_unavailable: Callable[[], None] | None = None, **kwargs: Any
) -> None:
    """Send ``task`` once the current transaction has committed (at once outside one).

    The broker being down must not turn a page into an error after its work was saved: the
    failure is logged and ``on_unavailable`` decides what becomes of the work — nothing, where
    a beat sweep sends what is still queued (the outbox, export jobs), or marking the job so
    the person sees it did not start. Every task sent this way must have one or the other.
    """

    def send() -> None:
        try:
            task.delay(*args, **kwargs)
        except BROKER_ERRORS as exc:
            log.warning("could not queue %s%r: broker unavailable (%s)", task.name, args, exc)
            if on_unavailable is not None:
                on_unavailable()

    transaction.on_commit(send)
