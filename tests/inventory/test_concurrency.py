"""Real PostgreSQL, real threads: two nurses taking the last unit of a batch at once — exactly
one succeeds, the other gets a clear refusal, and the balance never goes below zero."""

from __future__ import annotations

import pytest

from clinic.models import Role
from inventory import services
from inventory.errors import InventoryError
from inventory.models import Movement, MovementKind
from tests.loyalty.test_concurrency import _run

from .factories import make_item, on_hand, receive


@pytest.mark.django_db(transaction=True)
def test_two_nurses_using_the_last_unit_exactly_one_succeeds(branch, staff_factory):
    keeper = staff_factory(Role.STOCK_KEEPER, username="keeper-threads")
    nurses = [staff_factory(Role.NURSE, username=f"nurse-{i}") for i in range(2)]
    item = make_item("IM01", "种植体", kind="implant", unit="颗")
    batch = receive(keeper, branch, item, lot="LAST", quantity=1).batch

    results = _run(2, lambda i: services.stock_use(actor=nurses[i], branch=branch, item=item, quantity=1))
    ok = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if isinstance(r, InventoryError)]
    assert len(ok) == 1 and len(refused) == 1, results
    assert refused[0].code == "insufficient"
    assert on_hand(branch, batch) == 0
    assert Movement.objects.filter(kind=MovementKind.USE).count() == 1
    assert services.drift_rows() == []


@pytest.mark.django_db(transaction=True)
def test_many_uses_of_one_batch_never_overdraw(branch, staff_factory):
    keeper = staff_factory(Role.STOCK_KEEPER, username="keeper-many")
    item = make_item()
    batch = receive(keeper, branch, item, lot="FIVE", quantity=5).batch
    results = _run(
        8, lambda i: services.stock_use(actor=keeper, branch=branch, item=item, quantity=1, batch=batch)
    )
    assert sum(isinstance(r, list) for r in results) == 5, results
    assert on_hand(branch, batch) == 0
    assert services.drift_rows() == []
