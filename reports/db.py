"""Report reads on a replica (docs/operations.md, "A reporting replica"). With
``REPORTS_DATABASE_URL`` set, the settings add the database alias ``reports`` and this router;
a report page then reads — through the ORM and through the raw SQL of kpis/rollups — from
that PostgreSQL replica, while every write (audit rows, a month close, the rollup job) and
every read outside a report page stays on ``default``.

The reports views run inside ``replica_reads()`` (the ``reads_replica`` decorator); the
rollup job and the services that write never do, so they always read the primary."""

from __future__ import annotations

import contextvars
import functools
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "reports"
_reading = contextvars.ContextVar("reports_replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def read_alias() -> str:
    """The database a report read goes to now."""
    return REPLICA if _reading.get() and replica_configured() else DEFAULT_DB_ALIAS


def read_cursor():
    """A cursor for the raw report SQL, on the replica inside a report page."""
    return connections[read_alias()].cursor()


@contextmanager
def replica_reads():
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


def reads_replica(view):
    """Run a read-only report view with its reads on the replica (when one is configured)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        with replica_reads():
            return view(*args, **kwargs)

    wrapped.reads_replica = True  # copied onto the outer decorators' wrappers by functools.wraps
    return wrapped


class ReportsReplicaRouter:
    """Reads inside ``replica_reads()`` go to the replica; all else is Django's default."""

    def db_for_read(self, model, **hints):
        return REPLICA if _reading.get() and replica_configured() else None

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS if replica_configured() else None

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the same rows as the primary.
        return True if replica_configured() else None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # A replica is migrated by replication, never by manage.py migrate.
        return False if db == REPLICA else None
