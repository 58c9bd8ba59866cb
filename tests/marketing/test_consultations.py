"""Consultations: logging (existing person or a lead made on the spot), the rules of outcome
and next step, who may edit, booking in one step, the SMS after it, arrival (thread shown to
the front desk, consultant told), the consultant's page, the profile thread."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from appointments import services as appt_services
from appointments.models import Appointment
from clinic.models import AuditLog
from clinic.notifications.models import Outbox
from marketing import consultations
from marketing.consultation_errors import MarketingError
from marketing.consultation_models import ArrivalNotice, Consultation, Outcome
from marketing.models import Attribution, TouchSource
from members.models import ConsentKind, Member, Stage
from members.services import consent_grant
from tests.appointments.factories import at
from tests.conftest import login
from tests.members.factories import make_member

from .helpers import arrive, book_from, log

pytestmark = pytest.mark.django_db


def test_a_new_caller_becomes_a_lead_with_the_channels_source_and_the_consultant(
    consultant, branch, phone_channel, service, clock
):
    c = log(
        consultant,
        branch,
        phone_channel,
        lead_name="李四",
        lead_phone="13912345678",
        question="洗牙多少钱",
        services=[service],
        quote=Decimal("280"),
        next_step="周三回电",
        next_step_due=dt.date(2026, 12, 9),
    )
    person = Member.objects.get(pk=c.member_id)
    assert (person.name, person.stage, person.consultant_id) == ("李四", Stage.LEAD, consultant.pk)
    assert person.channel == phone_channel.acquisition_channel
    assert c.consultant == consultant and c.on == dt.date(2026, 12, 7)
    assert list(c.services.all()) == [service]
    touch = Attribution.objects.get(member=person)
    assert (touch.source, touch.consultation_id, touch.channel) == (
        TouchSource.CONSULTATION,
        c.pk,
        phone_channel.acquisition_channel,
    )
    assert AuditLog.objects.filter(action="marketing.consultation.logged", target_id=str(c.pk)).exists()
    assert AuditLog.objects.filter(action="marketing.attribution.fixed").exists()


def test_a_caller_with_a_known_phone_and_a_similar_name_is_refused_until_confirmed(
    consultant, branch, phone_channel, member, clock
):
    with pytest.raises(MarketingError) as err:
        log(consultant, branch, phone_channel, lead_name="张三", lead_phone="13900001111")
    assert (err.value.code, err.value.field) == ("duplicate", "lead_phone")
    assert Consultation.objects.count() == 0
    c = log(
        consultant, branch, phone_channel, lead_name="张三", lead_phone="13900001111", allow_duplicate=True
    )
    assert c.member_id != member.pk


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"outcome": Outcome.PRICE}, "outcome_reason"),
        ({"outcome": Outcome.INVALID, "outcome_reason": "  "}, "outcome_reason"),
        ({"next_step": "回电"}, "next_step_due"),
        ({"next_step_due": dt.date(2026, 12, 9)}, "next_step"),
        ({"quote": Decimal("-1")}, "quote"),
        ({"next_step": "回电", "next_step_due": dt.date(2026, 12, 6)}, "next_step_due"),
    ],
)
def test_outcome_and_next_step_rules(consultant, branch, phone_channel, member, clock, kwargs, field):
    with pytest.raises(MarketingError) as err:
        log(consultant, branch, phone_channel, member=member, **kwargs)
    assert err.value.field == field


def test_consultants_log_and_edit_only_their_own_managers_any(
    consultant, consultant2, manager, doctor, branch, phone_channel, member, clock
):
    with pytest.raises(MarketingError):
        log(doctor, branch, phone_channel, member=member)  # no add permission
    with pytest.raises(MarketingError):
        log(consultant, branch, phone_channel, member=member, consultant=consultant2)
    c = log(manager, branch, phone_channel, member=member, consultant=consultant2)
    assert c.consultant == consultant2
    with pytest.raises(MarketingError) as err:
        consultations.consultation_update(actor=consultant, consultation=c, question="改")
    assert err.value.code == "forbidden"
    consultations.consultation_update(actor=consultant2, consultation=c, question="想做种植")
    consultations.consultation_update(
        actor=manager, consultation=c, outcome=Outcome.OTHER, outcome_reason="再说"
    )
    c.refresh_from_db()
    assert (c.question, c.outcome) == ("想做种植", Outcome.OTHER)
    audit = AuditLog.objects.filter(action="marketing.consultation.updated").order_by("pk")
    assert audit.first().changes["question"] == ["", "想做种植"]


def test_next_step_lands_on_the_consultants_to_do_list_until_done(
    consultant, branch, phone_channel, member, clock
):
    c = log(
        consultant, branch, phone_channel, member=member, next_step="回电", next_step_due=dt.date(2026, 12, 7)
    )
    later = log(
        consultant,
        branch,
        phone_channel,
        member=member,
        next_step="发方案",
        next_step_due=dt.date(2026, 12, 20),
    )
    assert list(consultations.open_steps(consultant)) == [c]
    consultations.consultation_step_done(actor=consultant, consultation=c)
    assert list(consultations.open_steps(consultant)) == []
    with pytest.raises(MarketingError):
        consultations.consultation_step_done(actor=consultant, consultation=c)
    consultations.consultation_update(
        actor=consultant, consultation=later, next_step_due=dt.date(2026, 12, 7)
    )
    assert list(consultations.open_steps(consultant)) == [later]
    closed = consultations.consultation_close(
        actor=consultant, consultation=later, outcome=Outcome.ELSEWHERE, reason="在别家"
    )
    assert closed.closed_at and closed.next_step_done_at and list(consultations.open_steps(consultant)) == []


def test_book_from_a_consultation_in_one_step(consultant, branch, phone_channel, member, service, doc, clock):
    c = log(
        consultant,
        branch,
        phone_channel,
        member=member,
        services=[service],
        next_step="约时间",
        next_step_due=dt.date(2026, 12, 8),
    )
    appt = book_from(consultant, c, branch, service, doc)
    c.refresh_from_db()
    assert (appt.member_id, c.appointment_id, c.outcome, c.booked_on) == (
        member.pk,
        appt.pk,
        Outcome.BOOKED,
        dt.date(2026, 12, 7),
    )
    assert c.next_step_done_at is not None
    with pytest.raises(MarketingError):
        book_from(consultant, c, branch, service, doc, start=at(2, 10))
    assert AuditLog.objects.filter(action="marketing.consultation.booked", target_id=str(c.pk)).exists()


def test_a_refused_booking_saves_nothing(
    consultant, front_desk, branch, phone_channel, member, service, doc, clock
):
    other = make_member(branch, name="王五", phone="13900002222")
    appt_services.appointment_book(
        actor=front_desk,
        branch=branch,
        member=other,
        service=service,
        doctor=doc,
        start=at(1, 10),
        channel="phone",
    )
    c = log(consultant, branch, phone_channel, member=member)
    with pytest.raises(appt_services.AppointmentError):
        book_from(consultant, c, branch, service, doc)
    c.refresh_from_db()
    assert (c.appointment_id, c.outcome, c.booked_on) == (None, Outcome.CONSIDERING, None)
    assert Appointment.objects.filter(member=member).count() == 0


def test_the_sms_after_a_booking_confirms_time_and_address_once(
    consultant, branch, phone_channel, member, service, doc, clock
):
    c = log(consultant, branch, phone_channel, member=member)
    book_from(consultant, c, branch, service, doc)
    c.refresh_from_db()
    row = consultations.consultation_sms(actor=consultant, consultation=c)
    assert (row.template_key, row.purpose) == ("marketing.consultation_booked", "service")
    assert row.params["start"].startswith("2026-12-08 10:00") and row.params["address"] == branch.address
    with pytest.raises(MarketingError):
        consultations.consultation_sms(actor=consultant, consultation=c)
    assert Outbox.objects.filter(template_key="marketing.consultation_booked").count() == 1


def test_the_address_alone_is_marketing_and_needs_consent(
    consultant, front_desk, branch, phone_channel, member, clock
):
    c = log(consultant, branch, phone_channel, member=member)
    with pytest.raises(MarketingError) as err:
        consultations.consultation_sms(actor=consultant, consultation=c)
    assert err.value.code == "no_consent"
    consent_grant(actor=front_desk, member=member, kind=ConsentKind.MARKETING_SMS, channel="paper")
    row = consultations.consultation_sms(actor=consultant, consultation=c)
    assert (row.template_key, row.purpose) == ("marketing.consultation_address", "marketing")


def test_arrival_stamps_the_consultation_and_tells_the_consultant_once(
    consultant,
    front_desk,
    branch,
    phone_channel,
    member,
    service,
    doc,
    clock,
    django_capture_on_commit_callbacks,
):
    c = log(consultant, branch, phone_channel, member=member)
    appt = book_from(consultant, c, branch, service, doc)
    clock.move_to(at(1, 9, 55))
    arrive(front_desk, appt, django_capture_on_commit_callbacks)
    c.refresh_from_db()
    assert c.arrived_on == dt.date(2026, 12, 8)
    notice = ArrivalNotice.objects.get()
    assert (notice.consultant, notice.appointment_id, notice.seen_at) == (consultant, appt.pk, None)
    consultations.consultation_arrival_record(appointment=appt)  # a re-delivered signal
    assert ArrivalNotice.objects.count() == 1
    assert consultations.arrival_notices_seen(actor=consultant) == 1


def test_a_person_booked_another_way_arrives_on_their_latest_consultation(
    consultant,
    front_desk,
    branch,
    phone_channel,
    member,
    service,
    doc,
    clock,
    django_capture_on_commit_callbacks,
):
    old = log(consultant, branch, phone_channel, member=member, at=at(-10, 9))
    c = log(consultant, branch, phone_channel, member=member)
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
    arrive(front_desk, appt, django_capture_on_commit_callbacks)
    c.refresh_from_db()
    old.refresh_from_db()
    assert (c.appointment_id, c.booked_on, c.arrived_on) == (
        appt.pk,
        dt.date(2026, 12, 7),
        dt.date(2026, 12, 7),
    )
    assert old.arrived_on is None


def test_the_front_desk_sees_the_consultation_on_the_today_board(
    consultant,
    front_desk,
    branch,
    phone_channel,
    member,
    service,
    doc,
    clock,
    django_capture_on_commit_callbacks,
):
    c = log(consultant, branch, phone_channel, member=member, question="牙龈出血想洗牙", services=[service])
    appt = appt_services.appointment_book(
        actor=front_desk,
        branch=branch,
        member=member,
        service=service,
        doctor=doc,
        start=at(0, 10),
        channel="phone",
    )
    page = login(front_desk).get(reverse("appointments:today"))
    html = page.content.decode()
    assert "牙龈出血想洗牙" in html and reverse("marketing:consult_detail", args=[c.pk]) in html
    clock.move_to(at(0, 9, 58))
    arrive(front_desk, appt, django_capture_on_commit_callbacks)
    detail = login(front_desk).get(reverse("appointments:detail", args=[appt.pk])).content.decode()
    assert 'data-testid="appt-arrival-notes"' in detail and "牙龈出血想洗牙" in detail


def test_the_thread_is_on_the_profile_tab_and_timeline(
    consultant, front_desk, branch, phone_channel, wechat_channel, member, clock
):
    log(consultant, branch, phone_channel, member=member, question="第一次咨询")
    log(consultant, branch, wechat_channel, member=member, question="第二次咨询")
    client = login(front_desk)
    tab = client.get(reverse("members:detail", args=[member.pk]) + "?tab=consultations").content.decode()
    assert tab.index("第二次咨询") < tab.index("第一次咨询")
    overview = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "第二次咨询" in overview


def test_views_log_a_new_caller_and_refuse_outsiders(
    consultant, front_desk, outsider, branch, phone_channel, clock
):
    client = login(consultant)
    response = client.post(
        reverse("marketing:consult_new"),
        {
            "lead_name": "赵六",
            "lead_phone": "13911112222",
            "channel": phone_channel.pk,
            "outcome": "considering",
        },
    )
    c = Consultation.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "marketing:consult_detail", args=[c.pk]
    )
    assert login(outsider).get(reverse("marketing:consult_detail", args=[c.pk])).status_code == 404
    assert login(front_desk).get(reverse("marketing:consult_detail", args=[c.pk])).status_code == 200
    assert login(front_desk).post(reverse("marketing:consult_edit", args=[c.pk]), {}).status_code == 403
    bad = client.post(reverse("marketing:consult_new"), {"channel": phone_channel.pk, "outcome": "price"})
    assert bad.status_code == 200 and Consultation.objects.count() == 1


def test_the_consultants_page(
    consultant, branch, phone_channel, member, service, doc, clock, django_assert_max_num_queries
):
    log(
        consultant, branch, phone_channel, member=member, next_step="回电", next_step_due=dt.date(2026, 12, 7)
    )
    c = log(consultant, branch, phone_channel, member=make_member(branch, name="钱七", phone="13900003333"))
    book_from(consultant, c, branch, service, doc)
    from marketing.consultation_selectors import consultant_page

    figures = consultant_page(consultant)
    assert figures["today"] == {"consultations": 2, "booked": 1, "arrived": 0, "paid": 0}
    assert figures["conversion"]["booked"] == 50
    assert [d.next_step for d in figures["due"]] == ["回电"] and figures["due"][0].due_today
    client = login(consultant)
    with django_assert_max_num_queries(20):
        html = client.get(reverse("marketing:consult_mine")).content.decode()
    assert 'data-testid="today-consultations">2<' in html and "回电" in html


def test_the_list_is_scoped_and_its_queries_capped(
    consultant, consultant2, manager, branch, phone_channel, member, clock, django_assert_max_num_queries
):
    for _ in range(5):
        log(consultant, branch, phone_channel, member=member)
    log(consultant2, branch, phone_channel, member=member, question="别人的")
    client = login(consultant)
    client.get(reverse("marketing:consult_list"))  # the session's first request
    with django_assert_max_num_queries(14):
        mine = client.get(reverse("marketing:consult_list")).content.decode()
    assert mine.count('data-testid="outcome"') == 5
    branch_wide = login(manager).get(reverse("marketing:consult_list")).content.decode()
    assert branch_wide.count('data-testid="outcome"') == 6
    found = login(manager).get(reverse("marketing:consult_list") + "?q=别人").content.decode()
    assert found.count('data-testid="outcome"') == 1
