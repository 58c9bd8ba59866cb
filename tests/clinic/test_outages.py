"""What a page does when something it depends on is briefly out of reach (the fault drills,
benchmarks/drills.py, find these on real servers; these tests pin each fix down)."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(front_desk):
    client = Client(raise_request_exception=False)
    client.force_login(front_desk, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_a_database_outage_is_a_503_with_retry_after_and_the_projects_page(signed_in, monkeypatch):
    """PostgreSQL restarting: the session cannot even be read. The answer is the project's
    own page, in Chinese, saying to try again, with Retry-After; never a traceback."""

    def down(self, *args, **kwargs):
        raise OperationalError("connection failed: the database system is starting up")

    monkeypatch.setattr(SessionStore, "load", down)
    response = signed_in.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body = response.content.decode()
    assert "系统暂时连不上数据库" in body
    assert "Traceback" not in body and "OperationalError" not in body


def test_any_other_error_is_still_the_500_page(signed_in, monkeypatch):
    def broken(self, *args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(SessionStore, "load", broken)
    response = signed_in.get("/")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert "系统出错了" in response.content.decode()


def test_the_database_going_away_while_the_session_is_saved_is_a_503_not_a_400(signed_in, monkeypatch):
    """PostgreSQL restarted after the view, before the session row was written: Django's
    store would call it "session deleted" (a 400 saying the request was invalid) although
    the view's work may have committed. It is the outage page (clinic/sessions.py)."""
    from django.contrib.sessions.models import Session

    def down(self, *args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Session, "save", down)
    response = signed_in.get("/")
    assert response.status_code == 503
    assert "系统暂时连不上数据库" in response.content.decode()


def test_a_session_that_really_vanished_is_still_refused(signed_in, monkeypatch):
    from django.contrib.sessions.models import Session
    from django.db import DatabaseError

    def gone(self, *args, **kwargs):
        raise DatabaseError("Forced update did not affect any rows.")

    monkeypatch.setattr(Session, "save", gone)
    assert signed_in.get("/").status_code == 400


def test_sessions_live_in_postgresql(settings):
    """Pages must serve with Redis down: no session engine that keeps them in the cache."""
    assert settings.SESSION_ENGINE == "clinic.sessions"
    from clinic.sessions import SessionStore

    store = SessionStore()
    store["x"] = 1
    store.save()
    from django.contrib.sessions.models import Session

    assert Session.objects.filter(session_key=store.session_key).exists()


def _dead_redis_url() -> str:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "clinic.cache.DegradingRedisCache",
            "LOCATION": _dead_redis_url(),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    from django.core.cache import cache

    return cache


def test_the_production_cache_degrades_to_no_cache_while_redis_is_down(cache_down, caplog):
    cache = cache_down
    assert cache.get("k") is None and cache.get("k", "fallback") == "fallback"
    assert cache.set("k", 1, 60) is None and cache.add("k", 1) is False
    assert cache.get_or_set("n", 0, 3600) == 0
    assert cache.get_many(["a", "b"]) == {} and cache.has_key("k") is False
    assert cache.delete("k") is False and cache.touch("k") is False
    with pytest.raises(ValueError):
        cache.incr("n")  # like any missing key: callers that count fall back to set()
    assert "cache unavailable" in caplog.text


def test_the_production_cache_is_a_cache_when_redis_is_up(settings):
    if not settings.REDIS_URL:
        pytest.skip("no Redis in this run")
    settings.CACHES = {
        "default": {"BACKEND": "clinic.cache.DegradingRedisCache", "LOCATION": settings.REDIS_URL}
    }
    from django.core.cache import cache

    cache.set("drill:k", {"a": 1}, 60)
    try:
        assert cache.get("drill:k") == {"a": 1}
    finally:
        cache.delete("drill:k")


def test_production_uses_the_degrading_cache():
    import subprocess
    import sys

    code = (
        "import os; os.environ.update(DJANGO_SETTINGS_MODULE='clinic.settings.production', "
        "SECRET_KEY='k'*60, DATABASE_URL='postgres://x@127.0.0.1/x', REDIS_URL='redis://127.0.0.1:6379/0'); "
        "from django.conf import settings; print(settings.CACHES['default']['BACKEND'], settings.SESSION_ENGINE)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["clinic.cache.DegradingRedisCache", "clinic.sessions"]
