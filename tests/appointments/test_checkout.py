"""Visits: charge lines with FDI teeth, checkout in one transaction (idempotent), void."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from appointments import checkout, services
from appointments.errors import AppointmentError
from appointments.models import Payment, Status, VisitStatus
from appointments.signals import visit_completed, visit_voided
from clinic.models import AuditLog
from members.models import Member, Stage
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory
from tests.pdf_checks import pdf_text, render_without_system_fonts

from .factories import at, book

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(doc, branch, member, service, front_desk, clock):
    appt = book(front_desk, branch, member, service, doc, at(0, 10))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    appt = services.appointment_start_treatment(actor=front_desk, appointment=appt)
    return appt.visit


@pytest.fixture
def filling(db):
    cat = ServiceCategoryFactory(code="ENDO", name="牙体牙髓")
    return ServiceItemFactory(code="EN01", name="树脂补牙", category=cat, price="400.00", duration_minutes=40)


def pay(actor, visit, amount, key="k1", **kw):
    return checkout.visit_checkout(
        actor=actor, visit=visit, payments=[("wechat_pay", Decimal(amount))], checkout_key=key, **kw
    )


def test_charge_lines_with_fdi_teeth(visit, filling, front_desk):
    line = checkout.charge_line_add(actor=front_desk, visit=visit, item=filling, quantity=2, teeth=[16, 26])
    assert (line.teeth, line.list_amount) == ([16, 26], Decimal("800.00"))
    checkout.charge_line_add(actor=front_desk, visit=visit, item=filling, teeth=[55])  # a primary tooth
    for bad in (19, 10, 49, 56, 91, 9):
        with pytest.raises(AppointmentError) as err:
            checkout.charge_line_add(actor=front_desk, visit=visit, item=filling, teeth=[bad])
        assert err.value.field == "teeth"


def test_checkout_records_payment_completes_and_moves_a_lead_to_patient(
    visit, service, filling, front_desk, django_capture_on_commit_callbacks
):
    Member.objects.filter(pk=visit.member_id).update(stage=Stage.LEAD)
    visit.member.refresh_from_db()
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    checkout.charge_line_add(actor=front_desk, visit=visit, item=filling, teeth=[36])
    fired = []
    visit_completed.connect(lambda sender, visit, **kw: fired.append(visit.pk), weak=False, dispatch_uid="t1")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            v = checkout.visit_checkout(
                actor=front_desk,
                visit=visit,
                payments=[("wechat_pay", Decimal("500")), ("cash", Decimal("180"))],
                checkout_key="abc",
            )
    finally:
        visit_completed.disconnect(dispatch_uid="t1")
    assert (v.status, v.list_total, v.amount_due, v.amount_paid) == (
        VisitStatus.CHECKED_OUT,
        Decimal("680.00"),
        Decimal("680.00"),
        Decimal("680.00"),
    )
    assert fired == [v.pk]
    assert v.appointment.status == Status.COMPLETED
    person = Member.objects.get(pk=v.member_id)
    assert person.stage == Stage.PATIENT and person.last_visit_at == v.checked_out_at
    assert AuditLog.objects.filter(action="appointments.visit.checked_out", target_id=str(v.pk)).exists()
    assert v.appointment.events.filter(action="checked_out").exists()


def test_payments_must_add_up(visit, service, front_desk):
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    with pytest.raises(AppointmentError) as err:
        pay(front_desk, visit, "5166")
    assert err.value.field == "payments"
    assert "¥5,166.00" in err.value.message and "¥280.00" in err.value.message  # the one money format
    visit.refresh_from_db()
    assert visit.status == VisitStatus.OPEN and not Payment.objects.exists()


def test_an_empty_visit_cannot_be_checked_out(visit, front_desk):
    with pytest.raises(AppointmentError):
        pay(front_desk, visit, "0")


def test_double_submit_charges_once(visit, service, front_desk):
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    first = pay(front_desk, visit, "280")
    second = pay(front_desk, visit, "280")
    assert first.pk == second.pk and Payment.objects.count() == 1
    with pytest.raises(AppointmentError):
        pay(front_desk, visit, "280", key="another-form")


def test_manual_discount_needs_a_supervisor_and_a_reason(visit, service, front_desk, manager):
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    with pytest.raises(AppointmentError) as err:
        pay(front_desk, visit, "230", manual_discount=Decimal("50"), manual_reason="老客户")
    assert err.value.code == "forbidden"
    with pytest.raises(AppointmentError):
        pay(manager, visit, "230", manual_discount=Decimal("50"))
    v = pay(manager, visit, "230", manual_discount=Decimal("50"), manual_reason="老客户")
    assert (v.discount_total, v.amount_due) == (Decimal("50.00"), Decimal("230.00"))
    assert v.discounts.get().kind == "manual"


def test_manual_discount_is_bounded_by_what_is_left_to_pay(visit, service, manager):
    """A supervisor's amount off is taken exactly or refused: more than is left to pay used to
    vanish silently (¥9999 off a ¥280 visit)."""
    checkout.charge_line_add(actor=manager, visit=visit, item=service)
    with pytest.raises(AppointmentError) as err:
        pay(manager, visit, "0", manual_discount=Decimal("9999"), manual_reason="赠送")
    assert err.value.field == "manual_discount" and "¥280.00" in err.value.message
    assert not visit.payments.exists()
    v = pay(manager, visit, "0", manual_discount=Decimal("280"), manual_reason="赠送")
    assert v.amount_due == Decimal("0.00") and v.discount_total == Decimal("280.00")


def test_a_manual_discount_over_two_lines_is_one_receipt_row_saying_what_it_is(
    client_for, visit, service, filling, manager
):
    checkout.charge_line_add(actor=manager, visit=visit, item=service)
    checkout.charge_line_add(actor=manager, visit=visit, item=filling)
    v = pay(manager, visit, "580", manual_discount=Decimal("100"), manual_reason="老客户")
    assert v.discounts.count() == 2
    html = client_for(manager).get(reverse("appointments:receipt", args=[v.pk])).content.decode()
    assert html.count('data-testid="receipt-discount"') == 1
    assert "手工折扣：老客户" in html and "-¥100.00" in html


def test_a_per_tooth_item_bills_every_tooth(client_for, visit, filling, front_desk):
    filling.per_tooth = True
    filling.save(update_fields=["per_tooth"])
    line = checkout.charge_line_add(actor=front_desk, visit=visit, item=filling, teeth=[16, 26, 36])
    assert (line.quantity, line.list_amount) == (3, Decimal("1200.00"))
    with pytest.raises(AppointmentError) as err:
        checkout.charge_line_add(actor=front_desk, visit=visit, item=filling, quantity=1, teeth=[16, 26, 36])
    assert err.value.field == "quantity"
    client = client_for(front_desk)
    url = reverse("appointments:visit", args=[visit.pk])
    # The form's untouched quantity 1 follows the teeth; a different number is refused.
    client.post(url, {"line-item": filling.pk, "line-quantity": 1, "line-teeth": "11 21"})
    assert visit.lines.order_by("-id").first().quantity == 2
    r = client.post(url, {"line-item": filling.pk, "line-quantity": 2, "line-teeth": "31 41 42"})
    assert r.status_code == 200 and "按牙位收费" in r.content.decode()
    assert visit.lines.count() == 2


def test_lines_cannot_change_after_checkout(visit, service, front_desk):
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    pay(front_desk, visit, "280")
    with pytest.raises(AppointmentError):
        checkout.charge_line_add(actor=front_desk, visit=visit, item=service)


def test_void_needs_permission_and_reason_and_reverses_payments(
    visit, service, front_desk, manager, django_capture_on_commit_callbacks
):
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    pay(front_desk, visit, "280")
    with pytest.raises(AppointmentError):
        checkout.visit_void(actor=front_desk, visit=visit, reason="收错")
    with pytest.raises(AppointmentError):
        checkout.visit_void(actor=manager, visit=visit, reason="")
    fired = []
    visit_voided.connect(lambda sender, visit, **kw: fired.append(visit.pk), weak=False, dispatch_uid="t2")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            v = checkout.visit_void(actor=manager, visit=visit, reason="收错项目")
    finally:
        visit_voided.disconnect(dispatch_uid="t2")
    assert v.status == VisitStatus.VOIDED and fired == [v.pk]
    assert checkout.visit_net_paid(v) == Decimal("0.00")
    assert Payment.objects.filter(visit=v, amount__lt=0).count() == 1
    with pytest.raises(AppointmentError):
        checkout.visit_void(actor=manager, visit=v, reason="again")


def test_coupons_are_refused_until_issue_6_lands(visit, service, front_desk):
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    with pytest.raises(AppointmentError) as err:
        pay(front_desk, visit, "280", coupon_codes=["ABC123"])
    assert err.value.field == "coupons"


# --- views ---------------------------------------------------------------------------------------


def test_visit_page_add_line_checkout_and_receipt(client_for, visit, service, front_desk):
    client = client_for(front_desk)
    r = client.post(
        reverse("appointments:visit", args=[visit.pk]),
        {"line-item": service.pk, "line-quantity": 1, "line-teeth": "11 21"},
    )
    assert r.status_code == 302
    assert visit.lines.get().teeth == [11, 21]
    r = client.post(
        reverse("appointments:checkout", args=[visit.pk]),
        {"checkout_key": "x1", "method": "cash", "amount": "280.00"},
    )
    assert r["Location"] == reverse("appointments:receipt", args=[visit.pk])
    html = client.get(r["Location"]).content.decode()
    assert "¥280.00" in html
    assert 'data-testid="receipt-points"' not in html  # not a member: no 获得积分 0
    assert "021 6288 1234" in html and "+8621" not in html  # the branch phone, national format


def test_bad_tooth_number_is_a_form_error(client_for, visit, service, front_desk):
    r = client_for(front_desk).post(
        reverse("appointments:visit", args=[visit.pk]),
        {"line-item": service.pk, "line-quantity": 1, "line-teeth": "19"},
    )
    assert r.status_code == 200 and "FDI" in r.content.decode()


def test_visit_views_refuse_outsiders_and_read_only_roles(
    client_for, visit, service, outsider, customer_service, marketer
):
    assert client_for(outsider).get(reverse("appointments:visit", args=[visit.pk])).status_code == 404
    assert client_for(marketer).get(reverse("appointments:visit", args=[visit.pk])).status_code == 403
    cs = client_for(customer_service)
    assert cs.get(reverse("appointments:visit", args=[visit.pk])).status_code == 200
    assert (
        cs.post(
            reverse("appointments:visit", args=[visit.pk]), {"line-item": service.pk, "line-quantity": 1}
        ).status_code
        == 403
    )
    assert (
        cs.post(
            reverse("appointments:checkout", args=[visit.pk]),
            {"checkout_key": "x", "method": "cash", "amount": "0"},
        ).status_code
        == 403
    )
    assert cs.post(reverse("appointments:void", args=[visit.pk]), {"reason": "x"}).status_code == 403


# --- with loyalty ----------------------------------------------------------------------------------

needs_loyalty = pytest.mark.skipif(not apps.is_installed("loyalty"), reason="loyalty is not installed")


@needs_loyalty
def test_loyalty_allowance_tier_points_and_void_restores_everything(
    doc, branch, front_desk, manager, filling, clock
):
    import importlib

    from loyalty import selectors as loyalty_selectors
    from loyalty import services as loyalty
    from loyalty.models import Tier
    from tests.members.factories import make_member

    importlib.import_module("loyalty.migrations.0002_programme_and_roles").seed(
        apps, None
    )  # flushed by transaction tests
    cleaning_cat = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    cleaning = ServiceItemFactory(
        code="PV01", name="超声洁牙", category=cleaning_cat, price="280.00", duration_minutes=30
    )
    person = make_member(branch, name="钻石客")
    membership = loyalty.membership_enrol(actor=manager, member=person, branch=branch, welcome_points=0)
    loyalty.tier_override(actor=manager, member=person, tier=Tier.objects.get(code="diamond"), reason="测试")
    appt = book(front_desk, branch, person, cleaning, doc, at(0, 10))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    appt = services.appointment_start_treatment(actor=front_desk, appointment=appt)
    visit = appt.visit
    checkout.charge_line_add(actor=front_desk, visit=visit, item=cleaning)
    checkout.charge_line_add(actor=front_desk, visit=visit, item=filling)
    _lines, quote = checkout.quote(visit=visit)
    v = pay(front_desk, visit, str(quote.amount_due))
    kinds = [d.kind for d in v.discounts.all()]
    assert "allowance" in kinds  # the free cleaning
    assert v.amount_due <= Decimal("400.00")
    assert v.points_earned > 0
    assert loyalty_selectors.open_balance(person) == v.points_earned
    membership.refresh_from_db()
    remaining = {s.kind: s.remaining for s in loyalty.allowance_status(membership)}
    assert remaining["cleaning"] == 1
    checkout.visit_void(actor=manager, visit=v, reason="测试作废")
    assert loyalty_selectors.open_balance(person) == 0
    assert {s.kind: s.remaining for s in loyalty.allowance_status(membership)}["cleaning"] == 2


def test_receipt_pdf_keeps_its_chinese_on_a_machine_without_cjk_fonts(
    client_for, visit, service, front_desk, captured_html, tmp_path
):
    pytest.importorskip("weasyprint")
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    pay(front_desk, visit, "280")
    r = client_for(front_desk).get(reverse("appointments:receipt", args=[visit.pk]), {"format": "pdf"})
    assert r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert service.name in pdf_text(r.content)
    bare = render_without_system_fonts(tmp_path, **captured_html)
    for line in (service.name, visit.branch.name, "收据"):
        assert line in bare, f"{line!r} lost without system fonts"


@pytest.mark.parametrize("text", ["1²", "١١", "11 x"])
def test_tooth_numbers_are_ascii_digits(text):
    """``str.isdigit()`` is true for "1²" and Arabic-Indic digits; the parser refuses them
    with its own message instead of letting ``int()`` raise."""
    from django.core.exceptions import ValidationError

    from appointments.fdi import parse_teeth

    assert parse_teeth("１１，２１") == [11, 21]  # what a Chinese input method types
    with pytest.raises(ValidationError) as err:
        parse_teeth(text)
    assert err.value.code == "invalid_tooth"
