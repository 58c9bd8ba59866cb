"""The loyalty checks the restore drill runs on a restored copy (clinic.backups): the same
reconciliation SQL as the nightly jobs — points balance == entries == open lots, stored value
parts == their entries. A restored dump that drifts is not a good dump."""

from __future__ import annotations

from clinic.backups import register_restore_check

from .services.ledger_jobs import _RECONCILE_SQL as POINTS_SQL
from .services.stored_value import _RECONCILE_SQL as STORED_VALUE_SQL


def points_drift(cursor) -> list:
    cursor.execute(POINTS_SQL)
    return [tuple(int(v) for v in row) for row in cursor.fetchall()]


def stored_value_drift(cursor) -> list:
    cursor.execute(STORED_VALUE_SQL)
    return [tuple(str(v) for v in row) for row in cursor.fetchall()]


def register() -> None:
    register_restore_check("loyalty.points", points_drift)
    register_restore_check("loyalty.stored_value", stored_value_drift)
