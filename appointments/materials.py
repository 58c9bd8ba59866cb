"""Materials used per charge line (issue 20): the defaults of the service when a line is
added, edits while the visit is open, the stock taken at checkout (inside the checkout's
transaction: a checkout that cannot take its materials does not happen) and returned on a
void. appointments is above inventory (DESIGN.md §2): it holds the link and calls the
inventory services; inventory knows the line only by id."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from clinic.services import audit_record
from inventory import services as stock
from inventory.errors import InventoryError
from inventory.models import Batch, Item, ServiceMaterialDefault

from .errors import AppointmentError
from .models import ChargeLine, ChargeLineMaterial, Visit, VisitStatus

USE_PERM = "inventory.use_stock"
CHANGE_PERM = "appointments.change_visit"


def add_defaults(line: ChargeLine) -> list[ChargeLineMaterial]:
    """The service's default materials × the line's quantity (in the caller's transaction)."""
    defaults = ServiceMaterialDefault.objects.filter(service_id=line.item_id, item__is_active=True)
    return ChargeLineMaterial.objects.bulk_create(
        [
            ChargeLineMaterial(line=line, item_id=d.item_id, quantity=d.quantity * line.quantity)
            for d in defaults
        ]
    )


def _open_line(actor, line: ChargeLine) -> Visit:
    if actor is not None and not (actor.has_perm(CHANGE_PERM) and actor.has_perm(USE_PERM)):
        raise AppointmentError(_("Your role may not change the materials of a visit."), code="forbidden")
    visit = Visit.objects.select_for_update(of=("self",)).get(pk=line.visit_id)
    if visit.status != VisitStatus.OPEN:
        raise AppointmentError(_("This visit is already checked out."), code="state")
    return visit


@transaction.atomic
def material_add(
    *, actor, line: ChargeLine, item: Item, quantity: int, batch: Batch | None = None
) -> ChargeLineMaterial:
    """Add (or, for the same item and batch, increase) a material of an open visit's line.
    A batch given must be of the item, in date and in stock at the visit's branch."""
    visit = _open_line(actor, line)
    if not item.is_active:
        raise AppointmentError(_("This item is no longer stocked."), field="item")
    if not isinstance(quantity, int) or quantity < 1 or quantity > 999:
        raise AppointmentError(_("The quantity must be between 1 and 999."), field="quantity")
    if batch is not None:
        if batch.item_id != item.pk:
            raise AppointmentError(_("This batch is of another item."), field="batch")
        if stock.is_expired(batch):
            raise AppointmentError(
                _("Batch %(lot)s expired on %(date)s and cannot be used.")
                % {"lot": batch.lot_number, "date": batch.expiry_date.isoformat()},
                field="batch",
            )
    row = ChargeLineMaterial.objects.filter(line=line, item=item, batch=batch).first()
    if row is None:
        row = ChargeLineMaterial.objects.create(line=line, item=item, quantity=quantity, batch=batch)
    else:
        row.quantity += quantity
        row.save(update_fields=["quantity"])
    audit_record(
        actor=actor,
        action="appointments.visit.material_added",
        target=visit,
        changes={"stock_item": item.code, "quantity": quantity, "lot": batch.lot_number if batch else None},
    )
    return row


@transaction.atomic
def material_remove(*, actor, material: ChargeLineMaterial) -> None:
    visit = _open_line(actor, material.line)
    audit_record(
        actor=actor,
        action="appointments.visit.material_removed",
        target=visit,
        changes={"stock_item": material.item.code, "quantity": material.quantity},
    )
    material.delete()


def consume(*, actor, visit: Visit, lines: list[ChargeLine]) -> int:
    """At checkout (in its transaction): take every planned material from stock at the
    visit's branch and link each row to its movement. An expired or missing batch refuses
    the checkout with the inventory's message. Returns the number of movements."""
    count = 0
    by_line = {line.pk: line for line in lines}
    planned = list(
        ChargeLineMaterial.objects.filter(line__visit=visit, movement__isnull=True)
        .select_related("item", "batch")
        .order_by("id")
    )
    for row in planned:
        line = by_line.get(row.line_id)
        try:
            moves = stock.stock_use(
                actor=actor,
                branch=visit.branch,
                item=row.item,
                quantity=row.quantity,
                batch=row.batch,
                service_item=line.item if line else None,
                visit_id=visit.pk,
                charge_line_id=row.line_id,
                reason=str(visit.member)[:200],
            )
        except InventoryError as exc:
            raise AppointmentError(exc.message, code=exc.code, field="materials") from exc
        first, rest = moves[0], moves[1:]
        row.batch_id, row.quantity, row.movement = first.batch_id, -first.quantity, first
        row.save(update_fields=["batch", "quantity", "movement"])
        ChargeLineMaterial.objects.bulk_create(
            [
                ChargeLineMaterial(
                    line_id=row.line_id,
                    item_id=row.item_id,
                    quantity=-m.quantity,
                    batch_id=m.batch_id,
                    movement=m,
                )
                for m in rest
            ]
        )
        count += len(moves)
    return count


def give_back(*, actor, visit: Visit, reason: str) -> int:
    """On a void (in its transaction): every movement of the visit's materials goes back."""
    rows = ChargeLineMaterial.objects.filter(line__visit=visit, movement__isnull=False).select_related(
        "movement"
    )
    n = 0
    for row in rows:
        stock.stock_return_from_void(actor=actor, movement=row.movement, reason=reason)
        n += 1
    return n


def materials_by_line(visit: Visit) -> dict[int, list[ChargeLineMaterial]]:
    out: dict[int, list[ChargeLineMaterial]] = {}
    for m in (
        ChargeLineMaterial.objects.filter(line__visit=visit).select_related("item", "batch").order_by("id")
    ):
        out.setdefault(m.line_id, []).append(m)
    return out
