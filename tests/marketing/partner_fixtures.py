"""Fixtures of the partner and rebate tests (imported by each test module, so that the
consultation tests' conftest stays theirs): a clinic with two categories, a doctor, a partner
with terms, and ``paid_visit`` that books, checks in and checks out at a given local time
with the signals delivered as after a real commit."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import time_machine
from django.apps import apps
from django.test import TestCase

from appointments import checkout, services
from marketing import partners
from marketing.models import Attribution, TouchSource
from tests.appointments.factories import TZ, make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.members.factories import make_member

__all__ = [
    "attribute",
    "cleaning",
    "clinic_setup",
    "doc",
    "implant",
    "local",
    "paid_visit",
    "partner",
    "sent",
    "term",
    "void",
]


def local(y: int, m: int, d: int, h: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, minute, tzinfo=TZ)


@pytest.fixture(autouse=True)
def clinic_setup(db, settings, tmp_path):
    settings.APPOINTMENTS_PRIORITY_HOLD_TIMES = []
    settings.NOTIFICATIONS_BACKENDS = {"sms": "locmem", "wechat": "locmem", "email": "locmem"}
    settings.NOTIFICATIONS_FILE_DIR = tmp_path / "outbox"
    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)


@pytest.fixture
def cleaning(db):
    basic = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    return ServiceItemFactory(
        code="PV01", name="超声洁牙", category=basic, price="300.00", duration_minutes=30
    )


@pytest.fixture
def implant(db):
    cat = ServiceCategoryFactory(code="IMPL", name="种植")
    return ServiceItemFactory(code="IM01", name="种植体", category=cat, price="6000.00", duration_minutes=60)


@pytest.fixture
def doc(branch):
    return make_doctor(branch, "doc_chen", "陈医生")


@pytest.fixture
def partner(branch, marketer):
    return partners.partner_create(actor=marketer, branch=branch, name="阳光小学", kind="school")


def attribute(member, partner) -> Attribution:
    """Credit the person to the partner; a person who has been in already has a first touch
    (fixed at arrival), which this then corrects, as a manager may."""
    attribution, _ = Attribution.objects.update_or_create(
        member=member, defaults={"partner": partner, "source": TouchSource.REGISTRATION}
    )
    return attribution


@pytest.fixture
def sent(branch, partner):
    """A person the partner sent."""
    member = make_member(branch, name="李四", phone="13900002222")
    attribute(member, partner)
    return member


def paid_visit(actor, doctor, member, items, when: dt.datetime, *, payments=None, key=None, branch=None):
    """Book ``when``, arrive, treat, charge ``items`` and check out (WeChat Pay for the amount
    due unless ``payments``); ``visit_completed`` delivered as after the commit."""
    with time_machine.travel(when - dt.timedelta(hours=1), tick=False):
        appt = services.appointment_book(
            actor=actor,
            branch=branch or member.branch,
            member=member,
            service=items[0],
            doctor=doctor,
            start=when,
            channel="phone",
        )
    with time_machine.travel(when, tick=False):
        services.appointment_check_in(actor=actor, appointment=appt)
        appt = services.appointment_start_treatment(actor=actor, appointment=appt)
        for item in items:
            checkout.charge_line_add(actor=actor, visit=appt.visit, item=item)
        _lines, result = checkout.quote(visit=appt.visit)
        with TestCase.captureOnCommitCallbacks(execute=True):
            return checkout.visit_checkout(
                actor=actor,
                visit=appt.visit,
                payments=payments or [("wechat_pay", result.amount_due)],
                checkout_key=key or f"k-{appt.pk}",
            )


def void(actor, visit, when: dt.datetime, reason: str = "收错了"):
    with time_machine.travel(when, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        return checkout.visit_void(actor=actor, visit=visit, reason=reason)


def term(actor, partner, **kw):
    kw.setdefault("valid_from", dt.date(2026, 1, 1))
    return partners.rebate_term_add(actor=actor, partner=partner, **kw)
