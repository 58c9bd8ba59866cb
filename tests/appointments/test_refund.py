"""``visit_refund``: supervisors only, a negative payment per method, points reversed in
proportion through the ledger, ``visit_refunded`` that partner rebates reverse in proportion
to, audited, shown on the receipt; a later void reverses only what is left."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import time_machine
from django.test import TestCase

from appointments import checkout
from appointments.errors import AppointmentError
from clinic.models import AuditLog
from loyalty import services as loyalty
from loyalty.models import PointsAccount
from marketing.models import Rebate
from tests.marketing.partner_fixtures import *  # noqa: F403
from tests.marketing.partner_fixtures import local, paid_visit, term, void

pytestmark = pytest.mark.django_db


def refund(actor, visit, amount, reason="投诉补偿", **kw):
    with (
        time_machine.travel(local(2026, 11, 11), tick=False),
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        return checkout.visit_refund(actor=actor, visit=visit, amount=D(amount), reason=reason, **kw)


@pytest.fixture
def member_visit(partner, sent, marketer, front_desk, doc, cleaning, implant):
    with time_machine.travel(local(2026, 11, 1), tick=False):
        loyalty.membership_enrol(actor=None, member=sent, branch=sent.branch)
    term(marketer, partner, kind="percent", percent=D("10"))
    return paid_visit(front_desk, doc, sent, [cleaning, implant], local(2026, 11, 10))  # ¥6,300


def balance(member) -> int:
    return PointsAccount.objects.get(member=member, is_open=True).balance


def test_only_supervisors_refund(member_visit, front_desk):
    with pytest.raises(AppointmentError) as err:
        refund(front_desk, member_visit, "100")
    assert err.value.code == "forbidden"


def test_bad_amounts_and_reason(member_visit, manager):
    for amount, reason in (("0", "x"), ("-5", "x"), ("99999", "x"), ("10", " ")):
        with pytest.raises(AppointmentError):
            refund(manager, member_visit, amount, reason)
    assert not member_visit.payments.filter(amount__lt=0).exists()


def test_partial_refund_reverses_points_and_rebates_in_proportion(member_visit, manager, sent):
    earned = member_visit.points_earned
    assert earned > 0
    before = balance(sent)
    rows = refund(manager, member_visit, "2100", refund_key="complaint:1")
    assert [(r.method, r.amount) for r in rows] == [("wechat_pay", D("-2100.00"))]
    paid = member_visit.amount_paid  # ¥6,285 after the member's tier discount on basic care
    assert balance(sent) == before - round(earned * D(2100) / paid)
    reversal = Rebate.objects.get(visit=member_visit, kind="reversal")
    assert reversal.amount == D("-210.00")
    assert (
        AuditLog.objects.filter(action="appointments.visit.refunded", target_id=str(member_visit.pk)).count()
        == 1
    )
    # The same key again (a double submit) changes nothing.
    assert refund(manager, member_visit, "2100", refund_key="complaint:1") == []
    assert checkout.visit_net_paid(member_visit) == paid - D("2100.00")


def test_a_void_after_a_refund_reverses_only_what_is_left(member_visit, manager, sent):
    before = balance(sent)
    refund(manager, member_visit, "2100")
    refund(manager, member_visit, "1000")
    void(manager, member_visit, local(2026, 11, 12))
    assert checkout.visit_net_paid(member_visit) == D("0.00")
    assert balance(sent) == before - member_visit.points_earned
    assert sum(Rebate.objects.filter(visit=member_visit).values_list("amount", flat=True)) == D("0.00")


def test_the_receipt_shows_the_refund(member_visit, manager, client_for):
    refund(manager, member_visit, "300", reason="补偿候诊")
    response = client_for(manager).get(f"/appointments/visits/{member_visit.pk}/receipt/")
    assert "补偿候诊" in response.content.decode()
