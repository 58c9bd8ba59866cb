"""Attribution: the first touch (fixed once, at the first consultation or registration; changed
only by hand with a permission and a reason, audited), the last touch of every paid visit
(revenue and paid date on its consultation), and its reversal on void."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from appointments import services as appt_services
from clinic.models import AuditLog
from marketing.attribution import attribution_change, visit_touch_record, visit_touch_void
from marketing.consultation_errors import MarketingError
from marketing.consultation_models import Consultation, VisitTouch
from marketing.models import Attribution, Partner, TouchSource
from members.models import AcquisitionChannel
from members.services import member_register
from tests.appointments.factories import at
from tests.conftest import login

from .helpers import book_from, log, pay, void

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner(branch):
    return Partner.objects.create(name="静安小学", kind="school", branch=branch)


def test_the_first_consultation_fixes_the_first_touch_once(
    consultant, consultant2, branch, phone_channel, wechat_channel, partner, clock
):
    first = log(
        consultant, branch, wechat_channel, lead_name="孙八", lead_phone="13922223333", partner=partner
    )
    log(consultant2, branch, phone_channel, member=first.member)
    touch = Attribution.objects.get(member=first.member)
    assert (touch.source, touch.consultation_id, touch.consultant, touch.partner, touch.channel) == (
        TouchSource.CONSULTATION,
        first.pk,
        consultant,
        partner,
        wechat_channel.acquisition_channel,
    )
    assert touch.fixed_at == first.at


def test_a_person_registered_before_with_a_channel_keeps_registration_as_first_touch(
    consultant, front_desk, branch, phone_channel, clock
):
    person = member_register(
        actor=front_desk,
        branch=branch,
        name="周九",
        phone="13933334444",
        channel=AcquisitionChannel.objects.get(code="dianping"),
    )
    clock.shift(dt.timedelta(hours=2))
    log(consultant, branch, phone_channel, member=person)
    touch = Attribution.objects.get(member=person)
    assert (touch.source, touch.channel.code, touch.consultation_id) == (
        TouchSource.REGISTRATION,
        "dianping",
        None,
    )
    assert touch.fixed_at == person.created_at


def test_the_partner_picked_at_registration_fixes_the_first_touch(front_desk, branch, partner, clock):
    client = login(front_desk)
    response = client.post(
        reverse("members:create"),
        {
            "name": "吴十",
            "phone": "13944445555",
            "referral_partner": partner.pk,
            "stage": "lead",
            "language": "zh-hans",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    touch = Attribution.objects.get(member__name="吴十")
    assert (touch.source, touch.partner) == (TouchSource.REGISTRATION, partner)


def test_a_paid_visit_gets_its_last_touch_and_moves_the_funnel_on(
    consultant,
    consultant2,
    front_desk,
    branch,
    phone_channel,
    wechat_channel,
    member,
    service,
    doc,
    clock,
    django_capture_on_commit_callbacks,
):
    older = log(consultant, branch, phone_channel, member=member, at=at(-20, 9))
    latest = log(consultant2, branch, wechat_channel, member=member)
    appt = book_from(consultant2, latest, branch, service, doc, start=at(0, 10))
    clock.move_to(at(0, 9, 58))
    appt_services.appointment_check_in(actor=front_desk, appointment=appt)
    visit = pay(front_desk, appt, service, django_capture_on_commit_callbacks)
    touch = VisitTouch.objects.get(visit=visit)
    assert (touch.consultation_id, touch.consultant, touch.channel, touch.amount) == (
        latest.pk,
        consultant2,
        wechat_channel,
        Decimal("280.00"),
    )
    latest.refresh_from_db()
    older.refresh_from_db()
    assert (latest.revenue, latest.paid_on, latest.arrived_on) == (
        Decimal("280.00"),
        dt.date(2026, 12, 7),
        dt.date(2026, 12, 7),
    )
    assert (older.revenue, older.paid_on) == (Decimal("0"), None)
    assert visit_touch_record(visit=visit) is None  # a re-delivered signal records nothing twice
    assert VisitTouch.objects.count() == 1
    latest.refresh_from_db()
    assert latest.revenue == Decimal("280.00")


def test_a_void_takes_the_revenue_and_the_paid_date_back_once(
    consultant,
    front_desk,
    manager,
    branch,
    phone_channel,
    member,
    service,
    doc,
    clock,
    django_capture_on_commit_callbacks,
):
    c = log(consultant, branch, phone_channel, member=member)
    appt = book_from(consultant, c, branch, service, doc, start=at(0, 10))
    clock.move_to(at(0, 9, 58))
    appt_services.appointment_check_in(actor=front_desk, appointment=appt)
    visit = pay(front_desk, appt, service, django_capture_on_commit_callbacks)
    void(manager, visit, django_capture_on_commit_callbacks)
    c.refresh_from_db()
    touch = VisitTouch.objects.get(visit=visit)
    assert (c.revenue, c.paid_on, c.arrived_on) == (Decimal("0.00"), None, dt.date(2026, 12, 7))
    assert touch.voided_at is not None
    assert visit_touch_void(visit=visit) is None  # twice: nothing more
    c.refresh_from_db()
    assert c.revenue == Decimal("0.00")
    assert AuditLog.objects.filter(action="marketing.visit_touch.voided").count() == 1


def test_a_consultation_outside_the_window_is_no_last_touch(
    consultant,
    front_desk,
    branch,
    phone_channel,
    member,
    service,
    doc,
    clock,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.MARKETING_ATTRIBUTION_DAYS = 30
    c = log(consultant, branch, phone_channel, member=member, at=at(-40, 9))
    appt = appt_services.appointment_book(
        actor=front_desk,
        branch=branch,
        member=member,
        service=service,
        doctor=doc,
        start=at(0, 10),
        channel="phone",
    )
    clock.move_to(at(0, 9, 58))
    appt_services.appointment_check_in(actor=front_desk, appointment=appt)
    visit = pay(front_desk, appt, service, django_capture_on_commit_callbacks)
    touch = VisitTouch.objects.get(visit=visit)
    assert (touch.consultation_id, touch.channel_id) == (None, None)
    c.refresh_from_db()
    assert (c.revenue, c.paid_on) == (Decimal("0"), None)


def test_a_paid_visit_without_any_touch_fixes_one_from_registration(
    front_desk, branch, member, service, doc, clock, django_capture_on_commit_callbacks
):
    assert not Attribution.objects.filter(member=member).exists()
    appt = appt_services.appointment_book(
        actor=front_desk,
        branch=branch,
        member=member,
        service=service,
        doctor=doc,
        start=at(0, 10),
        channel="phone",
    )
    clock.move_to(at(0, 9, 58))
    appt_services.appointment_check_in(actor=front_desk, appointment=appt)
    pay(front_desk, appt, service, django_capture_on_commit_callbacks)
    touch = Attribution.objects.get(member=member)
    assert (touch.source, touch.fixed_at) == (TouchSource.REGISTRATION, member.created_at)


def test_changing_a_first_touch_needs_the_permission_and_a_reason(
    consultant, manager, marketer, branch, phone_channel, member, partner, clock
):
    log(consultant, branch, phone_channel, member=member)
    with pytest.raises(MarketingError) as err:
        attribution_change(actor=consultant, member=member, reason="改", partner=partner)
    assert err.value.code == "forbidden"
    with pytest.raises(MarketingError) as err:
        attribution_change(actor=manager, member=member, reason=" ", partner=partner)
    assert err.value.field == "reason"
    wechat = AcquisitionChannel.objects.get(code="wechat")
    touch = attribution_change(
        actor=manager, member=member, reason="客户说是学校推荐的", partner=partner, channel=wechat
    )
    assert (touch.source, touch.partner, touch.channel) == (TouchSource.MANUAL, partner, wechat)
    row = AuditLog.objects.get(action="marketing.attribution.changed")
    assert row.changes["partner"] == [None, partner.pk] and row.changes["reason"] == "客户说是学校推荐的"
    client = login(marketer)
    url = reverse("marketing:consult_attribution", args=[member.pk])
    assert client.get(url).status_code == 200
    assert login(consultant).get(url).status_code == 403
    response = client.post(
        url, {"channel": wechat.pk, "partner": "", "consultant": "", "reason": "核实后更正"}
    )
    assert response.status_code == 302
    assert Attribution.objects.get(member=member).partner is None


def test_a_merge_keeps_the_earlier_first_touch_and_moves_the_consultations(
    consultant, manager, branch, phone_channel, wechat_channel, clock
):
    from members.services import member_merge

    early = log(consultant, branch, phone_channel, lead_name="郑一", lead_phone="13955556666", at=at(-5, 9))
    late = log(consultant, branch, wechat_channel, lead_name="郑一一", lead_phone="13955557777")
    member_merge(actor=manager, source=late.member, target=early.member)
    touch = Attribution.objects.get(member=early.member)
    assert touch.consultation_id == early.pk
    assert Consultation.objects.filter(member=early.member).count() == 2
