from __future__ import annotations

import importlib

import pytest
from django.apps import apps


@pytest.fixture(autouse=True)
def acquisition_channels(db):
    """The demo channel list comes from a data migration; browser tests (transaction=True)
    flush the database afterwards, so put it back for every test that needs it."""
    migration = importlib.import_module("members.migrations.0002_acquisition_channels")
    migration.add_channels(apps, None)
