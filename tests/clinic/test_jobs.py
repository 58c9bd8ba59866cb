"""The task policy (clinic.jobs): every task of every app retries transient errors with
backoff, a bounded number of times, and never retries a domain error or a bug."""

from __future__ import annotations

import httpx
import pytest
import redis.exceptions
from django.db import OperationalError

from clinic import jobs
from clinic.celery import app
from clinic.errors import ClinicError


def our_packages() -> tuple[str, ...]:
    """Every app of the project (its code in the repository, not in site-packages), so an app
    added later is covered without editing this list."""
    from django.apps import apps
    from django.conf import settings

    base = str(settings.BASE_DIR)
    return tuple(
        config.name
        for config in apps.get_app_configs()
        if str(config.path).startswith(base) and ".venv" not in str(config.path)
    )


def our_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith(our_packages())}


def test_every_task_uses_the_retry_policy():
    tasks = our_tasks()
    assert len(tasks) >= 20, sorted(tasks)
    # Every app's tasks are covered, not only the first ones written.
    assert {"inventory.tasks.stock_alerts", "portal.tasks.purge_codes"} <= set(tasks)
    for name, task in tasks.items():
        assert tuple(task.autoretry_for) == jobs.TRANSIENT_ERRORS, name
        assert 1 <= task.max_retries <= 5, name
        assert task.retry_backoff and task.retry_jitter, name
        assert task.acks_late, name
        assert task.time_limit, f"{name} has no time limit"


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("server closed the connection unexpectedly"),
        redis.exceptions.ConnectionError("Connection refused"),
        httpx.ConnectTimeout("timed out"),
    ],
)
def test_a_transient_error_is_retried_then_succeeds(monkeypatch, error):
    from clinic import tasks

    calls = []

    def flaky(*, name):
        calls.append(name)
        if len(calls) < 3:
            raise error
        return type("Beat", (), {"last_run_at": __import__("datetime").datetime(2026, 12, 7)})()

    monkeypatch.setattr(tasks, "heartbeat_record", flaky)
    result = tasks.heartbeat.apply()
    assert result.successful(), result.traceback
    assert len(calls) == 3


def test_retries_are_bounded(monkeypatch):
    from clinic import tasks

    calls = []

    def down(*, name):
        calls.append(name)
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(tasks, "heartbeat_record", down)
    result = tasks.heartbeat.apply()
    assert result.failed()
    assert len(calls) == tasks.heartbeat.max_retries + 1


@pytest.mark.parametrize("error", [ClinicError("rule broken"), ValueError("a bug"), httpx.HTTPStatusError])
def test_a_domain_error_or_a_bug_is_not_retried(monkeypatch, error):
    from clinic import tasks

    if error is httpx.HTTPStatusError:
        request = httpx.Request("POST", "https://sms.example/")
        error = httpx.HTTPStatusError("400", request=request, response=httpx.Response(400, request=request))
    calls = []

    def broken(*, name):
        calls.append(name)
        raise error

    monkeypatch.setattr(tasks, "heartbeat_record", broken)
    result = tasks.heartbeat.apply()
    assert result.failed()
    assert len(calls) == 1


@pytest.mark.django_db
def test_enqueue_on_commit_survives_the_broker_being_down(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    """Redis down when a page sends a job after its commit: no error reaches the page, the
    failure is logged and the caller's fallback runs (a sweep, or the job marked)."""
    import kombu.exceptions

    from clinic import tasks

    def down(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.heartbeat, "delay", down)
    fallback = []
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue_on_commit(tasks.heartbeat, on_unavailable=lambda: fallback.append(1))
        assert fallback == []  # nothing is sent before the commit
    assert fallback == [1]
    assert "broker unavailable" in caplog.text

    sent = []
    monkeypatch.setattr(tasks.heartbeat, "delay", lambda *a, **k: sent.append((a, k)))
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue_on_commit(tasks.heartbeat, 7, x=1, on_unavailable=lambda: fallback.append(2))
    assert sent == [((7,), {"x": 1})] and fallback == [1]


@pytest.mark.django_db
def test_enqueue_on_commit_does_not_hide_a_bug(monkeypatch, django_capture_on_commit_callbacks):
    from clinic import tasks

    def broken(*args, **kwargs):
        raise TypeError("wrong arguments")

    monkeypatch.setattr(tasks.heartbeat, "delay", broken)
    with pytest.raises(TypeError), django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue_on_commit(tasks.heartbeat)
