"""Opening an edit form of a fully filled record and saving it unchanged changes nothing
(issue 11: the person form used to render <input type="date" value="1995/11/20">, which the
browser drops, so saving cleared the birth date). Runs in Chinese, the default UI language."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.forms.models import model_to_dict
from django.utils import timezone

from appointments import services as appointment_services
from appointments.models import Appointment
from members.models import Member, Tag
from tests.appointments.factories import make_chair, make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.members.factories import make_member

from .test_members import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded(db):
    importlib.import_module("members.migrations.0002_acquisition_channels").add_channels(apps, None)
    importlib.import_module("appointments.migrations.0002_roles_and_templates").add_templates(apps, None)


def _row(obj) -> dict:
    obj.refresh_from_db()
    data = model_to_dict(obj)
    data.pop("updated_at", None)
    return data


def test_person_edit_form_saved_unchanged_keeps_every_field(live_server, page, front_desk, branch, seeded):
    from members.models import AcquisitionChannel

    member = make_member(
        branch,
        name="王芳",
        phone="13812345678",
        gender="F",
        birth_date=dt.date(1995, 11, 20),
        channel=AcquisitionChannel.objects.first(),
        wechat_id="wangfang95",
        other_contacts="QQ 12345",
        address="上海市静安区南京西路 1 号",
        occupation="教师",
        notes="怕疼\n周末来",
    )
    Tag.objects.create(name="VIP")
    member.tags.add(Tag.objects.get(name="VIP"))
    before = _row(member)
    tags_before = set(member.tags.values_list("pk", flat=True))

    log_in(page, live_server.url, "front_desk")
    page.goto(f"{live_server.url}/members/{member.pk}/edit/")
    assert page.locator("#id_birth_date").input_value() == "1995-11-20"
    page.get_by_test_id("member-form").get_by_role("button", name="保存").click()
    page.wait_for_url(f"**/members/{member.pk}/")

    after = _row(Member.objects.get(pk=member.pk))
    assert after == before
    assert set(member.tags.values_list("pk", flat=True)) == tags_before


def test_appointment_move_form_saved_unchanged_keeps_the_booking(
    live_server, page, front_desk, branch, seeded
):
    doctor = make_doctor(branch, "doc_chen", "陈医生")
    chair = make_chair(branch)
    category = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    service = ServiceItemFactory(code="PV01", name="超声洁牙", category=category, duration_minutes=30)
    member = make_member(branch, name="张三", phone="13900001111")
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    start = timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(10, 0)))
    appt = appointment_services.appointment_book(
        actor=front_desk,
        branch=branch,
        member=member,
        service=service,
        doctor=doctor,
        chair=chair,
        start=start,
        channel="phone",
        notes="首次洁牙",
    )
    before = _row(Appointment.objects.get(pk=appt.pk))

    log_in(page, live_server.url, "front_desk")
    page.goto(f"{live_server.url}/appointments/{appt.pk}/move/")
    assert page.locator("#id_date").input_value() == tomorrow.isoformat()
    page.get_by_test_id("move-form").get_by_role("button", name="改约").click()
    page.wait_for_load_state()

    assert _row(Appointment.objects.get(pk=appt.pk)) == before
