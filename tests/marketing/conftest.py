"""Consultation tests: frozen at Monday 2026-12-07 08:00 Shanghai (as the appointment tests),
in-memory message backends, the channels and message templates of marketing's migration."""

from __future__ import annotations

import importlib

import pytest
import time_machine
from django.apps import apps

from clinic.notifications.backends import locmem
from tests.appointments.factories import at, make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.members.factories import make_member


@pytest.fixture(autouse=True)
def marketing_settings(settings, tmp_path):
    settings.APPOINTMENTS_PRIORITY_HOLD_TIMES = []
    settings.NOTIFICATIONS_BACKENDS = {"sms": "locmem", "wechat": "locmem", "email": "locmem"}
    settings.NOTIFICATIONS_FILE_DIR = tmp_path / "outbox"
    settings.NOTIFICATIONS_QUIET_HOURS = None
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture(autouse=True)
def reference_rows(db):
    """Data-migration rows are flushed by transaction=True tests; put them back."""
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)
    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(apps, None)  # tiers
    mine = importlib.import_module("marketing.migrations.0002_consultations")
    mine.add_channels(apps, None)
    mine.add_templates(apps, None)
    importlib.import_module("marketing.migrations.0005_campaigns").add_templates(apps, None)


@pytest.fixture
def clock():
    with time_machine.travel(at(0, 8), tick=False) as traveller:
        yield traveller


@pytest.fixture
def phone_channel(db):
    from marketing.consultation_models import ConsultationChannel

    return ConsultationChannel.objects.get(code="phone")


@pytest.fixture
def wechat_channel(db):
    from marketing.consultation_models import ConsultationChannel

    return ConsultationChannel.objects.get(code="wechat")


@pytest.fixture
def service(db):
    basic = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    return ServiceItemFactory(
        code="PV01", name="超声洁牙", category=basic, price="280.00", duration_minutes=30
    )


@pytest.fixture
def implant(db):
    cat = ServiceCategoryFactory(code="IMPL", name="种植")
    return ServiceItemFactory(code="IM01", name="种植体", category=cat, price="8800.00", duration_minutes=60)


@pytest.fixture
def doc(branch):
    return make_doctor(branch, "doc_chen", "陈医生")


@pytest.fixture
def member(branch):
    return make_member(branch, name="张三", phone="13900001111")


@pytest.fixture
def consultant2(staff_factory):
    from clinic.models import Role

    return staff_factory(Role.CONSULTANT, username="consultant2")
