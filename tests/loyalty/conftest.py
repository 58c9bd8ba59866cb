from __future__ import annotations

import importlib

import pytest
from django.apps import apps

_migration = importlib.import_module("loyalty.migrations.0002_programme_and_roles")


@pytest.fixture(autouse=True)
def _programme(request):
    """The seed programme (tiers, policy, bonuses, message templates) comes from a data
    migration; a transactional test may have flushed it, so put it back (idempotent)."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db")
    _migration.seed(apps, None)
