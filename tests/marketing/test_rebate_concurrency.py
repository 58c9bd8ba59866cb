"""Rebates under concurrency on real PostgreSQL: two deliveries of the same checkout at once
write one rebate (the visit row lock, then the unique key), and a checkout racing the month's
settlement never adds a line to a settled statement."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
import time_machine
from django.db import connection

from marketing import rebates
from marketing.models import Rebate, Statement

from .partner_fixtures import *  # noqa: F403
from .partner_fixtures import local, paid_visit, term

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(*fns):
    barrier = threading.Barrier(len(fns))
    errors = []

    def wrap(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_two_deliveries_at_once_write_one_rebate(partner, sent, marketer, front_desk, doc, cleaning):
    from appointments.signals import visit_completed
    from marketing import partner_receivers

    term(marketer, partner, kind="percent", percent=D("10"))
    visit_completed.disconnect(dispatch_uid="marketing.rebates.accrue")
    try:
        visit = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 10))
    finally:
        partner_receivers.connect()
    assert not Rebate.objects.exists()
    errors = run_together(*[lambda: rebates.rebates_accrue(visit=visit)] * 4)
    assert errors == []
    assert Rebate.objects.filter(visit=visit).count() == 1
    assert Statement.objects.get(partner=partner).total == D("30.00")


def test_a_checkout_racing_the_settlement_lands_on_an_open_month(
    partner, sent, marketer, front_desk, doc, cleaning, manager
):
    from appointments.signals import visit_completed
    from marketing import partner_receivers

    term(marketer, partner, kind="percent", percent=D("10"))
    paid_visit(front_desk, doc, sent, [cleaning], local(2026, 10, 20))
    visit_completed.disconnect(dispatch_uid="marketing.rebates.accrue")
    try:
        late = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 10, 21))
    finally:
        partner_receivers.connect()
    october = Statement.objects.get(partner=partner)
    with time_machine.travel(local(2026, 11, 3), tick=False):
        errors = run_together(
            lambda: rebates.statement_settle(
                actor=manager, statement=october, paid_amount=D("30"), reference="r"
            ),
            lambda: rebates.rebates_accrue(visit=late),
        )
    october.refresh_from_db()
    lines = list(Rebate.objects.filter(visit=late).values_list("statement__month", "statement__status"))
    if errors:  # the accrual went first: the settlement saw ¥60 and refused ¥30
        assert october.status == "open" and october.total == D("60.00")
    else:  # the settlement went first: the late rebate is on November
        assert october.status == "settled" and october.total == D("30.00") and october.lines.count() == 1
        assert [m.month for m, _s in lines] == [11]
