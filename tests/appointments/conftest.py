"""Appointment tests: frozen at Monday 2026-12-07 08:00 Shanghai, in-memory message backends,
no held-back slots unless a test turns them on."""

from __future__ import annotations

import importlib

import pytest
import time_machine
from django.apps import apps

from clinic.notifications.backends import locmem
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.members.factories import make_member

from .factories import at, make_chair, make_doctor


@pytest.fixture(autouse=True)
def appointment_settings(settings, tmp_path):
    settings.APPOINTMENTS_PRIORITY_HOLD_TIMES = []
    settings.NOTIFICATIONS_BACKENDS = {"sms": "locmem", "wechat": "locmem", "email": "locmem"}
    settings.NOTIFICATIONS_FILE_DIR = tmp_path / "outbox"
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture(autouse=True)
def message_templates(db):
    """Data-migration rows are flushed by transaction=True tests; put them back."""
    migration = importlib.import_module("appointments.migrations.0002_roles_and_templates")
    migration.add_templates(apps, None)
    channels = importlib.import_module("members.migrations.0002_acquisition_channels")
    channels.add_channels(apps, None)


@pytest.fixture
def clock():
    with time_machine.travel(at(0, 8), tick=False) as traveller:
        yield traveller


@pytest.fixture
def service(db):
    basic = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    return ServiceItemFactory(
        code="PV01", name="超声洁牙", category=basic, price="280.00", duration_minutes=30
    )


@pytest.fixture
def long_service(db):
    cat = ServiceCategoryFactory(code="ENDO", name="牙体牙髓")
    return ServiceItemFactory(code="EN01", name="树脂补牙", category=cat, price="400.00", duration_minutes=60)


@pytest.fixture
def doc(branch):
    return make_doctor(branch, "doc_chen", "陈医生")


@pytest.fixture
def doc2(branch):
    return make_doctor(branch, "doc_li", "李医生")


@pytest.fixture
def chair(branch):
    return make_chair(branch)


@pytest.fixture
def member(branch):
    return make_member(branch, name="张三", phone="13900001111")
