"""Rebates accrue from money actually collected at a paid checkout and reverse on a void,
once each (docs/partners.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import TestCase

from appointments.signals import visit_completed, visit_voided
from clinic.models import AuditLog
from loyalty import services as loyalty
from loyalty.models import StoredValueBonusRule
from marketing import partners, rebates
from marketing.models import Rebate, RebateEntryKind, Statement
from tests.members.factories import make_member

from .partner_fixtures import *  # noqa: F403
from .partner_fixtures import attribute, local, paid_visit, term, void

pytestmark = pytest.mark.django_db


def lines(partner):
    return list(
        Rebate.objects.filter(partner=partner)
        .order_by("id")
        .values_list("kind", "amount", "statement__month")
    )


def test_percent_of_collected_lands_on_the_month_statement(
    partner, sent, marketer, front_desk, doc, cleaning
):
    t = term(marketer, partner, kind="percent", percent=D("10"))
    visit = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 10))
    row = Rebate.objects.get(visit=visit)
    assert (row.kind, row.base, row.amount, row.term, row.idempotency_key) == (
        "accrual",
        D("300.00"),
        D("30.00"),
        t,
        f"visit:{visit.pk}:rebate:{t.pk}",
    )
    statement = Statement.objects.get(partner=partner)
    assert (statement.month, statement.total, statement.status) == (dt.date(2026, 11, 1), D("30.00"), "open")
    assert AuditLog.objects.filter(action="marketing.rebate.accrued", branch=partner.branch).count() == 1


def test_the_month_is_shanghai_time(partner, sent, marketer, front_desk, doc, cleaning):
    term(marketer, partner, kind="percent", percent=D("10"))
    # 30 November 23:30 in UTC is already 1 December in Shanghai: the clinic's day decides
    make_doctor_late = doc  # the doctor works 9–18 local: book on 1 Dec 07:30 local = 30 Nov UTC
    visit = paid_visit(front_desk, make_doctor_late, sent, [cleaning], local(2026, 12, 1, 9))
    assert Rebate.objects.get(visit=visit).statement.month == dt.date(2026, 12, 1)


def test_stored_value_bonus_is_not_collected_money(partner, sent, marketer, front_desk, doc, cleaning):
    term(marketer, partner, kind="percent", percent=D("10"))
    StoredValueBonusRule.objects.create(name="充200送100", threshold=D("200"), bonus=D("100"))
    loyalty.stored_value_top_up(
        actor=front_desk, member=sent, amount=D("200"), method="cash", idempotency_key="t"
    )
    # ¥300 paid from the balance: ¥200 the person paid at top-up, ¥100 the clinic's bonus
    visit = paid_visit(
        front_desk, doc, sent, [cleaning], local(2026, 11, 10), payments=[("member_balance", D("300"))]
    )
    row = Rebate.objects.get(visit=visit)
    assert (row.base, row.amount) == (D("200.00"), D("20.00"))


def test_a_visit_paid_mostly_with_bonus_rebates_on_the_own_part(
    partner, sent, marketer, front_desk, doc, cleaning
):
    term(marketer, partner, kind="fixed", amount=D("100"))
    StoredValueBonusRule.objects.create(name="充1送300", threshold=D("1"), bonus=D("300"))
    loyalty.stored_value_top_up(
        actor=front_desk, member=sent, amount=D("1"), method="cash", idempotency_key="t"
    )
    # ¥300 from the balance: ¥1 of the person's own money (paid part first), ¥299 bonus
    visit = paid_visit(
        front_desk, doc, sent, [cleaning], local(2026, 11, 10), payments=[("member_balance", D("300"))]
    )
    row = Rebate.objects.get(visit=visit)  # ¥1 was the person's own money: a paid visit
    assert (row.base, row.amount) == (D("1.00"), D("100.00"))


def test_category_term_beats_all_categories_and_latest_start_wins(
    partner, sent, marketer, front_desk, doc, cleaning, implant
):
    term(marketer, partner, kind="percent", percent=D("5"))  # all categories since January
    newer_all = term(marketer, partner, kind="percent", percent=D("6"), valid_from=dt.date(2026, 6, 1))
    implants = term(marketer, partner, kind="percent", percent=D("15"), category=implant.category)
    visit = paid_visit(front_desk, doc, sent, [cleaning, implant], local(2026, 11, 10))
    got = {r.term_id: (r.base, r.amount) for r in Rebate.objects.filter(visit=visit)}
    assert got == {
        implants.pk: (D("6000.00"), D("900.00")),  # the implant line: its category's own term
        newer_all.pk: (D("300.00"), D("18.00")),  # the cleaning: the newer all-categories term
    }
    # each statement line names the services its rebate was earned on
    assert {r.term_id: r.services for r in Rebate.objects.filter(visit=visit)} == {
        implants.pk: "种植体",
        newer_all.pk: "超声洁牙",
    }


def test_discounted_lines_rebate_on_the_net(partner, sent, marketer, front_desk, doc, cleaning, manager):
    term(marketer, partner, kind="percent", percent=D("10"))
    when = local(2026, 11, 10)
    from appointments import checkout, services

    with time_machine.travel(when - dt.timedelta(hours=1), tick=False):
        appt = services.appointment_book(
            actor=front_desk,
            branch=sent.branch,
            member=sent,
            service=cleaning,
            doctor=doc,
            start=when,
            channel="phone",
        )
    with time_machine.travel(when, tick=False):
        services.appointment_check_in(actor=front_desk, appointment=appt)
        appt = services.appointment_start_treatment(actor=front_desk, appointment=appt)
        checkout.charge_line_add(actor=front_desk, visit=appt.visit, item=cleaning)
        with TestCase.captureOnCommitCallbacks(execute=True):
            visit = checkout.visit_checkout(
                actor=manager,
                visit=appt.visit,
                payments=[("cash", D("250"))],
                checkout_key="m",
                manual_discount=D("50"),
                manual_reason="老客户",
            )
    assert Rebate.objects.get(visit=visit).amount == D("25.00")


def test_terms_apply_only_within_their_dates(partner, sent, marketer, front_desk, doc, cleaning):
    term(marketer, partner, kind="percent", percent=D("10"), valid_from=dt.date(2026, 11, 11))
    early = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 10))
    assert not Rebate.objects.filter(visit=early).exists()
    t = Rebate.objects.none()
    ended = partners.rebate_term_end(actor=marketer, term=partner.terms.get(), last_day=dt.date(2026, 11, 20))
    inside = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 20, 17))
    after = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 21))
    assert Rebate.objects.filter(visit=inside, term=ended).exists()
    assert not Rebate.objects.filter(visit=after).exists()
    assert not t


def test_fixed_amount_only_for_the_first_paid_visit(partner, sent, marketer, front_desk, doc, cleaning):
    t = term(marketer, partner, kind="fixed", amount=D("200"))
    first = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 10))
    second = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 12))
    assert [(r.visit_id, r.amount) for r in Rebate.objects.filter(term=t)] == [(first.pk, D("200.00"))]
    assert not Rebate.objects.filter(visit=second).exists()


def test_a_patient_who_paid_before_the_partner_earns_no_first_visit_rebate(
    branch, partner, marketer, front_desk, doc, cleaning
):
    term(marketer, partner, kind="fixed", amount=D("200"))
    member = make_member(branch, name="王五", phone="13900003333")
    paid_visit(front_desk, doc, member, [cleaning], local(2026, 10, 10))
    attribute(member, partner)
    later = paid_visit(front_desk, doc, member, [cleaning], local(2026, 11, 10))
    assert not Rebate.objects.filter(visit=later).exists()


def test_no_partner_or_inactive_partner_earns_nothing(
    branch, partner, sent, marketer, front_desk, doc, cleaning
):
    term(marketer, partner, kind="percent", percent=D("10"))
    stranger = make_member(branch, name="赵六", phone="13900004444")
    paid_visit(front_desk, doc, stranger, [cleaning], local(2026, 11, 10))
    partners.partner_update(actor=marketer, partner=partner, is_active=False)
    paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 11))
    assert not Rebate.objects.exists()


def test_redelivered_signal_and_double_submit_create_one_rebate(
    partner, sent, marketer, front_desk, doc, cleaning
):
    term(marketer, partner, kind="percent", percent=D("10"))
    visit = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 10), key="same")
    for _ in range(3):
        visit_completed.send(sender=type(visit), visit=visit)
    from appointments import checkout

    with TestCase.captureOnCommitCallbacks(execute=True):
        checkout.visit_checkout(
            actor=front_desk, visit=visit, payments=[("wechat_pay", D("300"))], checkout_key="same"
        )
    assert Rebate.objects.filter(visit=visit).count() == 1
    assert Statement.objects.get(partner=partner).total == D("30.00")


def test_the_key_is_unique_in_the_database(partner, sent, marketer, front_desk, doc, cleaning):
    term(marketer, partner, kind="percent", percent=D("10"))
    visit = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 10))
    row = Rebate.objects.get(visit=visit)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rebate.objects.create(
            partner=partner,
            statement=row.statement,
            kind="accrual",
            amount=D("1"),
            idempotency_key=row.idempotency_key,
        )


def test_rebate_rows_are_append_only(partner, sent, marketer, front_desk, doc, cleaning):
    term(marketer, partner, kind="percent", percent=D("10"))
    visit = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 10))
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 — pgtrigger's ProtectedError
        Rebate.objects.filter(visit=visit).update(amount=D("99"))
    assert Rebate.objects.get(visit=visit).amount == D("30.00")


def test_void_in_the_same_month_nets_to_zero_once(
    partner, sent, marketer, front_desk, doc, cleaning, manager
):
    term(marketer, partner, kind="percent", percent=D("10"))
    visit = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 10))
    void(manager, visit, local(2026, 11, 11))
    visit_voided.send(sender=type(visit), visit=visit)  # re-delivered
    rebates.rebates_reverse(visit=visit)
    nov = dt.date(2026, 11, 1)
    assert lines(partner) == [("accrual", D("30.00"), nov), ("reversal", D("-30.00"), nov)]
    assert Statement.objects.get(partner=partner).total == D("0.00")
    reversal = Rebate.objects.get(kind=RebateEntryKind.REVERSAL)
    assert reversal.idempotency_key == f"visit:{visit.pk}:rebate:{reversal.term_id}:reversal"
    # and a completed signal after the void creates nothing new
    visit_completed.send(sender=type(visit), visit=visit)
    assert Rebate.objects.count() == 2


def test_void_after_settlement_lands_on_the_next_statement(
    partner, sent, marketer, front_desk, doc, cleaning, manager
):
    term(marketer, partner, kind="percent", percent=D("10"))
    visit = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 10, 20))
    october = Statement.objects.get(partner=partner)
    with time_machine.travel(local(2026, 11, 3), tick=False):
        rebates.statement_settle(actor=manager, statement=october, paid_amount=D("30"), reference="转账 001")
    void(manager, visit, local(2026, 11, 15))
    october.refresh_from_db()
    assert (october.status, october.total, october.lines.count()) == ("settled", D("30.00"), 1)
    november = Statement.objects.get(partner=partner, month=dt.date(2026, 11, 1))
    assert (november.total, [line.kind for line in november.lines.all()]) == (D("-30.00"), ["reversal"])


def test_void_of_an_unsettled_older_month_stays_on_that_month(
    partner, sent, marketer, front_desk, doc, cleaning, manager
):
    term(marketer, partner, kind="percent", percent=D("10"))
    visit = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 10, 20))
    void(manager, visit, local(2026, 11, 15))
    assert {m for _k, _a, m in lines(partner)} == {dt.date(2026, 10, 1)}


def test_a_late_accrual_into_a_settled_month_goes_to_the_next(
    partner, sent, marketer, front_desk, doc, cleaning, manager
):
    term(marketer, partner, kind="percent", percent=D("10"))
    visit = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 10, 20))
    other = make_member(sent.branch, name="钱七", phone="13900005555")
    attribute(other, partner)
    from marketing import partner_receivers

    partner_receivers.connect()
    from appointments.signals import visit_completed as signal

    signal.disconnect(dispatch_uid="marketing.rebates.accrue")  # the signal is "lost" for a while
    try:
        late = paid_visit(front_desk, doc, other, [cleaning], local(2026, 10, 21))
    finally:
        partner_receivers.connect()
    with time_machine.travel(local(2026, 11, 3), tick=False):
        rebates.statement_settle(
            actor=manager,
            statement=Statement.objects.get(partner=partner),
            paid_amount=D("30"),
            reference="r",
        )
        rebates.rebates_accrue(visit=late)  # delivered again after settlement
    assert lines(partner) == [
        ("accrual", D("30.00"), dt.date(2026, 10, 1)),
        ("accrual", D("30.00"), dt.date(2026, 11, 1)),
    ]
    assert visit


def test_first_visit_rebate_moves_to_the_next_paid_visit_when_the_first_is_voided(
    partner, sent, marketer, front_desk, doc, cleaning, manager
):
    t = term(marketer, partner, kind="fixed", amount=D("200"))
    first = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 10))
    second = paid_visit(front_desk, doc, sent, [cleaning], local(2026, 11, 12))
    void(manager, first, local(2026, 11, 13))
    assert [(r.visit_id, r.kind, r.amount) for r in Rebate.objects.filter(term=t).order_by("id")] == [
        (first.pk, "accrual", D("200.00")),
        (first.pk, "reversal", D("-200.00")),
        (second.pk, "accrual", D("200.00")),
    ]


def test_partial_refund_reverses_in_proportion_then_a_void_reverses_the_rest(
    partner, sent, marketer, front_desk, doc, cleaning, implant, manager
):
    """``rebates_refund`` is what appointments' partial refund (``visit_refund``) will call."""
    term(marketer, partner, kind="percent", percent=D("10"))
    visit = paid_visit(front_desk, doc, sent, [cleaning, implant], local(2026, 11, 10))  # ¥6,300 → ¥630
    first = rebates.rebates_refund(visit=visit, refunded=D("2100"), refund_key="r1")
    again = rebates.rebates_refund(visit=visit, refunded=D("2100"), refund_key="r1")  # re-delivered
    assert [(r.base, r.amount) for r in first] == [(D("-2100.00"), D("-210.00"))] and again == []
    void(manager, visit, local(2026, 11, 12))
    rows = list(
        Rebate.objects.filter(visit=visit).order_by("id").values_list("kind", "amount", "idempotency_key")
    )
    key = rows[0][2]
    assert rows == [
        ("accrual", D("630.00"), key),
        ("reversal", D("-210.00"), f"{key}:refund:r1"),
        ("reversal", D("-420.00"), f"{key}:reversal"),
    ]
    assert Statement.objects.get(partner=partner).total == D("0.00")
