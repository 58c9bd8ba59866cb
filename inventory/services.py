"""Every write of the stock ledger. Each service owns its transaction; every movement writes
one audit row in it. The balance of a (branch, batch) changes only in ``_move``, under a row
lock and with ``F()``, backed by the CHECK ``stock_balance_not_negative``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import Branch, ServiceItem
from clinic.money import to_money
from clinic.services import audit_record

from .errors import InventoryError
from .models import Batch, Item, Movement, MovementKind, ReorderLevel, StockBalance

MANAGE_PERM = "inventory.manage_stock"
USE_PERM = "inventory.use_stock"
MAX_QUANTITY = 100_000


def _require(actor, perm: str) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise InventoryError(_("Your role may not change the stock."), code="forbidden")


def _check_branch(actor, branch: Branch) -> None:
    from clinic.selectors import user_branch_ids

    if actor is None:
        return
    ids = user_branch_ids(actor)
    if ids is not None and branch.pk not in ids:
        raise InventoryError(_("You do not work at %(branch)s.") % {"branch": branch}, code="forbidden")


def _quantity(value) -> int:
    try:
        quantity = int(value)
    except (TypeError, ValueError):
        quantity = 0
    if quantity < 1 or quantity > MAX_QUANTITY:
        raise InventoryError(
            _("The quantity must be a whole number from 1 to %(max)d.") % {"max": MAX_QUANTITY},
            field="quantity",
        )
    return quantity


def is_expired(batch: Batch, today: dt.date | None = None) -> bool:
    """A batch may be used through its expiry date (有效期至), not after."""
    return batch.expiry_date < (today or timezone.localdate())


def _expired_error(batch: Batch) -> InventoryError:
    return InventoryError(
        _("Batch %(lot)s of %(item)s expired on %(date)s and cannot be used.")
        % {"lot": batch.lot_number, "item": batch.item.display_name, "date": batch.expiry_date.isoformat()},
        code="expired",
        field="batch",
    )


def _locked_balances(branch_ids: Iterable[int], batch: Batch) -> dict[int, StockBalance]:
    """The balance rows of ``batch`` at the branches, created if missing, then locked in
    branch order: two transfers in opposite directions lock in the same order and never
    deadlock, and two uses of the last unit queue on the row instead of both reading 1."""
    ids = sorted(set(branch_ids))
    StockBalance.objects.bulk_create(
        [StockBalance(branch_id=b, batch=batch, quantity=0) for b in ids], ignore_conflicts=True
    )
    rows = (
        StockBalance.objects.select_for_update().filter(batch=batch, branch_id__in=ids).order_by("branch_id")
    )
    return {row.branch_id: row for row in rows}


def _move(
    *,
    actor,
    balance: StockBalance,
    batch: Batch,
    kind: str,
    quantity: int,
    reason: str = "",
    at: dt.datetime | None = None,
    **links,
) -> Movement:
    """Append one movement and change the locked balance by ``quantity`` (signed)."""
    if balance.quantity + quantity < 0:
        raise InventoryError(
            _("Only %(left)d %(unit)s of %(item)s batch %(lot)s are in stock here.")
            % {
                "left": balance.quantity,
                "unit": batch.item.unit,
                "item": batch.item.display_name,
                "lot": batch.lot_number,
            },
            code="insufficient",
            field="quantity",
        )
    try:
        with transaction.atomic():
            StockBalance.objects.filter(pk=balance.pk).update(quantity=F("quantity") + quantity)
    except IntegrityError as exc:  # the CHECK: a caller changed the balance without the lock
        raise InventoryError(_("Not enough stock."), code="insufficient", field="quantity") from exc
    balance.quantity += quantity
    movement = Movement.objects.create(
        branch_id=balance.branch_id,
        batch=batch,
        kind=kind,
        quantity=quantity,
        at=at or timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        reason=(reason or "")[:200],
        **links,
    )
    audit_record(
        actor=actor,
        action=f"inventory.stock.{kind}",
        target=movement,
        branch=Branch.objects.get(pk=balance.branch_id),
        changes={
            "stock_item": batch.item.code,
            "lot": batch.lot_number,
            "quantity": quantity,
            "on_hand": [balance.quantity - quantity, balance.quantity],
            "reason": reason or None,
        },
    )
    return movement


def _batch(batch: Batch) -> Batch:
    return Batch.objects.select_related("item").get(pk=batch.pk)


@transaction.atomic
def stock_receive(
    *,
    actor,
    branch: Branch,
    item: Item,
    lot_number: str,
    expiry_date: dt.date,
    supplier: str,
    unit_cost: Decimal,
    quantity: int,
    reason: str = "",
    at: dt.datetime | None = None,
) -> Movement:
    """Receive ``quantity`` units of a lot at ``branch``: the batch is created on its first
    receipt; a later receipt of the same lot must match its expiry date. A lot expired on the
    day of receipt is refused. ``at`` (the system only: the demo, an opening balance) dates
    a receipt in the past. Needs ``inventory.manage_stock``."""
    _require(actor, MANAGE_PERM)
    _check_branch(actor, branch)
    quantity = _quantity(quantity)
    lot_number = (lot_number or "").strip()
    supplier = (supplier or "").strip()
    if not lot_number:
        raise InventoryError(_("Give the lot number."), field="lot_number")
    if not supplier:
        raise InventoryError(_("Give the supplier."), field="supplier")
    if not item.is_active:
        raise InventoryError(_("This item is no longer stocked."), field="item")
    unit_cost = to_money(unit_cost)
    if unit_cost < 0:
        raise InventoryError(_("The cost cannot be negative."), field="unit_cost")
    if at is not None and actor is not None:
        raise InventoryError(_("Only the system may date a receipt in the past."), code="forbidden")
    if expiry_date < timezone.localdate(at or timezone.now()):
        raise InventoryError(_("This lot has already expired: it cannot be received."), field="expiry_date")
    Batch.objects.bulk_create(
        [
            Batch(
                item=item,
                lot_number=lot_number[:40],
                expiry_date=expiry_date,
                supplier=supplier[:100],
                unit_cost=unit_cost,
            )
        ],
        ignore_conflicts=True,
    )
    batch = Batch.objects.select_related("item").get(item=item, lot_number=lot_number[:40])
    if batch.expiry_date != expiry_date:
        raise InventoryError(
            _("Lot %(lot)s is already recorded with the expiry date %(date)s.")
            % {"lot": lot_number, "date": batch.expiry_date.isoformat()},
            field="expiry_date",
        )
    balance = _locked_balances([branch.pk], batch)[branch.pk]
    return _move(
        actor=actor,
        balance=balance,
        batch=batch,
        kind=MovementKind.RECEIVE,
        quantity=quantity,
        reason=reason,
        at=at,
    )


def fefo_batches(*, branch: Branch, item: Item, today: dt.date | None = None):
    """The balances of ``item`` at ``branch`` that may be used, first expiry first."""
    today = today or timezone.localdate()
    return (
        StockBalance.objects.filter(
            branch=branch, batch__item=item, quantity__gt=0, batch__expiry_date__gte=today
        )
        .select_related("batch__item")
        .order_by("batch__expiry_date", "batch_id")
    )


@transaction.atomic
def stock_use(
    *,
    actor,
    branch: Branch,
    item: Item,
    quantity: int,
    batch: Batch | None = None,
    service_item: ServiceItem | None = None,
    visit_id: int | None = None,
    charge_line_id: int | None = None,
    reason: str = "",
    at: dt.datetime | None = None,
) -> list[Movement]:
    """Take ``quantity`` units of ``item`` at ``branch``: from ``batch`` when given, else
    first-expiry-first-out over the batches not yet expired (a use may span batches: one
    movement each). An expired batch is refused. All or nothing.

    Needs ``inventory.use_stock``, except for a visit line (``charge_line_id``): checkout
    (appointments) has checked its own permission, and records the use for the line."""
    if charge_line_id is None:
        _require(actor, USE_PERM)
    if at is not None and actor is not None:
        raise InventoryError(_("Only the system may date a use in the past."), code="forbidden")
    quantity = _quantity(quantity)
    today = timezone.localdate(at or timezone.now())
    if batch is not None:
        batch = _batch(batch)
        if batch.item_id != item.pk:
            raise InventoryError(_("This batch is of another item."), field="batch")
        if is_expired(batch, today):
            raise _expired_error(batch)
        plan = [(batch, quantity)]
    else:
        # Lock the candidate rows first, then re-read them: a concurrent use that took the
        # last unit has committed by the time the lock is ours.
        candidates = list(fefo_batches(branch=branch, item=item, today=today).select_for_update(of=("self",)))
        plan, left = [], quantity
        for row in candidates:
            if left == 0:
                break
            take = min(left, row.quantity)
            plan.append((row.batch, take))
            left -= take
        if left:
            if (
                not candidates
                and StockBalance.objects.filter(
                    branch=branch, batch__item=item, quantity__gt=0, batch__expiry_date__lt=today
                ).exists()
            ):
                raise InventoryError(
                    _("Every batch of %(item)s in stock here has expired.") % {"item": item.display_name},
                    code="expired",
                    field="quantity",
                )
            raise InventoryError(
                _("Only %(left)d %(unit)s of %(item)s are in stock here (in date), %(asked)d needed.")
                % {"left": quantity - left, "unit": item.unit, "item": item.display_name, "asked": quantity},
                code="insufficient",
                field="quantity",
            )
    links = {"service_item": service_item, "visit_id": visit_id, "charge_line_id": charge_line_id}
    moves = []
    for b, take in plan:
        balance = _locked_balances([branch.pk], b)[branch.pk]
        moves.append(
            _move(
                actor=actor,
                balance=balance,
                batch=b,
                kind=MovementKind.USE,
                quantity=-take,
                reason=reason,
                **links,
            )
        )
    return moves


@transaction.atomic
def stock_return_from_void(*, actor, movement: Movement, reason: str = "") -> Movement:
    """Put back what a use took, onto the same batch and branch (a voided visit). Once per
    movement: a second call returns the first reversal."""
    movement = Movement.objects.select_for_update().select_related("batch__item").get(pk=movement.pk)
    if movement.kind != MovementKind.USE:
        raise InventoryError(_("Only a use can be returned from a void."))
    existing = Movement.objects.filter(reverses=movement).first()
    if existing is not None:
        return existing
    balance = _locked_balances([movement.branch_id], movement.batch)[movement.branch_id]
    return _move(
        actor=actor,
        balance=balance,
        batch=movement.batch,
        kind=MovementKind.VOID_RETURN,
        quantity=-movement.quantity,
        reason=reason,
        reverses=movement,
        service_item_id=movement.service_item_id,
        visit_id=movement.visit_id,
        charge_line_id=movement.charge_line_id,
    )


@transaction.atomic
def stock_transfer(
    *, actor, batch: Batch, from_branch: Branch, to_branch: Branch, quantity: int, reason: str = ""
) -> tuple[Movement, Movement]:
    """Move units of a batch between branches: an out row and an in row, each naming the
    other. Needs ``inventory.manage_stock`` at the sending branch."""
    _require(actor, MANAGE_PERM)
    _check_branch(actor, from_branch)
    if from_branch.pk == to_branch.pk:
        raise InventoryError(_("Choose another branch to transfer to."), field="to_branch")
    quantity = _quantity(quantity)
    batch = _batch(batch)
    if is_expired(batch):
        raise _expired_error(batch)
    rows = _locked_balances([from_branch.pk, to_branch.pk], batch)
    now = timezone.now()
    out = _move(
        actor=actor,
        balance=rows[from_branch.pk],
        batch=batch,
        kind=MovementKind.TRANSFER_OUT,
        quantity=-quantity,
        reason=reason,
        at=now,
    )
    into = _move(
        actor=actor,
        balance=rows[to_branch.pk],
        batch=batch,
        kind=MovementKind.TRANSFER_IN,
        quantity=quantity,
        reason=reason,
        at=now,
        counterpart=out,
    )
    Movement.objects.filter(pk=out.pk).update(counterpart=into)
    out.counterpart = into
    return out, into


def _out(*, actor, branch: Branch, batch: Batch, quantity: int, reason: str, kind: str) -> Movement:
    _require(actor, MANAGE_PERM)
    _check_branch(actor, branch)
    quantity = _quantity(quantity)
    reason = (reason or "").strip()
    if not reason:
        raise InventoryError(_("Give the reason."), field="reason")
    batch = _batch(batch)
    balance = _locked_balances([branch.pk], batch)[branch.pk]
    return _move(actor=actor, balance=balance, batch=batch, kind=kind, quantity=-quantity, reason=reason)


@transaction.atomic
def stock_write_off(*, actor, branch: Branch, batch: Batch, quantity: int, reason: str) -> Movement:
    """Write off damaged, lost or expired units (expired ones count as waste from expiry)."""
    return _out(
        actor=actor, branch=branch, batch=batch, quantity=quantity, reason=reason, kind=MovementKind.WRITE_OFF
    )


@transaction.atomic
def stock_return_to_supplier(*, actor, branch: Branch, batch: Batch, quantity: int, reason: str) -> Movement:
    return _out(
        actor=actor,
        branch=branch,
        batch=batch,
        quantity=quantity,
        reason=reason,
        kind=MovementKind.RETURN_SUPPLIER,
    )


@transaction.atomic
def stock_take(*, actor, branch: Branch, counts: Mapping[int, int], reason: str = "") -> list[Movement]:
    """Record a stock-take: ``counts`` maps batch ids to the units counted at ``branch``; a
    correction movement is written for each batch whose count differs from the books."""
    _require(actor, MANAGE_PERM)
    _check_branch(actor, branch)
    if not counts:
        raise InventoryError(_("Enter at least one counted quantity."), field="counts")
    batches = {b.pk: b for b in Batch.objects.select_related("item").filter(pk__in=list(counts))}
    if len(batches) != len(counts):
        raise InventoryError(_("Unknown batch in the count."), field="counts")
    reason = (reason or "").strip() or _("Stock-take")
    moves = []
    for batch_id in sorted(counts):
        counted = counts[batch_id]
        if not isinstance(counted, int) or counted < 0 or counted > MAX_QUANTITY:
            raise InventoryError(_("A counted quantity must be a whole number, 0 or more."), field="counts")
        batch = batches[batch_id]
        balance = _locked_balances([branch.pk], batch)[branch.pk]
        delta = counted - balance.quantity
        if delta:
            moves.append(
                _move(
                    actor=actor,
                    balance=balance,
                    batch=batch,
                    kind=MovementKind.COUNT,
                    quantity=delta,
                    reason=reason,
                )
            )
    return moves


@transaction.atomic
def reorder_level_set(*, actor, branch: Branch, item: Item, level: int | None) -> int:
    """Set the branch's own reorder level for ``item``; ``None`` goes back to the item's
    default. Returns the level now in force. Audited with the old and the new value."""
    _require(actor, MANAGE_PERM)
    _check_branch(actor, branch)
    if level is not None and not (0 <= int(level) <= MAX_QUANTITY):
        raise InventoryError(
            _("The reorder level must be a whole number from 0 to %(max)d.") % {"max": MAX_QUANTITY},
            field="level",
        )
    own = ReorderLevel.objects.select_for_update().filter(item=item, branch=branch).first()
    old = own.level if own else None
    if level is None:
        if own is not None:
            own.delete()
    elif own is None:
        own = ReorderLevel.objects.create(item=item, branch=branch, level=int(level))
    else:
        own.level = int(level)
        own.save(update_fields=["level"])
    new = None if level is None else int(level)
    if old != new:
        audit_record(
            actor=actor,
            action="inventory.reorder_level.set",
            target=item,
            branch=branch,
            changes={"reorder_level": [old, new], "default_reorder_level": item.default_reorder_level},
        )
    return item.default_reorder_level if new is None else new


def drift_rows() -> list[tuple[int, int, int, int]]:
    """(branch, batch, balance, sum of movements) wherever the cache and the ledger differ."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT coalesce(b.branch_id, m.branch_id), coalesce(b.batch_id, m.batch_id),
                   coalesce(b.quantity, 0), coalesce(m.total, 0)
            FROM {StockBalance._meta.db_table} b
            FULL JOIN (SELECT branch_id, batch_id, sum(quantity) AS total
                       FROM {Movement._meta.db_table} GROUP BY branch_id, batch_id) m
              ON m.branch_id = b.branch_id AND m.batch_id = b.batch_id
            WHERE coalesce(b.quantity, 0) <> coalesce(m.total, 0)
            """
        )
        return cursor.fetchall()


ALERT_TEMPLATE = "inventory.stock_alert"


def _alert_text(alerts) -> tuple[str, str]:
    expiring = "；".join(
        f"{row.batch.item.name} {row.batch.lot_number} {row.batch.expiry_date:%Y-%m-%d}（{row.quantity}{row.batch.item.unit}）"
        for row in alerts.expiring[:20]
    )
    low = "；".join(f"{r.item.name} {r.on_hand}/{r.reorder_level}{r.item.unit}" for r in alerts.low[:20])
    return expiring or "—", low or "—"


def stock_alerts_send(*, today: dt.date | None = None) -> dict[str, int]:
    """The daily message to each branch's stock keepers (an e-mail through the outbox, one per
    keeper, branch and day: the dedupe key makes a re-run a no-op). Branches without alerts
    get none."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from clinic.models import Role
    from clinic.notifications.models import Channel, Purpose
    from clinic.notifications.services import notification_enqueue
    from clinic.roles import GROUP_NAMES

    from .selectors import branch_alerts

    today = today or timezone.localdate()
    counts = {"branches": 0, "messages": 0}
    keepers = get_user_model().objects.filter(is_active=True).exclude(email="")
    keepers = keepers.filter(
        Q(staff__role=Role.STOCK_KEEPER) | Q(staff__extra_roles__name=GROUP_NAMES[Role.STOCK_KEEPER])
    ).distinct()
    for branch in Branch.objects.filter(is_active=True).order_by("pk"):
        alerts = branch_alerts(branch, today)
        if not alerts.count:
            continue
        counts["branches"] += 1
        expiring, low = _alert_text(alerts)
        for user in keepers.filter(staff__branches=branch).select_related("staff"):
            with transaction.atomic():
                row = notification_enqueue(
                    channel=Channel.EMAIL,
                    recipient=user.email,
                    template_key=ALERT_TEMPLATE,
                    params={
                        "name": user.staff.full_name,
                        "branch": branch.name,
                        "date": today.isoformat(),
                        "expiring_count": len(alerts.expiring),
                        "low_count": len(alerts.low),
                        "expiring": expiring,
                        "low": low,
                    },
                    purpose=Purpose.SERVICE,
                    dedupe_key=f"inventory:alert:{branch.pk}:{user.pk}:{today.isoformat()}",
                    branch=branch,
                )
            counts["messages"] += int(row.was_created)
    return counts
