"""Inventory tests: personas of tests/conftest.py plus the stock keeper; in-memory message
backends and the migration's message template (flushed by transaction=True tests)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from clinic.models import Role
from clinic.notifications.backends import locmem


@pytest.fixture(autouse=True)
def inventory_settings(settings, tmp_path):
    settings.NOTIFICATIONS_BACKENDS = {"sms": "locmem", "wechat": "locmem", "email": "locmem"}
    settings.NOTIFICATIONS_FILE_DIR = tmp_path / "outbox"
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture(autouse=True)
def migration_rows(db):
    importlib.import_module("inventory.migrations.0002_defaults").add_templates(apps, None)


@pytest.fixture
def keeper(staff_factory):
    user = staff_factory(Role.STOCK_KEEPER)
    user.email = "keeper@example.cn"
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def item(db):
    from .factories import make_item

    return make_item()
