"""The stock ledger: receive, FEFO use, transfer pairs, write-off, return, stock-take, void
returns; never negative, expired batches refused, every movement audited, cache == ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.models import AuditLog
from inventory import services
from inventory.errors import InventoryError
from inventory.models import Batch, MovementKind, StockBalance

from .factories import expired_batch, make_item, on_hand, receive

pytestmark = pytest.mark.django_db


def test_receive_creates_the_batch_once_and_audits_each_movement(keeper, branch, item):
    first = receive(keeper, branch, item, lot="A1", quantity=10)
    receive(keeper, branch, item, lot="A1", quantity=5)
    assert Batch.objects.filter(item=item).count() == 1
    assert on_hand(branch, first.batch) == 15
    audits = AuditLog.objects.filter(action="inventory.stock.receive")
    assert audits.count() == 2
    assert audits.first().changes["on_hand"] in ([10, 15], [0, 10])
    assert services.drift_rows() == []


def test_receive_refuses_a_lot_with_another_expiry_and_an_expired_lot(keeper, branch, item):
    receive(keeper, branch, item, lot="A1", days=100)
    with pytest.raises(InventoryError) as err:
        receive(keeper, branch, item, lot="A1", days=200)
    assert err.value.field == "expiry_date"
    with pytest.raises(InventoryError):
        receive(keeper, branch, item, lot="B2", days=-1)
    with pytest.raises(InventoryError) as err:
        receive(keeper, branch, item, lot="B3", quantity=0)
    assert err.value.field == "quantity"


def test_only_stock_roles_may_receive_and_only_at_their_branch(
    front_desk, nurse, keeper, branch, other_branch, item
):
    for user in (front_desk, nurse):
        with pytest.raises(InventoryError) as err:
            receive(user, branch, item)
        assert err.value.code == "forbidden"
    with pytest.raises(InventoryError) as err:
        receive(keeper, other_branch, item)
    assert err.value.code == "forbidden"


def test_use_is_first_expiry_first_out_and_spans_batches(keeper, nurse, branch, item):
    late = receive(keeper, branch, item, lot="LATE", days=300, quantity=5).batch
    soon = receive(keeper, branch, item, lot="SOON", days=40, quantity=3).batch
    moves = services.stock_use(actor=nurse, branch=branch, item=item, quantity=4)
    assert [(m.batch_id, m.quantity) for m in moves] == [(soon.pk, -3), (late.pk, -1)]
    assert (on_hand(branch, soon), on_hand(branch, late)) == (0, 4)
    assert AuditLog.objects.filter(action="inventory.stock.use").count() == 2


def test_use_skips_expired_batches_and_refuses_an_expired_batch(keeper, nurse, branch, item):
    old = expired_batch(branch, item, quantity=5)
    fresh = receive(keeper, branch, item, lot="NEW", days=100, quantity=2).batch
    with pytest.raises(InventoryError) as err:
        services.stock_use(actor=nurse, branch=branch, item=item, quantity=1, batch=old)
    assert err.value.code == "expired"
    assert "expired" in str(err.value.message) or "过期" in str(err.value.message)
    moves = services.stock_use(actor=nurse, branch=branch, item=item, quantity=2)
    assert [m.batch_id for m in moves] == [fresh.pk]
    with pytest.raises(InventoryError) as err:
        services.stock_use(actor=nurse, branch=branch, item=item, quantity=1)
    assert err.value.code == "expired"  # only the expired batch is left
    assert on_hand(branch, old) == 5


def test_use_refuses_more_than_in_stock_and_changes_nothing(keeper, nurse, branch, item):
    batch = receive(keeper, branch, item, quantity=3).batch
    with pytest.raises(InventoryError) as err:
        services.stock_use(actor=nurse, branch=branch, item=item, quantity=4)
    assert err.value.code == "insufficient"
    assert on_hand(branch, batch) == 3
    with pytest.raises(InventoryError):
        services.stock_use(actor=None, branch=branch, item=make_item("X1", "无库存"), quantity=1)


def test_the_database_refuses_a_negative_balance(keeper, branch, item):
    batch = receive(keeper, branch, item, quantity=1).batch
    with pytest.raises(IntegrityError), transaction.atomic():
        StockBalance.objects.filter(branch=branch, batch=batch).update(quantity=-1)


def test_transfer_writes_an_out_and_in_pair(keeper, hq_admin, branch, other_branch, item):
    batch = receive(keeper, branch, item, quantity=10).batch
    out, into = services.stock_transfer(
        actor=keeper, batch=batch, from_branch=branch, to_branch=other_branch, quantity=4, reason="借调"
    )
    assert (out.kind, out.quantity, into.kind, into.quantity) == (
        MovementKind.TRANSFER_OUT,
        -4,
        MovementKind.TRANSFER_IN,
        4,
    )
    out.refresh_from_db()
    assert out.counterpart_id == into.pk and into.counterpart_id == out.pk
    assert (on_hand(branch, batch), on_hand(other_branch, batch)) == (6, 4)
    with pytest.raises(InventoryError):
        services.stock_transfer(actor=keeper, batch=batch, from_branch=branch, to_branch=branch, quantity=1)
    with pytest.raises(InventoryError):  # the keeper does not work at the other branch
        services.stock_transfer(
            actor=keeper, batch=batch, from_branch=other_branch, to_branch=branch, quantity=1
        )
    services.stock_transfer(
        actor=hq_admin, batch=batch, from_branch=other_branch, to_branch=branch, quantity=4
    )
    assert services.drift_rows() == []


def test_write_off_and_return_need_a_reason_and_stock(keeper, branch, item):
    batch = receive(keeper, branch, item, quantity=5).batch
    with pytest.raises(InventoryError) as err:
        services.stock_write_off(actor=keeper, branch=branch, batch=batch, quantity=1, reason=" ")
    assert err.value.field == "reason"
    services.stock_write_off(actor=keeper, branch=branch, batch=batch, quantity=2, reason="破损")
    services.stock_return_to_supplier(actor=keeper, branch=branch, batch=batch, quantity=3, reason="质量问题")
    with pytest.raises(InventoryError):
        services.stock_write_off(actor=keeper, branch=branch, batch=batch, quantity=1, reason="丢失")
    assert on_hand(branch, batch) == 0


def test_stock_take_writes_corrections_for_differences_only(keeper, branch, item):
    a = receive(keeper, branch, item, lot="A", quantity=10).batch
    b = receive(keeper, branch, item, lot="B", quantity=4).batch
    moves = services.stock_take(actor=keeper, branch=branch, counts={a.pk: 8, b.pk: 4})
    assert [(m.batch_id, m.quantity, m.kind) for m in moves] == [(a.pk, -2, MovementKind.COUNT)]
    assert on_hand(branch, a) == 8
    with pytest.raises(InventoryError):
        services.stock_take(actor=keeper, branch=branch, counts={a.pk: -1})
    with pytest.raises(InventoryError):
        services.stock_take(actor=keeper, branch=branch, counts={})
    assert services.drift_rows() == []


def test_void_return_puts_a_use_back_once(keeper, nurse, branch, item):
    batch = receive(keeper, branch, item, quantity=2).batch
    (use,) = services.stock_use(actor=nurse, branch=branch, item=item, quantity=2)
    back = services.stock_return_from_void(actor=None, movement=use)
    again = services.stock_return_from_void(actor=None, movement=use)
    assert back.pk == again.pk and back.quantity == 2 and back.kind == MovementKind.VOID_RETURN
    assert on_hand(branch, batch) == 2


def test_alerts_near_expiry_bands_and_below_reorder_level(keeper, branch, item):
    from inventory.models import ReorderLevel
    from inventory.selectors import branch_alerts

    receive(keeper, branch, item, lot="D20", days=20, quantity=1)
    receive(keeper, branch, item, lot="D50", days=50, quantity=1)
    receive(keeper, branch, item, lot="D80", days=80, quantity=1)
    receive(keeper, branch, item, lot="D200", days=200, quantity=1)
    expired_batch(branch, item, lot="GONE")
    ReorderLevel.objects.create(item=item, branch=branch, level=10)
    alerts = branch_alerts(branch)
    assert [(r.batch.lot_number, r.band) for r in alerts.expiring] == [
        ("GONE", 0),
        ("D20", 30),
        ("D50", 60),
        ("D80", 90),
    ]
    assert [(r.item.pk, r.on_hand) for r in alerts.low] == [(item.pk, 4)]  # expired units do not count


def test_daily_alert_message_once_per_keeper_and_day(keeper, branch, item):
    from clinic.notifications.models import Outbox

    receive(keeper, branch, item, lot="SOON", days=10, quantity=1)
    assert services.stock_alerts_send() == {"branches": 1, "messages": 1}
    assert services.stock_alerts_send()["messages"] == 0
    row = Outbox.objects.get(template_key="inventory.stock_alert")
    assert row.recipient == "keeper@example.cn" and "SOON" in row.params["expiring"]


def test_reports_value_usage_waste_and_reorder(keeper, nurse, manager, branch, item):
    from inventory import selectors
    from inventory.models import ReorderLevel

    batch = receive(keeper, branch, item, quantity=10, cost="3.00").batch
    services.stock_use(actor=nurse, branch=branch, item=item, quantity=9)
    old = expired_batch(branch, item, quantity=4, cost="5.00")
    services.stock_write_off(actor=keeper, branch=branch, batch=old, quantity=4, reason="过期")
    ReorderLevel.objects.create(item=item, branch=branch, level=5)
    value = selectors.stock_value(manager, branch)
    assert [(r["units"], r["value"]) for r in value] == [(1, Decimal("3.00"))]
    usage = selectors.usage_by_service(manager, branch)
    assert [r["units"] for r in usage] == [9]
    waste = selectors.waste_from_expiry(manager, branch)
    assert [(r["units"], r["cost"]) for r in waste] == [(4, Decimal("20.00"))]
    (s,) = selectors.reorder_suggestions(manager, branch)
    assert (s.used_90, s.on_hand, s.reorder_level, s.suggested) == (9, 1, 5, 5)
    assert on_hand(branch, batch) == 1
    _ = timezone, dt
