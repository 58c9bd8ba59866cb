"""Recall, care and survey tests, with their own clock and fixtures over the plan tests' ones:
in-memory message backends, the seed programme (tiers, bonus rules) and the follow-ups seed
(recall types, holidays, templates) put back after a flushing test, and a helper that takes a
visit through booking, arrival and checkout."""

from __future__ import annotations

import datetime as dt
import importlib
import zoneinfo

import pytest
import time_machine
from django.apps import apps

from appointments import checkout, services
from clinic.notifications.backends import locmem
from tests.appointments.factories import make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.members.factories import make_member

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
_programme = importlib.import_module("loyalty.migrations.0002_programme_and_roles")


def local(day: dt.date, hour: int = 8, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


@pytest.fixture(autouse=True)
def followup_settings(settings, tmp_path):
    settings.APPOINTMENTS_PRIORITY_HOLD_TIMES = []
    settings.NOTIFICATIONS_BACKENDS = {"sms": "locmem", "wechat": "locmem", "email": "locmem"}
    settings.NOTIFICATIONS_FILE_DIR = tmp_path / "outbox"
    settings.LOYALTY_AUTO_COUPONS = {}
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture(autouse=True)
def followup_seed(request):
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db")
    _programme.seed(apps, None)
    from followups.recall_seed import seed

    seed(apps)
    appt_templates = importlib.import_module("appointments.migrations.0002_roles_and_templates")
    appt_templates.add_templates(apps, None)


@pytest.fixture
def cleaning(db):
    basic = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    item = ServiceItemFactory(
        code="PV01", name="超声洁牙", category=basic, price="280.00", duration_minutes=30
    )
    from followups.models import RecallType

    RecallType.objects.get(code="cleaning").trigger_services.add(item)
    return item


@pytest.fixture
def filling(db):
    cat = ServiceCategoryFactory(code="ENDO", name="牙体牙髓")
    return ServiceItemFactory(code="EN01", name="树脂补牙", category=cat, price="400.00", duration_minutes=30)


@pytest.fixture
def doc(branch):
    return make_doctor(branch, "doc_chen", "陈医生")


@pytest.fixture
def person(branch):
    return make_member(branch, name="张三", phone="13900001111")


class Clock:
    """One travelling clock per test: ``go(day, hour)`` moves it (and it stays there)."""

    def __init__(self):
        self.traveller = None

    def go(self, day: dt.date, hour: int = 9, minute: int = 0):
        self.stop()
        self.traveller = time_machine.travel(local(day, hour, minute), tick=False)
        self.traveller.start()

    def stop(self):
        if self.traveller is not None:
            self.traveller.stop()
            self.traveller = None


@pytest.fixture
def clock():
    c = Clock()
    yield c
    c.stop()


@pytest.fixture
def visit_on(branch, doc, front_desk, clock, django_capture_on_commit_callbacks):
    """``visit_on(member, item, day)``: a visit booked for 10:00 on ``day`` and checked out
    at 11:00, with its ``visit_completed`` listeners run (the clock stays at 11:00)."""
    state = {"n": 0}

    def make(member, item, day: dt.date, *, hour: int = 10):
        clock.go(day, hour - 1)
        state["n"] += 1
        appt = services.appointment_book(
            actor=front_desk,
            branch=branch,
            member=member,
            service=item,
            doctor=doc,
            start=local(day, hour),
            channel="phone",
        )
        clock.go(day, hour)
        services.appointment_check_in(actor=front_desk, appointment=appt)
        appt = services.appointment_start_treatment(actor=front_desk, appointment=appt)
        checkout.charge_line_add(actor=front_desk, visit=appt.visit, item=item)
        clock.go(day, hour + 1)
        _lines, priced = checkout.quote(visit=appt.visit)
        with django_capture_on_commit_callbacks(execute=True):
            visit = checkout.visit_checkout(
                actor=front_desk,
                visit=appt.visit,
                payments=[("wechat_pay", priced.amount_due)],
                checkout_key=f"k{state['n']}",
            )
        return visit

    return make
