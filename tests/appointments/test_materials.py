"""Materials per charge line (issue 20): defaults of the service copied when a line is added,
edited on the open visit, taken from stock FEFO at checkout (refused when expired or short),
given back on a void; an implant's lot on the person's timeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments import checkout, materials, services
from appointments.errors import AppointmentError
from appointments.models import ChargeLineMaterial, VisitStatus
from clinic.models import Role
from inventory import services as stock
from inventory.models import ItemKind, Movement, MovementKind, ServiceMaterialDefault
from tests.conftest import login
from tests.inventory.factories import expired_batch, make_item, on_hand, receive

from .factories import at, book

pytestmark = pytest.mark.django_db


@pytest.fixture
def keeper(staff_factory):
    return staff_factory(Role.STOCK_KEEPER)


@pytest.fixture
def visit(doc, branch, member, service, front_desk, clock):
    appt = book(front_desk, branch, member, service, doc, at(0, 10))
    services.appointment_check_in(actor=front_desk, appointment=appt)
    appt = services.appointment_start_treatment(actor=front_desk, appointment=appt)
    return appt.visit


@pytest.fixture
def gloves(service):
    item = make_item("GL01", "医用手套", unit="副")
    ServiceMaterialDefault.objects.create(service=service, item=item, quantity=2)
    return item


def pay(actor, visit, amount="280", key="k1"):
    return checkout.visit_checkout(
        actor=actor, visit=visit, payments=[("cash", Decimal(amount))], checkout_key=key
    )


def test_defaults_are_planned_then_taken_fefo_at_checkout_and_given_back_on_void(
    visit, service, gloves, keeper, front_desk, manager, branch
):
    late = receive(keeper, branch, gloves, lot="LATE", days=300, quantity=10).batch
    soon = receive(keeper, branch, gloves, lot="SOON", days=30, quantity=1).batch
    line = checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    (planned,) = ChargeLineMaterial.objects.filter(line=line)
    assert (planned.item_id, planned.quantity, planned.batch_id) == (gloves.pk, 2, None)
    pay(front_desk, visit)
    rows = list(ChargeLineMaterial.objects.filter(line=line).order_by("id"))
    assert [(r.batch_id, r.quantity) for r in rows] == [(soon.pk, 1), (late.pk, 1)]
    assert all(
        r.movement.charge_line_id == line.pk and r.movement.service_item_id == service.pk for r in rows
    )
    assert (on_hand(branch, soon), on_hand(branch, late)) == (0, 9)
    checkout.visit_void(actor=manager, visit=visit, reason="录错")
    assert Movement.objects.filter(kind=MovementKind.VOID_RETURN).count() == 2
    assert (on_hand(branch, soon), on_hand(branch, late)) == (1, 10)
    assert stock.drift_rows() == []


def test_checkout_is_refused_when_materials_are_short_and_nothing_is_recorded(
    visit, service, gloves, keeper, front_desk, branch
):
    receive(keeper, branch, gloves, lot="ONE", quantity=1)
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    with pytest.raises(AppointmentError) as err:
        pay(front_desk, visit)
    assert err.value.field == "materials"
    visit.refresh_from_db()
    assert visit.status == VisitStatus.OPEN and not visit.payments.exists()
    assert not Movement.objects.filter(kind=MovementKind.USE).exists()


def test_an_expired_batch_cannot_be_chosen_nor_used(visit, service, nurse, branch, front_desk):
    item = make_item("AN01", "阿替卡因", kind=ItemKind.DRUG, unit="支")
    old = expired_batch(branch, item)
    line = checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    with pytest.raises(AppointmentError) as err:
        materials.material_add(actor=nurse, line=line, item=item, quantity=1, batch=old)
    assert err.value.field == "batch"
    materials.material_add(actor=nurse, line=line, item=item, quantity=1)
    with pytest.raises(AppointmentError) as err:
        pay(front_desk, visit)
    assert err.value.code == "expired"


def test_front_desk_may_not_edit_materials_nurse_may(visit, service, gloves, nurse, front_desk, client_for):
    line = checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    url = reverse("appointments:materials", args=[visit.pk])
    data = {"line": line.pk, "item": gloves.pk, "quantity": 3}
    assert client_for(front_desk).post(url, data).status_code == 403
    response = login(nurse).post(url, data)
    assert response.status_code == 302
    assert ChargeLineMaterial.objects.get(line=line, item=gloves).quantity == 5
    material = ChargeLineMaterial.objects.get(line=line, item=gloves)
    login(nurse).post(url, {"remove": material.pk})
    assert not ChargeLineMaterial.objects.filter(line=line).exists()
    page = login(nurse).get(reverse("appointments:visit", args=[visit.pk]))
    assert b'data-testid="material-form"' in page.content


def test_an_implant_lot_shows_on_the_visit_and_the_timeline(
    visit, service, keeper, front_desk, nurse, branch
):
    from members.registry import timeline_for

    implant = make_item("IM01", "种植体 4.1×10", kind=ItemKind.IMPLANT, unit="颗")
    batch = receive(keeper, branch, implant, lot="ST-2026-07", quantity=2, cost="3200").batch
    line = checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    materials.material_add(actor=nurse, line=line, item=implant, quantity=1, batch=batch)
    pay(front_desk, visit)
    page = login(nurse).get(reverse("appointments:visit", args=[visit.pk]))
    assert "ST-2026-07" in page.content.decode()
    entries = [e for e in timeline_for(visit.member, nurse) if e.kind == "appointment.implant"]
    assert entries and "ST-2026-07" in entries[0].detail
    _ = timezone, dt


def test_usage_per_doctor_in_reports(visit, service, gloves, keeper, front_desk, manager, branch, doc):
    from reports.stock_views import usage_by_doctor

    receive(keeper, branch, gloves, quantity=10, cost="1.50")
    checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    pay(front_desk, visit)
    (row,) = usage_by_doctor(branch)
    assert (row["line__doctor__staff__full_name"], row["units"], row["cost"]) == (
        "陈医生",
        2,
        Decimal("3.00"),
    )
    assert login(manager).get(reverse("reports:stock_usage")).status_code == 200
    checkout.visit_void(actor=manager, visit=visit, reason="录错")
    assert usage_by_doctor(branch) == []


def test_tracing_finds_everyone_treated_with_a_lot(
    visit, service, keeper, front_desk, nurse, manager, branch
):
    """Seed 004's 快速追溯: the lot number on the trace page finds the people it was used on."""
    from clinical import tracing

    implant = make_item("IM01", "种植体 4.1×10", kind=ItemKind.IMPLANT, unit="颗")
    batch = receive(keeper, branch, implant, lot="ST-2026-07", quantity=2, cost="3200").batch
    line = checkout.charge_line_add(actor=front_desk, visit=visit, item=service)
    materials.material_add(actor=nurse, line=line, item=implant, quantity=1, batch=batch)
    pay(front_desk, visit)
    visit.refresh_from_db()
    day = timezone.localtime(visit.checked_out_at).date()
    found = tracing.trace_rows(
        tracing.trace_lines(manager, date_from=day, date_to=day, values={"batch": " st-2026-07 "})
    )
    assert [r["member"].pk for r in found] == [visit.member_id]
    other = tracing.trace_lines(manager, date_from=day, date_to=day, values={"batch": "NO-SUCH-LOT"})
    assert tracing.trace_rows(other) == []
    assert "batch" in [f.key for f in tracing.trace_filters()]
