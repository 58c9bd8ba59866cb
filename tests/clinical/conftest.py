# ruff: noqa: F811  (the appointment fixtures are imported to be used here, under their names)
"""Clinical tests: the appointment world (frozen Monday 2026-12-07 08:00 Shanghai), a patient
with an open visit, the plan types of the data migration, a senior doctor."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from clinic.models import Role
from tests.appointments.conftest import (  # noqa: F401  (fixtures)
    appointment_settings,
    chair,
    clock,
    doc,
    doc2,
    long_service,
    member,
    message_templates,
    service,
)
from tests.appointments.factories import at, book
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.conftest import make_staff


@pytest.fixture(autouse=True)
def clinical_setup(db, settings, tmp_path):
    settings.CLINICAL_PRIVATE_ROOT = tmp_path / "private"
    from django.utils.functional import empty

    from clinical import models

    models.private_storage._wrapped = empty  # the storage reads the setting again
    importlib.import_module("clinical.migrations.0002_plan_types").forwards(apps, None)
    yield
    models.private_storage._wrapped = empty


@pytest.fixture
def senior(branch):
    return make_staff(Role.SENIOR_DOCTOR, [branch], username="senior_wang")


@pytest.fixture
def implant(db):
    cat = ServiceCategoryFactory(code="IMPL", name="种植")
    return ServiceItemFactory(
        code="IM01", name="种植体", category=cat, price="6800.00", duration_minutes=90, per_tooth=True
    )


@pytest.fixture
def crown(db):
    cat = ServiceCategoryFactory(code="AEST", name="美容修复")
    return ServiceItemFactory(
        code="AE02", name="全瓷冠", category=cat, price="4500.00", duration_minutes=60, per_tooth=True
    )


@pytest.fixture
def filling(db):
    cat = ServiceCategoryFactory(code="ENDO", name="牙体牙髓")
    return ServiceItemFactory(
        code="EN01", name="树脂补牙", category=cat, price="400.00", duration_minutes=40, per_tooth=True
    )


def open_visit(actor, branch, member, service, doctor, hour=10, day=0):
    from appointments import services

    appt = book(actor, branch, member, service, doctor, at(day, hour))
    services.appointment_check_in(actor=actor, appointment=appt)
    appt = services.appointment_start_treatment(actor=actor, appointment=appt)
    return appt.visit


@pytest.fixture
def visit(doc, branch, member, service, front_desk, clock):
    return open_visit(front_desk, branch, member, service, doc)
