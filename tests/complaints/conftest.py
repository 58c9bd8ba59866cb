"""Complaint tests: in-memory message backends, MEDIA_ROOT in a temporary folder, the
message templates of the migrations (flushed by transaction=True tests)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from clinic.notifications.backends import locmem
from clinic.roles import sync_roles
from tests.members.factories import make_member


@pytest.fixture(autouse=True)
def complaint_settings(settings, tmp_path):
    settings.APPOINTMENTS_PRIORITY_HOLD_TIMES = []
    settings.NOTIFICATIONS_BACKENDS = {"sms": "locmem", "wechat": "locmem", "email": "locmem"}
    settings.NOTIFICATIONS_FILE_DIR = tmp_path / "outbox"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.COMPLAINTS_MAKE_GOOD_LIMIT = 100
    settings.COMPLAINTS_POINTS_PER_YUAN = 100
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture(autouse=True)
def migration_rows(db):
    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)
    importlib.import_module("complaints.migrations.0002_defaults").add_defaults(apps, None)
    sync_roles()


@pytest.fixture
def person(branch):
    return make_member(branch, name="李娜")


@pytest.fixture
def hq(staff_factory, branch, other_branch):
    from clinic.models import Role

    user = staff_factory(Role.HQ_ADMIN, [branch, other_branch], username="hq")
    user.email = "hq@example.cn"
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def boss(manager):
    manager.email = "boss@example.cn"
    manager.save(update_fields=["email"])
    return manager
