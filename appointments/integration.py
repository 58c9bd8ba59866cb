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
# Until those services land, members pay list price (no tier discount, allowance or coupon)
# and earn no points; each function below is the single place where the real call goes.


def tier_pricing(member) -> tuple[dict[int, Any], str]:
    """(category id → discount percent, label) of the person's tier."""
    fn = _optional("loyalty.selectors", "tier_discounts_for")
    if fn is None:
        return {}, ""
    return fn(member)


def allowance_grants(member, item_ids) -> list:
    """Yearly benefits left this year, as ``pricing.UnitGrant`` for the given services."""
    fn = _optional("loyalty.selectors", "allowance_grants_for")
    return list(fn(member, item_ids)) if fn else []


def entitlement_grants(member, item_ids) -> list:
    fn = _optional("loyalty.selectors", "entitlement_grants_for")
    return list(fn(member, item_ids)) if fn else []


def coupon_quotes(*, member, codes, visit) -> list:
    """``coupon_validate`` for each code, as ``pricing.CouponQuote``. Issue 6 plugs in here."""
    codes = [c for c in (codes or []) if c]
    if not codes:
        return []
    fn = _optional("loyalty.coupons", "coupon_validate")
    if fn is None:
        from django.utils.translation import gettext as _

        from .errors import AppointmentError

        raise AppointmentError(_("Coupons cannot be used yet."), field="coupons")
    return [fn(member=member, code=code, visit=visit) for code in codes]


def after_checkout(*, actor, visit, result) -> int:
    """In the checkout transaction: record the purchase, earn points, re-evaluate the tier,
    consume allowances and redeem coupons. Returns the points earned."""
    fn = _optional("loyalty.services", "visit_checkout_record")
    return int(fn(actor=actor, visit=visit, result=result) or 0) if fn else 0


def after_void(*, actor, visit, reason: str) -> None:
    """In the void transaction: reverse points, allowances, coupons, tier effects and
    referral rewards of the visit."""
    fn = _optional("loyalty.services", "visit_void_record")
    if fn:
        fn(actor=actor, visit=visit, reason=reason)
