"""The portal's appointments, booking, events, surveys and privacy pages: each member sees and
changes only their own (and their family's) rows; another family's ids are 404."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Appointment, Channel, Status
from appointments.services import online
from marketing import campaigns
from marketing.models import CampaignKind, CampaignSignup, SignupChannel
from members.models import PrivacyRequest
from tests.appointments.factories import at, book, make_doctor
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(at(0, 8), tick=False)
    return time_machine


@pytest.fixture
def world(branch, clock, settings):
    settings.APPOINTMENTS_PRIORITY_HOLD_TIMES = []
    cat = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    cleaning = ServiceItemFactory(
        code="PV01", name="超声洁牙", category=cat, price="280.00", duration_minutes=30, bookable_online=True
    )
    implant = ServiceItemFactory(code="IM01", name="种植", category=cat, price="9000.00", duration_minutes=60)
    doctor = make_doctor(branch, "doc_chen", "陈医生")
    return {"cleaning": cleaning, "implant": implant, "doctor": doctor, "branch": branch}


def _slot(world, day=1, member=None):
    return online.online_slots(
        service=world["cleaning"], branch=world["branch"], start_day=at(day, 0).date(), member=member
    )


def test_book_page_lists_only_bookable_services_and_free_times(member_client, world):
    page = member_client.get(reverse("portal:book"))
    text = page.content.decode()
    assert page.status_code == 200 and "超声洁牙" in text and "种植" not in text
    page = member_client.get(
        reverse("portal:book"),
        {"service": world["cleaning"].pk, "branch": world["branch"].pk, "day": "2026-12-08"},
    )
    assert page.status_code == 200 and 'data-testid="slot"' in page.content.decode()


def test_booking_a_slot_records_h5_and_shows_it_upcoming(member_client, portal_family, world):
    slot = _slot(world)[0]
    r = member_client.post(
        reverse("portal:book"),
        {
            "service": world["cleaning"].pk,
            "branch": world["branch"].pk,
            "slot": slot.key,
            "day": "2026-12-08",
        },
    )
    assert r.status_code == 302 and r["Location"] == reverse("portal:appointments")
    appt = Appointment.objects.get(member=portal_family.parent)
    assert appt.channel == Channel.H5 and appt.start == slot.start
    page = member_client.get(reverse("portal:appointments")).content.decode()
    assert "超声洁牙" in page and 'data-testid="cancel-appointment"' in page


def test_a_slot_just_taken_says_so_and_offers_the_others(member_client, world, front_desk, branch):
    from tests.members.factories import make_member

    slot = _slot(world)[0]
    book(front_desk, branch, make_member(branch, name="王五"), world["cleaning"], world["doctor"], slot.start)
    r = member_client.post(
        reverse("portal:book"),
        {
            "service": world["cleaning"].pk,
            "branch": world["branch"].pk,
            "slot": slot.key,
            "day": "2026-12-08",
        },
    )
    text = r.content.decode()
    assert r.status_code == 409 and "刚被预约" in text and 'data-testid="slot"' in text


def test_a_forged_slot_key_is_a_clear_error(member_client, world):
    r = member_client.post(
        reverse("portal:book"), {"service": world["cleaning"].pk, "branch": world["branch"].pk, "slot": "x-y"}
    )
    assert r.status_code == 409 and "请从列表中选择时间" in r.content.decode()


def test_booking_for_a_family_member_and_not_for_another_family(
    member_client, portal_family, other_family, world
):
    slot = _slot(world)[0]
    data = {"service": world["cleaning"].pk, "branch": world["branch"].pk, "slot": slot.key}
    r = member_client.post(reverse("portal:book"), {**data, "member": portal_family.child.pk})
    assert r.status_code == 302
    assert Appointment.objects.get(member=portal_family.child).channel == Channel.H5
    r = member_client.post(reverse("portal:book"), {**data, "member": other_family.parent.pk})
    assert r.status_code == 404 and not Appointment.objects.filter(member=other_family.parent).exists()
    assert member_client.get(reverse("portal:book"), {"member": other_family.child.pk}).status_code == 404


def test_cancel_and_reschedule_own_only_and_within_the_notice(
    member_client, portal_family, other_family, portal_client_for, world, clock
):
    slots = _slot(world, day=0)
    appt = online.member_appointment_book(
        actor=_actor(portal_family.parent),
        member=portal_family.parent,
        branch=world["branch"],
        service=world["cleaning"],
        start=slots[4].start,
        doctor_id=slots[4].doctor_id,
    )
    other = portal_client_for(other_family.phone)
    assert other.post(reverse("portal:appointment_cancel", args=[appt.pk])).status_code == 404
    assert other.get(reverse("portal:appointment_reschedule", args=[appt.pk])).status_code == 404
    page = member_client.get(reverse("portal:appointment_reschedule", args=[appt.pk]))
    assert page.status_code == 200
    new = next(s for s in _slot(world, day=1))
    r = member_client.post(reverse("portal:appointment_reschedule", args=[appt.pk]), {"slot": new.key})
    assert r.status_code == 302
    appt.refresh_from_db()
    assert appt.start == new.start
    clock.move_to(appt.start - dt.timedelta(minutes=90), tick=False)
    r = member_client.post(reverse("portal:appointment_cancel", args=[appt.pk]), follow=True)
    assert "小时以上" in r.content.decode()
    appt.refresh_from_db()
    assert appt.status == Status.BOOKED
    clock.move_to(appt.start - dt.timedelta(hours=3), tick=False)
    member_client.post(reverse("portal:appointment_cancel", args=[appt.pk]))
    appt.refresh_from_db()
    assert appt.status == Status.CANCELLED


def _actor(member):
    from portal.session import PortalActor

    return PortalActor(member)


def _event(branch, marketer, **kw):
    start = timezone.now() + dt.timedelta(days=3)
    return campaigns.campaign_create(
        actor=marketer, branch=branch, name=kw.pop("name", "亲子护牙日"), kind=CampaignKind.FAMILY,
        starts_at=start, ends_at=start + dt.timedelta(hours=2), **kw,
    )  # fmt: skip


def test_event_sign_up_ticket_and_cancel(
    member_client, portal_family, other_family, portal_client_for, branch, marketer
):
    event = _event(branch, marketer, capacity=5)
    page = member_client.get(reverse("portal:events")).content.decode()
    assert "亲子护牙日" in page and 'data-testid="event-signup"' in page
    r = member_client.post(reverse("portal:event_signup", args=[event.pk]))
    assert r.status_code == 302 and r["Location"] == reverse("portal:event_ticket", args=[event.pk])
    signup = CampaignSignup.objects.get(member=portal_family.parent)
    assert signup.channel == SignupChannel.H5
    ticket = member_client.get(reverse("portal:event_ticket", args=[event.pk])).content.decode()
    assert campaigns.ticket_code(signup) in ticket and "<svg" in ticket
    other = portal_client_for(other_family.phone)
    assert other.get(reverse("portal:event_ticket", args=[event.pk])).status_code == 404
    assert other.post(reverse("portal:event_cancel", args=[event.pk])).status_code == 404
    member_client.post(reverse("portal:event_cancel", args=[event.pk]))
    signup.refresh_from_db()
    assert signup.status == "cancelled"


def test_a_full_event_puts_the_member_on_the_waiting_list(member_client, portal_family, branch, marketer):
    from tests.members.factories import make_member

    event = _event(branch, marketer, capacity=1)
    campaigns.signup_create(actor=marketer, campaign=event, member=make_member(branch, name="先来"))
    r = member_client.post(reverse("portal:event_signup", args=[event.pk]), follow=True)
    assert "候补" in r.content.decode()


def test_privacy_download_and_deletion_request(member_client, portal_family, other_family):
    r = member_client.get(reverse("portal:privacy_export", args=["json"]))
    data = json.loads(b"".join(r) if r.streaming else r.content)
    assert data["profile"]["name"] == portal_family.parent.name and data["medical_included"] is True
    r = member_client.get(reverse("portal:privacy_export", args=["xlsx"]))
    assert r.content[:2] == b"PK"
    assert member_client.get("/portal/privacy/data.pdf").status_code == 404
    assert PrivacyRequest.objects.filter(member=portal_family.parent, kind="export").count() == 2
    r = member_client.post(reverse("portal:privacy_erase"), {"reason": ""})
    assert r.status_code == 400  # the box is not ticked
    r = member_client.post(
        reverse("portal:privacy_erase"), {"reason": "不再需要", "confirm": "on"}, follow=True
    )
    assert "我们将在" in r.content.decode()
    assert PrivacyRequest.objects.filter(member=portal_family.parent, kind="erasure").count() == 1
    page = member_client.get(reverse("portal:privacy")).content.decode()
    assert 'data-testid="erasure-open"' in page
    assert not PrivacyRequest.objects.filter(member=other_family.parent).exists()


def test_pages_need_a_member_session(client, world):
    for name in ("portal:appointments", "portal:book", "portal:events", "portal:surveys", "portal:privacy"):
        r = client.get(reverse(name))
        assert r.status_code == 302 and reverse("portal:login") in r["Location"], name


def test_pages_read_a_bounded_number_of_queries(member_client, world, django_assert_max_num_queries):
    for name in ("portal:appointments", "portal:events", "portal:surveys", "portal:privacy"):
        with django_assert_max_num_queries(25):
            assert member_client.get(reverse(name)).status_code == 200
    with django_assert_max_num_queries(40):
        member_client.get(
            reverse("portal:book"), {"service": world["cleaning"].pk, "branch": world["branch"].pk}
        )


def test_survey_list_and_answer(
    member_client, portal_family, other_family, portal_client_for, world, front_desk, branch
):
    from appointments import checkout, services
    from followups.models import SurveyInvitation

    appt = book(front_desk, branch, portal_family.parent, world["cleaning"], world["doctor"], at(0, 10))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    appt = services.appointment_start_treatment(actor=front_desk, appointment=appt)
    checkout.charge_line_add(actor=front_desk, visit=appt.visit, item=world["cleaning"])
    _lines, priced = checkout.quote(visit=appt.visit)
    visit = checkout.visit_checkout(
        actor=front_desk, visit=appt.visit, payments=[("wechat_pay", priced.amount_due)], checkout_key="k1"
    )
    from followups.surveys import survey_invite

    inv = survey_invite(visit=visit) or SurveyInvitation.objects.get(visit=visit)
    page = member_client.get(reverse("portal:surveys")).content.decode()
    assert 'data-testid="pending-survey"' in page
    other = portal_client_for(other_family.phone)
    assert other.get(reverse("portal:survey", args=[inv.pk])).status_code == 404
    answer = {"doctor_score": 5, "front_desk_score": 5, "environment_score": 5, "waiting_score": 4, "nps": 9}
    r = member_client.post(reverse("portal:survey", args=[inv.pk]), answer)
    assert r.status_code == 302
    assert member_client.get(reverse("portal:survey", args=[inv.pk])).status_code == 404  # answered


def test_event_survey_list_and_answer(
    member_client, portal_family, other_family, portal_client_for, branch, marketer, front_desk
):
    from followups.event_surveys import event_survey_invite
    from followups.models import EventSurveyResponse

    start = timezone.now() - dt.timedelta(hours=5)
    event = campaigns.campaign_create(
        actor=marketer, branch=branch, name="护牙讲座", kind=CampaignKind.TALK,
        starts_at=start, ends_at=start + dt.timedelta(hours=2),
    )  # fmt: skip
    signup = campaigns.checkin(actor=front_desk, campaign=event, member=portal_family.parent)
    inv = event_survey_invite(signup=signup)
    page = member_client.get(reverse("portal:surveys")).content.decode()
    assert 'data-testid="pending-event-survey"' in page and "护牙讲座" in page
    url = reverse("portal:event_survey", args=[inv.pk])
    assert portal_client_for(other_family.phone).get(url).status_code == 404
    form = member_client.get(url)
    assert form.status_code == 200 and 'name="organisation_score"' in form.content.decode()
    assert member_client.post(url, {"overall_score": 5}).status_code == 200  # incomplete: the form again
    assert not EventSurveyResponse.objects.exists()
    answer = {"overall_score": 5, "content_score": 4, "organisation_score": 5, "nps": 9, "comment": "很有用"}
    r = member_client.post(url, answer)
    assert r.status_code == 302 and r["Location"] == reverse("portal:surveys")
    assert EventSurveyResponse.objects.get().member == portal_family.parent
    assert member_client.get(url).status_code == 404  # answered
    page = member_client.get(reverse("portal:surveys")).content.decode()
    assert 'data-testid="pending-event-survey"' not in page
