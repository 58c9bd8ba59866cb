"""The fault drill "a checkout interrupted between payment and points" (benchmarks/drills.py)
on the test database: the points step fails with a real database error after the payment
rows were written in the checkout's transaction; nothing of the checkout remains, a retry
checks out once, a double submit after it changes nothing."""

from __future__ import annotations

import pytest

from appointments import checkout, services
from benchmarks._drill_checks import INTERRUPT_TRIGGER, checkout_interruption_drill, checkout_problems
from loyalty import services as loyalty

from .factories import at, book

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_visit(doc, branch, member, service, front_desk, manager, clock):
    loyalty.membership_enrol(actor=manager, member=member, branch=branch, welcome_points=0)
    appt = book(front_desk, branch, member, service, doc, at(0, 10))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    visit = services.appointment_start_treatment(actor=front_desk, appointment=appt).visit
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    return visit


def test_a_checkout_interrupted_between_payment_and_points_leaves_nothing_and_retries_once(
    member_visit, front_desk
):
    from django.db import connection

    result = checkout_interruption_drill(actor=front_desk, visit=member_visit)

    assert "points step was interrupted" in result.interrupted_error
    assert result.payments_in_flight == 1  # the payment row existed when the points step failed
    assert result.problems_after_interruption == []
    assert result.problems_after_retry == []
    assert result.payments_after_retry == 1
    assert result.points_after_retry > 0
    assert result.double_submit_same_checkout
    assert result.payments_after_double_submit == 1
    assert result.drift == 0
    assert result.passed
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = %s", [INTERRUPT_TRIGGER])
        assert cursor.fetchone()[0] == 0  # the drill cleans up after itself


def test_the_reconciliation_names_a_half_written_checkout(member_visit, front_desk):
    """The check itself can fail: a payment row on an open visit is reported."""
    from decimal import Decimal

    from appointments.models import Payment

    assert checkout_problems([member_visit.pk]) == []
    Payment.objects.create(
        visit=member_visit, method="cash", amount=Decimal("10.00"), at=member_visit.opened_at
    )
    assert checkout_problems([member_visit.pk]) == [
        f"visit {member_visit.pk}: open but payments=1 purchase=0 points=no audit=0 key=None"
    ]
