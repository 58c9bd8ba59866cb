from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from inventory import services
from inventory.models import Batch, Item, ItemKind, Movement, MovementKind, StockBalance


def make_item(
    code: str = "GL01", name: str = "医用手套", kind: str = ItemKind.CONSUMABLE, unit: str = "副", **kw
) -> Item:
    return Item.objects.create(code=code, name=name, kind=kind, unit=unit, **kw)


def receive(actor, branch, item, *, lot="L1", days=365, quantity=10, cost="2.50") -> Movement:
    return services.stock_receive(
        actor=actor,
        branch=branch,
        item=item,
        lot_number=lot,
        expiry_date=timezone.localdate() + dt.timedelta(days=days),
        supplier="国药器械",
        unit_cost=Decimal(cost),
        quantity=quantity,
    )


def expired_batch(branch, item, *, lot="OLD", days_ago=3, quantity=5, cost="2.00") -> Batch:
    """A batch that expired: written as it would have been received then (the receive page
    refuses an expired lot today)."""
    batch = Batch.objects.create(
        item=item,
        lot_number=lot,
        expiry_date=timezone.localdate() - dt.timedelta(days=days_ago),
        supplier="国药器械",
        unit_cost=Decimal(cost),
    )
    StockBalance.objects.create(branch=branch, batch=batch, quantity=quantity)
    Movement.objects.create(
        branch=branch,
        batch=batch,
        kind=MovementKind.RECEIVE,
        quantity=quantity,
        at=timezone.now() - dt.timedelta(days=200),
    )
    return batch


def on_hand(branch, batch) -> int:
    row = StockBalance.objects.filter(branch=branch, batch=batch).first()
    return row.quantity if row else 0
