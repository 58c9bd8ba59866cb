"""Paying a visit from the member's stored value (会员余额): alone or with another method, the
paid part first; not enough balance fails the whole checkout; a void restores the balance;
the receipt shows what the balance paid and what is left."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.urls import reverse

from appointments import checkout, services
from appointments.errors import AppointmentError
from appointments.models import Payment, VisitStatus
from loyalty import services as loyalty
from loyalty.models import StoredValueAccount, StoredValueBonusRule, StoredValueEntry

from .factories import at, book

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(doc, branch, member, service, front_desk, clock):
    appt = book(front_desk, branch, member, service, doc, at(0, 10))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    appt = services.appointment_start_treatment(actor=front_desk, appointment=appt)
    checkout.charge_line_add(actor=front_desk, visit=appt.visit, item=service)  # ¥280
    return appt.visit


@pytest.fixture
def funded(member, front_desk):
    StoredValueBonusRule.objects.create(name="充200送20", threshold=D("200"), bonus=D("20"))
    loyalty.stored_value_top_up(
        actor=front_desk, member=member, amount=D("200"), method="cash", idempotency_key="t"
    )
    return member


def balance(member):
    a = StoredValueAccount.objects.get(member=member, is_open=True)
    return a.paid_balance, a.bonus_balance


def test_split_payment_balance_and_wechat(visit, funded, front_desk):
    v = checkout.visit_checkout(
        actor=front_desk,
        visit=visit,
        payments=[("member_balance", D("210")), ("wechat_pay", D("70"))],
        checkout_key="k",
    )
    assert v.status == VisitStatus.CHECKED_OUT
    assert balance(funded) == (D("0"), D("10"))  # paid part first, then 10 of the bonus
    spend = StoredValueEntry.objects.get(idempotency_key=f"visit:{v.pk}:stored_value")
    assert (spend.paid, spend.bonus, spend.source_key) == (D("-200"), D("-10"), f"visit:{v.pk}")
    # a double submit with the same key spends nothing more
    checkout.visit_checkout(
        actor=front_desk,
        visit=v,
        payments=[("member_balance", D("210")), ("wechat_pay", D("70"))],
        checkout_key="k",
    )
    assert balance(funded) == (D("0"), D("10"))


def test_not_enough_balance_fails_the_whole_checkout(visit, funded, front_desk):
    with pytest.raises(AppointmentError) as exc:
        checkout.visit_checkout(
            actor=front_desk, visit=visit, payments=[("member_balance", D("280"))], checkout_key="k"
        )
    assert exc.value.field == "payments" and "¥220.00" in str(exc.value.message)
    visit.refresh_from_db()
    assert visit.status == VisitStatus.OPEN
    assert not Payment.objects.filter(visit=visit).exists()
    assert balance(funded) == (D("200"), D("20"))


def test_balance_without_an_account_is_refused(visit, front_desk):
    with pytest.raises(AppointmentError) as exc:
        checkout.visit_checkout(
            actor=front_desk, visit=visit, payments=[("member_balance", D("280"))], checkout_key="k"
        )
    assert exc.value.field == "payments"


def test_void_restores_the_balance(visit, funded, front_desk, manager):
    v = checkout.visit_checkout(
        actor=front_desk,
        visit=visit,
        payments=[("member_balance", D("210")), ("cash", D("70"))],
        checkout_key="k",
    )
    checkout.visit_void(actor=manager, visit=v, reason="收错了")
    assert balance(funded) == (D("200"), D("20"))
    restore = StoredValueEntry.objects.get(idempotency_key=f"visit:{v.pk}:stored_value:restore")
    assert restore.reason == "收错了"
    assert loyalty.stored_value_drift_rows() == []


def test_receipt_shows_the_balance_paid_and_left(client_for, visit, funded, front_desk):
    checkout.visit_checkout(
        actor=front_desk,
        visit=visit,
        payments=[("member_balance", D("100")), ("wechat_pay", D("180"))],
        checkout_key="k",
    )
    html = client_for(front_desk).get(reverse("appointments:receipt", args=[visit.pk])).content.decode()
    assert 'data-testid="receipt-stored-value"' in html and "¥100.00" in html
    assert 'data-testid="receipt-balance-left"' in html and "¥120.00" in html  # 100 paid + 20 bonus


def test_checkout_form_shows_the_balance_available(client_for, visit, funded, front_desk):
    html = client_for(front_desk).get(reverse("appointments:visit", args=[visit.pk])).content.decode()
    assert 'data-testid="checkout-stored-value"' in html and "¥220.00" in html
