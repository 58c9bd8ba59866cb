from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.apps import apps

_migration = importlib.import_module("loyalty.migrations.0002_programme_and_roles")
# Found by name: the lead may renumber the migration on merge.
_stored_value_migration = importlib.import_module(
    "loyalty.migrations."
    + next(p.stem for p in (Path(__file__).parents[2] / "loyalty" / "migrations").glob("*_stored_value.py"))
)


@pytest.fixture(autouse=True)
def _programme(request):
    """The seed programme (tiers, policy, bonuses, message templates) comes from a data
    migration; a transactional test may have flushed it, so put it back (idempotent)."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db")
    _migration.seed(apps, None)
    _stored_value_migration._templates(apps, None)
