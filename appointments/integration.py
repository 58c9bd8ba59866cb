"""The seams to apps that are built alongside this one (loyalty, coupons) and to the outbox.

Each function is small and keeps working when the other side is not installed yet, so the
booking and checkout code calls one stable name and the wiring happens here.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import apps
from django.db import transaction

from clinic.notifications.models import Channel, Purpose


def _optional(module: str, name: str):
    """``module.name`` if that app is installed and exposes it, else None."""
    app_label = module.split(".", 1)[0]
    if not apps.is_installed(app_label):
        return None
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def member_has_priority_booking(member) -> bool:
    """Whether the person's tier may book held-back slots (金卡/钻石). False until loyalty
    exposes ``loyalty.selectors.member_has_priority_booking``."""
    fn = _optional("loyalty.selectors", "member_has_priority_booking")
    return bool(fn(member)) if fn else False


def notify_member(
    *, member, template_key: str, params: dict[str, Any], dedupe_key: str, branch=None, actor=None
):
    """Queue a service message to a person in the caller's transaction.

    Returns ``(outbox_row, "")``, or ``(None, why)`` when the person may not or cannot be
    messaged (closed record, no phone, opted out). Goes through members' ``member_notify``
    (channels, opt-outs, language) when it exists, else straight to the outbox by SMS.
    """
    fn = _optional("members.notify", "member_notify")
    if fn is not None:
        from members.errors import MemberError

        try:
            with transaction.atomic():
                row = fn(
                    member=member,
                    template_key=template_key,
                    params=params,
                    purpose=Purpose.SERVICE,
                    dedupe_key=dedupe_key,
                    actor=actor,
                )
        except MemberError as exc:
            return None, str(exc.message)
        return row, ""
    if not member.phone:
        return None, "no phone"
    from clinic.notifications.services import notification_enqueue

    row = notification_enqueue(
        channel=Channel.SMS,
        recipient=member.phone,
        template_key=template_key,
        params=params,
        purpose=Purpose.SERVICE,
        dedupe_key=dedupe_key,
        language=member.language or "zh-hans",
        actor=actor,
        branch=branch,
    )
    return row, ""


# --- checkout: loyalty (issue 5) and coupons (issue 6) ----------------------------------------
# Loyalty is called through these functions only; each keeps working (list price, no points)
# while loyalty is not installed. Coupons plug in at ``coupon_quotes`` and ``after_checkout``.


def _membership(member):
    """The person's loyalty membership, looked up once per member object (a checkout prices
    with it several times)."""
    if not hasattr(member, "_appointments_membership"):
        fn = _optional("loyalty.selectors", "membership_for")
        member._appointments_membership = fn(member) if fn else None
    return member._appointments_membership


def tier_pricing(member, categories) -> tuple[dict[int, Any], str]:
    """(category id → discount percent, label) of the person's tier."""
    membership = _membership(member)
    percent = _optional("loyalty.selectors", "tier_discount_percent")
    if membership is None or percent is None:
        return {}, ""
    from django.utils.translation import gettext as _

    label = _("%(tier)s discount") % {"tier": membership.tier}
    return {c.pk: percent(membership.tier, c) for c in categories}, label


def allowance_grants(member, item_ids) -> list:
    """Yearly benefits left this membership year, as ``pricing.UnitGrant`` over the catalog
    items each benefit covers (``APPOINTMENTS_ALLOWANCE_ITEMS``: kind → item codes)."""
    membership = _membership(member)
    status = _optional("loyalty.services", "allowance_status")
    if membership is None or status is None:
        return []
    from clinic.models import ServiceItem

    from . import conf
    from .pricing import UnitGrant

    codes = conf.get("APPOINTMENTS_ALLOWANCE_ITEMS")
    grants = []
    for s in status(membership):
        if s.remaining <= 0 or s.kind not in codes:
            continue
        ids = frozenset(
            ServiceItem.objects.filter(code__in=codes[s.kind], pk__in=item_ids).values_list("pk", flat=True)
        )
        if ids:
            grants.append(
                UnitGrant(ref=f"allowance:{s.kind}", label=str(s.label), item_ids=ids, units=s.remaining)
            )
    return grants


def entitlement_grants(member, item_ids) -> list:
    """Free services bought with points (``loyalty.rewards``), as ``pricing.UnitGrant``."""
    fn = _optional("loyalty.rewards", "entitlement_grants_for")
    if fn is None:
        return []
    from .pricing import UnitGrant

    return [
        UnitGrant(ref=g.ref, label=str(g.label), item_ids=g.item_ids, units=g.units)
        for g in fn(member, item_ids)
    ]


def coupon_quotes(*, member, codes, visit) -> list:
    """``loyalty.coupons.coupons_validate`` over the visit's lines, as ``pricing.CouponQuote``
    (the amount already worked out by loyalty: percentage, cap, free item, after the tier
    discount — or at list price for a coupon that excludes the tier discount, which pricing
    then weighs against it; the eligible items, so the amount lands only on them). A
    refusal becomes an ``AppointmentError`` on the coupons field with loyalty's Chinese
    reason."""
    codes = [c for c in (codes or []) if c]
    if not codes:
        return []
    from django.utils.translation import gettext as _

    from .errors import AppointmentError

    validate = _optional("loyalty.coupons", "coupons_validate")
    cart_line = _optional("loyalty.coupons", "CartLine")
    if validate is None or cart_line is None:
        raise AppointmentError(_("Coupons cannot be used yet."), field="coupons")
    from loyalty.errors import LoyaltyError

    from .pricing import CouponQuote

    lines = list(visit.lines.select_related("item__category"))
    percents, _label = tier_pricing(member, {line.item.category for line in lines})
    cart = [
        cart_line(
            item_id=line.item_id,
            category_id=line.item.category_id,
            unit_price=line.unit_price,
            quantity=line.quantity,
            tier_percent=percents.get(line.item.category_id, 0),
        )
        for line in lines
    ]
    try:
        offers = validate(codes, member=member, lines=cart)
    except LoyaltyError as exc:
        raise AppointmentError(exc.message, field="coupons") from exc
    return [
        CouponQuote(
            ref=o.ref,
            label=o.label,
            amount_off=o.amount,
            category_ids=o.category_ids,
            item_ids=o.item_ids,
            with_tier=o.with_tier,
        )
        for o in offers
    ]


def visit_source_key(visit) -> str:
    return f"visit:{visit.pk}"


def after_checkout(*, actor, visit, result) -> int:
    """In the checkout transaction: consume the allowances used, record the purchase (which
    earns points and re-evaluates the tier, idempotent on ``visit:<id>``). Returns the points
    earned."""
    source = visit_source_key(visit)
    _stored_value_spend(actor=actor, visit=visit, source=source)
    consume = _optional("loyalty.services", "allowance_consume")
    for ref, units in result.consumed.items():
        if ref.startswith("allowance:") and consume:
            kind = ref.split(":", 1)[1]
            for i in range(units):
                consume(
                    actor=actor, member=visit.member, kind=kind, source_key=f"{source}:allowance:{kind}:{i}"
                )
    use = _optional("loyalty.rewards", "entitlement_use")
    for ref in result.consumed:
        if ref.startswith("entitlement:") and use:
            from loyalty.errors import LoyaltyError

            from .errors import AppointmentError

            try:
                use(
                    actor=actor,
                    entitlement_id=int(ref.split(":", 1)[1]),
                    member=visit.member,
                    source_key=source,
                )
            except LoyaltyError as exc:  # used by a concurrent checkout
                raise AppointmentError(exc.message, field="payments") from exc
    redeem = _optional("loyalty.coupons", "coupon_redeem")
    for ref in result.consumed:
        if ref.startswith("coupon:") and redeem:
            from loyalty.errors import LoyaltyError

            from .errors import AppointmentError

            try:
                redeem(actor=actor, code=ref.split(":", 1)[1], member=visit.member, source_key=source)
            except LoyaltyError as exc:  # lost the race for the coupon to another checkout
                raise AppointmentError(exc.message, field="coupons") from exc
    record = _optional("loyalty.services", "purchase_record")
    if record is None:
        return 0
    by_category: dict[str, Any] = {}
    for priced in result.lines:
        key = str(priced.line.category_id)
        by_category[key] = by_category.get(key, 0) + priced.net
    record(
        actor=actor,
        member=visit.member,
        amount=result.amount_due,
        source_key=source,
        occurred_at=visit.checked_out_at,
        eligible_by_category=by_category,
        branch=visit.branch,
    )
    reward = _optional("loyalty.referrals", "referral_reward_check")
    if reward:
        reward(actor=actor, member=visit.member, source_key=source)
    from loyalty.models import PointsEntry

    earned = (
        PointsEntry.objects.filter(idempotency_key=f"{source}:earn").values_list("points", flat=True).first()
    )
    return int(earned or 0)


def _stored_value_spend(*, actor, visit, source: str) -> None:
    """The 会员余额 payment lines of a checkout are paid from the member's stored value
    (loyalty: paid part first, then bonus). Not enough balance fails the whole checkout on
    the payments field with loyalty's message."""
    from django.db.models import Sum

    from .errors import AppointmentError
    from .models import PaymentMethod

    amount = visit.payments.filter(method=PaymentMethod.MEMBER_BALANCE, reverses__isnull=True).aggregate(
        total=Sum("amount")
    )["total"]
    if not amount:
        return
    spend = _optional("loyalty.services", "stored_value_spend")
    if spend is None:
        from django.utils.translation import gettext as _

        raise AppointmentError(_("Member balance cannot be used yet."), field="payments")
    from loyalty.errors import LoyaltyError

    try:
        spend(
            actor=actor,
            member=visit.member,
            amount=amount,
            idempotency_key=f"{source}:stored_value",
            source_key=source,
            branch=visit.branch,
        )
    except LoyaltyError as exc:
        raise AppointmentError(exc.message, field="payments") from exc


def stored_value_for_receipt(visit):
    """What the visit paid from stored value and the balance left after it, or None."""
    fn = _optional("loyalty.selectors", "stored_value_for_source")
    return fn(visit_source_key(visit)) if fn else None


def stored_value_balance(member):
    """The person's stored value (paid + bonus) for the checkout form, or None without one."""
    fn = _optional("loyalty.selectors", "stored_value_account")
    account = fn(member) if fn else None
    return account.balance if account else None


def after_void(*, actor, visit, reason: str) -> None:
    """In the void transaction: loyalty reverses the purchase (points, tier count, allowances
    used under ``visit:<id>:…``); the coupons it used are given back; what it paid from
    stored value is restored."""
    restore_balance = _optional("loyalty.services", "stored_value_restore")
    if restore_balance:
        restore_balance(actor=actor, source_key=visit_source_key(visit), reason=reason)
    reverse = _optional("loyalty.services", "purchase_reverse")
    if reverse:
        reverse(actor=actor, source_key=visit_source_key(visit), reason=reason)
    unreward = _optional("loyalty.referrals", "referral_reverse")
    if unreward:
        unreward(actor=actor, source_key=visit_source_key(visit))
    give_back = _optional("loyalty.rewards", "entitlement_restore")
    if give_back:
        give_back(actor=actor, source_key=visit_source_key(visit))
    restore = _optional("loyalty.coupons", "coupon_restore")
    if restore:
        restore(actor=actor, source_key=visit_source_key(visit))
