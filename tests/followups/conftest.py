"""Follow-up plan tests: frozen at Monday 2026-12-07 08:00 Shanghai (as the appointment
tests), in-memory message backends, the message templates of followups' migration."""

from __future__ import annotations

import importlib

import pytest
import time_machine
from django.apps import apps

from clinic.notifications.backends import locmem
from tests.appointments.factories import at, make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory

from .helpers import make_plan


@pytest.fixture(autouse=True)
def followup_settings(settings, tmp_path):
    settings.APPOINTMENTS_PRIORITY_HOLD_TIMES = []
    settings.NOTIFICATIONS_BACKENDS = {"sms": "locmem", "wechat": "locmem", "email": "locmem"}
    settings.NOTIFICATIONS_FILE_DIR = tmp_path / "outbox"
    settings.FOLLOWUPS_MAX_ATTEMPTS = 3
    settings.FOLLOWUPS_ESCALATE_AFTER_DAYS = 1
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture(autouse=True)
def message_templates(db):
    """Data-migration rows are flushed by transaction=True tests; put them back."""
    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    importlib.import_module("followups.migrations.0002_plans").add_templates(apps, None)


@pytest.fixture
def clock():
    with time_machine.travel(at(0, 8), tick=False) as traveller:
        yield traveller


@pytest.fixture
def doc(branch):
    return make_doctor(branch, "doc_chen", "陈医生")


@pytest.fixture
def surgery(db):
    return ServiceCategoryFactory(code="SURG", name="口腔外科")


@pytest.fixture
def extraction(surgery):
    return ServiceItemFactory(code="SU01", name="普通拔牙", category=surgery, price="300.00")


@pytest.fixture
def implants(db):
    return ServiceCategoryFactory(code="IMPL", name="种植")


@pytest.fixture
def implant(implants):
    return ServiceItemFactory(code="IM01", name="种植体（国产）", category=implants, price="6800.00")


@pytest.fixture
def cleaning(db):
    cat = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    return ServiceItemFactory(code="PV01", name="超声洁牙", category=cat, price="280.00")


@pytest.fixture
def extraction_plan(surgery):
    return make_plan(
        "拔牙术后回访", category=surgery, steps=[("拔牙术后第1天回访", 1, "days")], care="咬紧棉球30分钟。"
    )


@pytest.fixture
def implant_plan(implants):
    return make_plan(
        "种植术后回访",
        category=implants,
        steps=[("D+1", 1, "days"), ("D+7", 7, "days"), ("D+30", 30, "days"), ("M+6", 6, "months")],
    )
