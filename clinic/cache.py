"""The cache backend of production (``CACHES`` in clinic/settings/production.py): Django's
Redis cache that degrades to "nothing cached" while Redis is unreachable.

What the project keeps in the cache is only ever a copy or a soft limit (the dashboard's
shared live figure, the share page's per-IP counter): losing it for a while costs time, not
correctness. Django's own backend raises on every call when Redis is down, so each page that
reads the cache would answer an error. Here a read is a miss, a write is dropped, ``incr``
of a missing key raises ``ValueError`` as it does for any missing key, and one warning per
minute says Redis is down. Sessions are not in the cache (``SESSION_ENGINE``), nor is the
Celery broker's state.
"""

from __future__ import annotations

import logging
import time

import redis.exceptions
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
_WARN_EVERY_SECONDS = 60
_last_warning = [0.0]


def _down(operation: str, exc: Exception) -> None:
    now = time.monotonic()
    if now - _last_warning[0] >= _WARN_EVERY_SECONDS:
        _last_warning[0] = now
        log.warning("cache unavailable (%s): %s; serving without it", operation, exc)


class DegradingRedisCache(RedisCache):
    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNREACHABLE as exc:
            _down("get", exc)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as exc:
            _down("get_many", exc)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except UNREACHABLE as exc:
            _down("has_key", exc)
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set(key, value, timeout, version)
        except UNREACHABLE as exc:
            _down("set", exc)
            return None

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except UNREACHABLE as exc:
            _down("add", exc)
            return False

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except UNREACHABLE as exc:
            _down("set_many", exc)
            return list(data)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except UNREACHABLE as exc:
            _down("touch", exc)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except UNREACHABLE as exc:
            _down("delete", exc)
            return False

    def delete_many(self, keys, version=None):
        try:
            return super().delete_many(keys, version)
        except UNREACHABLE as exc:
            _down("delete_many", exc)
            return None

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except UNREACHABLE as exc:
            _down("incr", exc)
            raise ValueError(f"Key '{key}' not found (cache unavailable)") from exc

    def clear(self):
        try:
            return super().clear()
        except UNREACHABLE as exc:
            _down("clear", exc)
            return False
