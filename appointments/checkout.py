"""Visits (就诊), their charge lines, checkout and void. Every write here is a service with its
own transaction and audit row; ``visit_completed`` is sent after commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.models import ServiceItem
from clinic.money import ZERO, format_cny, to_money
from clinic.services import audit_record
from members.services import member_visit_record

from . import integration, materials, pricing, registry
from .errors import AppointmentError
from .fdi import validate_tooth
from .models import (
    Appointment,
    ChargeLine,
    Payment,
    PaymentMethod,
    Status,
    Visit,
    VisitDiscount,
    VisitStatus,
)
from .signals import visit_completed, visit_refunded, visit_voided

MANUAL_DISCOUNT_PERM = "clinic.approve_discount"
CHANGE_PERM = "appointments.change_visit"
CHECKOUT_PERM = "appointments.checkout_visit"
VOID_PERM = "appointments.void_visit"


@transaction.atomic
def visit_open(*, actor, appointment: Appointment) -> Visit:
    """The visit of an arrived appointment (created once; a second call returns it)."""
    visit = Visit.objects.filter(appointment=appointment).first()
    if visit is not None:
        return visit
    if appointment.status not in (Status.ARRIVED, Status.IN_TREATMENT, Status.COMPLETED):
        raise AppointmentError(_("The person has not arrived yet."), code="state")
    visit = Visit.objects.create(
        branch_id=appointment.branch_id,
        member_id=appointment.member_id,
        appointment=appointment,
        doctor_id=appointment.doctor_id,
        opened_at=timezone.now(),
    )
    audit_record(
        actor=actor, action="appointments.visit.opened", target=visit, changes={"appointment": appointment.pk}
    )
    return visit


def _visit_event(visit: Visit, action: str, *, actor, detail: str) -> None:
    if visit.appointment_id:
        from .services import _event

        _event(visit.appointment, action, actor=actor, detail=detail)


def _lock_visit(visit: Visit) -> Visit:
    return (
        Visit.objects.select_for_update(of=("self",))
        .select_related("member", "branch", "appointment")
        .get(pk=visit.pk)
    )


def _require(actor, perm: str, message) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise AppointmentError(message, code="forbidden")


@transaction.atomic
def charge_line_add(
    *,
    actor,
    visit: Visit,
    item: ServiceItem,
    quantity: int | None = None,
    teeth: Iterable[int] = (),
    doctor=None,
) -> ChargeLine:
    """Add a catalog item to an open visit, at today's list price, with optional FDI teeth.
    A per-tooth item with teeth is billed once per tooth: ``quantity`` defaults to the
    number of teeth, and any other quantity is refused (three teeth are never billed as one).
    Needs ``appointments.change_visit`` (``actor=None``: the system)."""
    _require(actor, CHANGE_PERM, _("Your role may not change the charges of a visit."))
    visit = _lock_visit(visit)
    if visit.status != VisitStatus.OPEN:
        raise AppointmentError(_("This visit is already checked out."), code="state")
    if not item.is_active:
        raise AppointmentError(_("This service is no longer offered."), field="item")
    teeth = list(dict.fromkeys(int(t) for t in teeth))
    try:
        for tooth in teeth:
            validate_tooth(tooth)
    except ValidationError as exc:
        raise AppointmentError(exc.messages[0], field="teeth") from exc
    if item.per_tooth and teeth:
        if quantity is None:
            quantity = len(teeth)
        elif quantity != len(teeth):
            raise AppointmentError(
                _("%(item)s is charged per tooth: %(teeth)d teeth need quantity %(teeth)d, not %(quantity)d.")
                % {"item": item.display_name, "teeth": len(teeth), "quantity": quantity},
                field="quantity",
            )
    quantity = 1 if quantity is None else quantity
    if quantity < 1 or quantity > 99:
        raise AppointmentError(_("The quantity must be between 1 and 99."), field="quantity")
    price = to_money(item.price)
    line = ChargeLine.objects.create(
        visit=visit,
        item=item,
        quantity=quantity,
        unit_price=price,
        teeth=teeth,
        doctor_id=doctor.pk if doctor else visit.doctor_id,
        list_amount=to_money(price * quantity),
        net_amount=to_money(price * quantity),
    )
    materials.add_defaults(line)
    audit_record(
        actor=actor,
        action="appointments.visit.line_added",
        target=visit,
        changes={"item": item.code, "quantity": quantity, "teeth": teeth, "price": item.price},
    )
    return line


@transaction.atomic
def charge_line_remove(*, actor, line: ChargeLine) -> None:
    _require(actor, CHANGE_PERM, _("Your role may not change the charges of a visit."))
    visit = _lock_visit(line.visit)
    if visit.status != VisitStatus.OPEN:
        raise AppointmentError(_("This visit is already checked out."), code="state")
    audit_record(
        actor=actor,
        action="appointments.visit.line_removed",
        target=visit,
        changes={"item": line.item.code, "quantity": line.quantity, "teeth": line.teeth},
    )
    line.delete()


def quote(
    *,
    visit: Visit,
    coupon_codes: Iterable[str] = (),
    manual_discount: Decimal = ZERO,
    manual_reason: str = "",
):
    """Price an open visit without writing anything (the checkout page's preview)."""
    lines = list(visit.lines.select_related("item__category").order_by("id"))
    item_ids = {line.item_id for line in lines}
    tier_percent, tier_label = integration.tier_pricing(visit.member, {line.item.category for line in lines})
    data = pricing.PricingInput(
        lines=[
            pricing.LineInput(line.pk, line.item_id, line.item.category_id, line.unit_price, line.quantity)
            for line in lines
        ],
        tier_percent=tier_percent,
        tier_label=tier_label or _("Tier discount"),
        allowances=integration.allowance_grants(visit.member, item_ids),
        entitlements=integration.entitlement_grants(visit.member, item_ids),
        coupons=integration.coupon_quotes(member=visit.member, codes=list(coupon_codes), visit=visit),
        price_rules=registry.price_rules(visit, item_ids),
        manual_amount=to_money(manual_discount or 0),
        # The label stands alone on the receipt: it says what it is, then the reason.
        manual_label=_("Manual discount: %(reason)s") % {"reason": manual_reason}
        if manual_reason
        else _("Manual discount"),
    )
    return lines, pricing.price(data)


@transaction.atomic
def visit_checkout(
    *,
    actor,
    visit: Visit,
    payments: Iterable[tuple[str, Decimal]],
    checkout_key: str,
    coupon_codes: Iterable[str] = (),
    manual_discount: Decimal = ZERO,
    manual_reason: str = "",
) -> Visit:
    """Check out in one transaction: price (allowances, entitlements, tier, coupons, manual;
    see ``pricing``), record the payment lines, record the purchase and points (loyalty),
    complete the appointment, move a lead to patient; ``visit_completed`` after commit.

    Idempotent on ``checkout_key``: a double submit (the same key) returns the visit already
    checked out instead of charging twice. The visit row lock serialises concurrent submits.
    Needs ``appointments.checkout_visit`` (``actor=None``: the system).
    """
    _require(actor, CHECKOUT_PERM, _("Your role may not check out a visit."))
    visit = _lock_visit(visit)
    if visit.status == VisitStatus.CHECKED_OUT and visit.checkout_key == checkout_key:
        return visit
    if visit.status != VisitStatus.OPEN:
        raise AppointmentError(_("This visit is already checked out."), code="state")
    manual_discount = to_money(manual_discount or 0)
    if manual_discount < 0:
        raise AppointmentError(_("A discount cannot be negative."), field="manual_discount")
    if manual_discount > 0:
        if not actor.has_perm(MANUAL_DISCOUNT_PERM):
            raise AppointmentError(
                _("Only a supervisor may give a manual discount."), code="forbidden", field="manual_discount"
            )
        if not (manual_reason or "").strip():
            raise AppointmentError(_("Give the reason for the manual discount."), field="manual_reason")
    lines, result = quote(
        visit=visit, coupon_codes=coupon_codes, manual_discount=manual_discount, manual_reason=manual_reason
    )
    if not lines:
        raise AppointmentError(_("Add at least one charge line first."), code="empty")
    given = sum((a.amount for a in result.applied if a.kind == "manual"), ZERO)
    if given != manual_discount:
        # Pricing never takes a line below zero, so the excess would vanish unrecorded.
        raise AppointmentError(
            _("The manual discount (%(asked)s) is more than what is left to pay (%(left)s).")
            % {"asked": format_cny(manual_discount), "left": format_cny(given + result.amount_due)},
            field="manual_discount",
        )
    payments = [(m, to_money(a)) for m, a in payments if to_money(a) != 0]
    for method, amount in payments:
        if method not in PaymentMethod.values:
            raise AppointmentError(_("Unknown payment method."), field="payments")
        if amount < 0:
            raise AppointmentError(_("A payment cannot be negative."), field="payments")
    paid = to_money(sum((a for _m, a in payments), ZERO))
    if paid != result.amount_due:
        raise AppointmentError(
            _("The payments (%(paid)s) do not add up to the amount due (%(due)s).")
            % {"paid": format_cny(paid), "due": format_cny(result.amount_due)},
            field="payments",
        )
    # The materials first: a checkout that cannot take them from stock (expired, not enough)
    # is refused before any money is recorded.
    materials.consume(actor=actor, visit=visit, lines=lines)
    now = timezone.now()
    by_key = {line.pk: line for line in lines}
    for priced in result.lines:
        line = by_key[priced.line.key]
        line.list_amount, line.net_amount = priced.list_amount, priced.net
        line.discount_amount = priced.list_amount - priced.net
    ChargeLine.objects.bulk_update(lines, ["list_amount", "net_amount", "discount_amount"])
    VisitDiscount.objects.bulk_create(
        [
            VisitDiscount(
                visit=visit, line_id=a.line_key, kind=a.kind, label=a.label[:200], amount=a.amount, ref=a.ref
            )
            for a in result.applied
        ]
    )
    visit.pricing_notes = [note for _ref, note in result.notes]
    Payment.objects.bulk_create(
        [
            Payment(visit=visit, method=m, amount=a, at=now, by=actor if getattr(actor, "pk", None) else None)
            for m, a in payments
        ]
    )
    visit.status = VisitStatus.CHECKED_OUT
    visit.list_total, visit.discount_total = result.list_total, result.discount_total
    visit.amount_due, visit.amount_paid = result.amount_due, paid
    visit.manual_discount, visit.manual_discount_reason = manual_discount, (manual_reason or "")[:200]
    visit.checkout_key, visit.checked_out_at = checkout_key, now
    visit.checked_out_by = actor if getattr(actor, "pk", None) else None
    visit.points_earned = integration.after_checkout(actor=actor, visit=visit, result=result)
    visit.save()
    appt = visit.appointment
    if appt is not None and appt.status in (Status.ARRIVED, Status.IN_TREATMENT):
        from .services import appointment_complete

        visit.appointment = appointment_complete(actor=actor, appointment=appt)
    member_visit_record(actor=actor, member=visit.member, at=now)
    _visit_event(visit, "checked_out", actor=actor, detail=format_cny(visit.amount_due))
    audit_record(
        actor=actor,
        action="appointments.visit.checked_out",
        target=visit,
        changes={
            "list_total": visit.list_total,
            "discounts": [[a.kind, a.label, str(a.amount)] for a in result.applied],
            "notes": [note for _ref, note in result.notes] or None,
            "amount_due": visit.amount_due,
            "payments": [[m, str(a)] for m, a in payments],
            "points_earned": visit.points_earned,
            "manual_discount": [str(manual_discount), manual_reason] if manual_discount else None,
        },
    )
    pk = visit.pk
    transaction.on_commit(lambda: visit_completed.send(sender=Visit, visit=Visit.objects.get(pk=pk)))
    return visit


@transaction.atomic
def visit_void(*, actor, visit: Visit, reason: str) -> Visit:
    """Void a checked-out visit: a reversing row per payment, loyalty reversals (points,
    allowances, coupons, tier, referral rewards), audited; ``visit_voided`` after commit.
    Charge lines and discounts stay as the record of what was voided."""
    if not actor.has_perm(VOID_PERM):
        raise AppointmentError(_("You may not void visits."), code="forbidden")
    reason = (reason or "").strip()
    if not reason:
        raise AppointmentError(_("Give the reason for the void."), field="reason")
    visit = _lock_visit(visit)
    if visit.status != VisitStatus.CHECKED_OUT:
        raise AppointmentError(_("Only a checked-out visit can be voided."), code="state")
    now = timezone.now()
    originals = list(visit.payments.filter(reverses__isnull=True, amount__gt=0))
    # Partial refunds (visit_refund) gave part of a method's money back already: the void
    # reverses only what is left of each payment.
    refunded = _refunded_by_method(visit)
    reversals = []
    for p in originals:
        taken = min(p.amount, refunded[p.method])
        refunded[p.method] -= taken
        if p.amount - taken > 0:
            reversals.append((p, p.amount - taken))
    Payment.objects.bulk_create(
        [
            Payment(
                visit=visit,
                method=p.method,
                amount=-left,
                reverses=p,
                at=now,
                reference=_("Void"),
                by=actor if getattr(actor, "pk", None) else None,
            )
            for p, left in reversals
        ]
    )
    integration.after_void(actor=actor, visit=visit, reason=reason)
    materials.give_back(actor=actor, visit=visit, reason=reason)
    visit.status, visit.voided_at, visit.void_reason = VisitStatus.VOIDED, now, reason[:200]
    visit.voided_by = actor if getattr(actor, "pk", None) else None
    visit.save(update_fields=["status", "voided_at", "void_reason", "voided_by"])
    _visit_event(visit, "voided", actor=actor, detail=reason)
    audit_record(
        actor=actor,
        action="appointments.visit.voided",
        target=visit,
        changes={
            "reason": reason,
            "refunded": [[p.method, str(left)] for p, left in reversals],
            "points": visit.points_earned,
        },
    )
    pk = visit.pk
    transaction.on_commit(lambda: visit_voided.send(sender=Visit, visit=Visit.objects.get(pk=pk)))
    return visit


def visit_net_paid(visit: Visit) -> Decimal:
    return to_money(sum(visit.payments.values_list("amount", flat=True), ZERO))


REFUND_ACTION = "appointments.visit.refunded"


def _refunded_by_method(visit: Visit) -> defaultdict:
    """Money given back by partial refunds (negative payments that reverse no payment)."""
    refunded: defaultdict = defaultdict(lambda: ZERO)
    for method, amount in visit.payments.filter(reverses__isnull=True, amount__lt=0).values_list(
        "method", "amount"
    ):
        refunded[method] += -amount
    return refunded


def _round_points(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@transaction.atomic
def visit_refund(
    *, actor, visit: Visit, amount: Decimal, reason: str, refund_key: str | None = None
) -> list[Payment]:
    """Give part of a checked-out visit's money back (a complaint's make-good, a service not
    delivered). Supervisors only (``appointments.void_visit``) with a reason. Writes one
    negative payment per method refunded (from the largest method's money first), reverses
    the visit's points in proportion (cumulatively rounded, so two refunds of half never take
    more than the whole), audited; ``visit_refunded`` after commit, which partner rebates
    reverse in proportion to. Idempotent on ``refund_key``. At most what is left paid."""
    if actor is None or not actor.has_perm(VOID_PERM):
        raise AppointmentError(_("Only a supervisor may refund a visit."), code="forbidden")
    reason = (reason or "").strip()
    if not reason:
        raise AppointmentError(_("Give the reason for the refund."), field="reason")
    amount = to_money(amount or 0)
    if amount <= 0:
        raise AppointmentError(_("Enter an amount greater than zero."), field="amount")
    visit = _lock_visit(visit)
    from clinic.models import AuditLog

    if (
        refund_key
        and AuditLog.objects.filter(
            action=REFUND_ACTION, target_id=str(visit.pk), changes__key=refund_key
        ).exists()
    ):
        return []
    if visit.status != VisitStatus.CHECKED_OUT:
        raise AppointmentError(_("Only a checked-out visit can be refunded."), code="state")
    left = visit_net_paid(visit)
    if amount > left:
        raise AppointmentError(
            _("At most %(left)s is left to refund on this visit.") % {"left": format_cny(left)},
            field="amount",
        )
    refunded_before = to_money(visit.amount_paid) - left
    net: defaultdict = defaultdict(lambda: ZERO)
    for method, paid in visit.payments.values_list("method", "amount"):
        net[method] += paid
    now, rows, wanted = timezone.now(), [], amount
    for method, available in sorted(net.items(), key=lambda kv: (-kv[1], kv[0])):
        if wanted <= 0 or available <= 0:
            continue
        part = min(available, wanted)
        wanted -= part
        rows.append(
            Payment(
                visit=visit,
                method=method,
                amount=-part,
                at=now,
                reference=(_("Partial refund") + ": " + reason)[:100],
                by=actor if getattr(actor, "pk", None) else None,
            )
        )
    Payment.objects.bulk_create(rows)
    key = refund_key or f"refund:{visit.pk}:{now.timestamp()}"
    points_back = 0
    if visit.points_earned and visit.amount_paid > 0:
        paid = to_money(visit.amount_paid)
        before = _round_points(Decimal(visit.points_earned) * refunded_before / paid)
        after = _round_points(Decimal(visit.points_earned) * (refunded_before + amount) / paid)
        points_back = after - before
        if points_back > 0:
            from loyalty.services import points_reverse

            points_reverse(
                actor=actor,
                earn_key=f"{integration.visit_source_key(visit)}:earn",
                reason=reason,
                idempotency_key=f"{integration.visit_source_key(visit)}:earn:refund:{key}"[:100],
                points=points_back,
            )
    _visit_event(visit, "refunded", actor=actor, detail=f"{format_cny(amount)} {reason}")
    audit_record(
        actor=actor,
        action=REFUND_ACTION,
        target=visit,
        changes={
            "amount": amount,
            "reason": reason,
            "refunded": [[p.method, str(-p.amount)] for p in rows],
            "points": points_back,
            "key": key,
        },
    )
    pk = visit.pk
    transaction.on_commit(
        lambda: visit_refunded.send(
            sender=Visit, visit=Visit.objects.get(pk=pk), amount=amount, refund_key=key, reason=reason
        )
    )
    return rows
