"""Make-goods through loyalty's services: a coupon or points at once up to the limit, above
it (or any refund) after a manager approves; the bad-survey signal opens a complaint."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import time_machine
from django.test import TestCase

from complaints import services
from complaints.errors import ComplaintError
from complaints.models import Complaint, MakeGoodStatus
from loyalty import services as loyalty
from loyalty.coupon_models import CouponTemplate
from loyalty.models import PointsAccount

from .helpers import FRIDAY, receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def member(clock, person):
    loyalty.membership_enrol(actor=None, member=person, branch=person.branch)
    return person


def template(amount: str) -> CouponTemplate:
    return CouponTemplate.objects.create(
        name=f"致歉券{amount}", kind="amount", amount_off=D(amount), valid_days=90
    )


def balance(member) -> int:
    return PointsAccount.objects.get(member=member, is_open=True).balance


def test_small_coupon_is_given_at_once(clock, customer_service, branch, member):
    c = receive(customer_service, branch, member)
    mg = services.make_good_request(
        actor=customer_service, complaint=c, kind="coupon", coupon_template=template("50")
    )
    assert mg.status == MakeGoodStatus.GIVEN and mg.coupon.member == member
    assert mg.coupon.issue_key == f"complaint:{c.pk}:make_good:{mg.pk}"


def test_points_over_the_limit_wait_for_the_manager(clock, customer_service, manager, branch, member):
    c = receive(customer_service, branch, member)
    before = balance(member)
    mg = services.make_good_request(actor=customer_service, complaint=c, kind="points", points=20_000)  # ¥200
    assert mg.status == MakeGoodStatus.PENDING and balance(member) == before
    with pytest.raises(ComplaintError):
        services.make_good_approve(actor=customer_service, make_good=mg)
    with pytest.raises(ComplaintError):  # cannot resolve with a make-good pending
        services.complaint_resolve(actor=customer_service, complaint=c)
    services.make_good_approve(actor=manager, make_good=mg)
    mg.refresh_from_db()
    assert mg.status == MakeGoodStatus.GIVEN and mg.approved_by == manager
    assert balance(member) == before + 20_000
    with pytest.raises(ComplaintError):
        services.make_good_approve(actor=manager, make_good=mg)


def test_rejected_make_good(clock, customer_service, manager, branch, member):
    c = receive(customer_service, branch, member)
    mg = services.make_good_request(
        actor=customer_service, complaint=c, kind="coupon", coupon_template=template("500")
    )
    services.make_good_reject(actor=manager, make_good=mg, reason="金额过高")
    mg.refresh_from_db()
    assert mg.status == MakeGoodStatus.REJECTED and mg.coupon is None


def test_make_good_needs_a_person_and_a_visit_for_refunds(clock, customer_service, branch):
    c = receive(customer_service, branch, None, contact_name="匿名", contact_phone="13912345678")
    with pytest.raises(ComplaintError):
        services.make_good_request(actor=customer_service, complaint=c, kind="points", points=100)
    with pytest.raises(ComplaintError):
        services.make_good_request(actor=customer_service, complaint=c, kind="refund", amount=D("10"))


def test_bad_survey_answer_opens_a_complaint_once(clock, branch, member, doctor):
    from complaints.receivers import on_survey_bad_answer

    class Response:
        pk = 991
        branch = member.branch
        invitation = None
        doctor_score, front_desk_score, waiting_score, environment_score = 4, 4, 1, 5
        nps = 3
        comment = "等了一个小时"
        answered_at = FRIDAY

    Response.member = member
    Response.doctor = doctor
    from followups.recall_models import SurveyResponse

    Response._meta = SurveyResponse._meta
    with TestCase.captureOnCommitCallbacks(execute=True):
        on_survey_bad_answer(sender=None, response=Response())
        on_survey_bad_answer(sender=None, response=Response())
    c = Complaint.objects.get(source_key="survey:991")
    assert c.channel == "survey" and c.category == "waiting" and c.staff is None
    assert c.description == "等了一个小时"


def test_receiver_is_connected():
    from followups.signals import survey_bad_answer

    assert any("complaints" in str(r[0]) for r in survey_bad_answer.receivers)
