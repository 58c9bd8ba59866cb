"""Checkout pricing: a pure function over the charge lines, in a documented order of steps.

``PRICING_STEPS`` is the order discounts apply (docs/appointments.md):

1. **allowances** — yearly benefits (e.g. a free cleaning) take whole units off at list price;
2. **entitlements** — reward redemptions that grant a service, the same way;
3. **tier** — the tier's percentage per service category, on what is left of each line;
4. **coupons** — ``coupon_validate`` quotes (issue 6 plugs in here), on what is left;
5. **manual** — a supervisor's amount off, spread over the lines in proportion.

Every step works on each line's remaining net amount and never takes it below zero, so the
result is never negative and never above the list price, whatever the combination.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from clinic.money import ZERO, to_money


@dataclass
class LineInput:
    key: int
    item_id: int
    category_id: int
    unit_price: Decimal
    quantity: int = 1


@dataclass(frozen=True)
class UnitGrant:
    """Whole units of some services free of charge (a yearly allowance or a reward)."""

    ref: str
    label: str
    item_ids: frozenset[int]
    units: int


@dataclass(frozen=True)
class CouponQuote:
    """What ``coupon_validate`` answers for one code: an amount or a percentage off the
    eligible lines (all lines when ``category_ids`` is empty), above a minimum spend."""

    ref: str
    label: str
    amount_off: Decimal = ZERO
    percent_off: Decimal = ZERO
    category_ids: frozenset[int] = frozenset()
    min_spend: Decimal = ZERO


@dataclass
class Applied:
    kind: str
    label: str
    amount: Decimal
    ref: str = ""
    line_key: int | None = None


@dataclass
class PricedLine:
    line: LineInput
    list_amount: Decimal
    net: Decimal
    discounts: list[Applied] = field(default_factory=list)


@dataclass
class PricingInput:
    lines: list[LineInput]
    tier_percent: dict[int, Decimal] = field(default_factory=dict)  # category id → percent
    tier_label: str = ""
    allowances: list[UnitGrant] = field(default_factory=list)
    entitlements: list[UnitGrant] = field(default_factory=list)
    coupons: list[CouponQuote] = field(default_factory=list)
    manual_amount: Decimal = ZERO
    manual_label: str = ""


@dataclass
class PricingResult:
    lines: list[PricedLine]
    applied: list[Applied]
    consumed: dict[str, int] = field(default_factory=dict)  # grant ref → units used

    @property
    def list_total(self) -> Decimal:
        return to_money(sum((p.list_amount for p in self.lines), ZERO))

    @property
    def amount_due(self) -> Decimal:
        return to_money(sum((p.net for p in self.lines), ZERO))

    @property
    def discount_total(self) -> Decimal:
        return self.list_total - self.amount_due


def _take(priced: PricedLine, amount: Decimal, applied: Applied, out: list[Applied]) -> Decimal:
    amount = min(to_money(amount), priced.net)
    if amount <= 0:
        return ZERO
    priced.net -= amount
    entry = Applied(applied.kind, applied.label, amount, applied.ref, priced.line.key)
    priced.discounts.append(entry)
    out.append(entry)
    return amount


def _grants(
    kind: str, grants: list[UnitGrant], lines: list[PricedLine], out: list[Applied], consumed: dict[str, int]
):
    for grant in grants:
        left = grant.units - consumed.get(grant.ref, 0)
        for p in lines:
            if left <= 0:
                break
            if p.line.item_id not in grant.item_ids:
                continue
            units = min(left, p.line.quantity)
            taken = _take(p, p.line.unit_price * units, Applied(kind, grant.label, ZERO, grant.ref), out)
            if taken > 0:
                left -= units
                consumed[grant.ref] = consumed.get(grant.ref, 0) + units


def step_allowances(
    data: PricingInput, lines: list[PricedLine], out: list[Applied], consumed: dict[str, int]
) -> None:
    _grants("allowance", data.allowances, lines, out, consumed)


def step_entitlements(
    data: PricingInput, lines: list[PricedLine], out: list[Applied], consumed: dict[str, int]
) -> None:
    _grants("entitlement", data.entitlements, lines, out, consumed)


def step_tier(
    data: PricingInput, lines: list[PricedLine], out: list[Applied], consumed: dict[str, int]
) -> None:
    for p in lines:
        percent = Decimal(data.tier_percent.get(p.line.category_id, 0))
        if percent > 0:
            _take(p, p.net * min(percent, Decimal(100)) / 100, Applied("tier", data.tier_label, ZERO), out)


def _spread(total: Decimal, lines: list[PricedLine], applied: Applied, out: list[Applied]) -> None:
    """Take ``total`` off ``lines`` in proportion to their remaining net; the last line takes
    the rounding remainder, so the parts add up to the cent."""
    lines = [p for p in lines if p.net > 0]
    base = sum((p.net for p in lines), ZERO)
    total = min(to_money(total), base)
    if total <= 0:
        return
    left = total
    for i, p in enumerate(lines):
        part = left if i == len(lines) - 1 else min(to_money(total * p.net / base), left)
        left -= _take(p, part, applied, out)


def step_coupons(
    data: PricingInput, lines: list[PricedLine], out: list[Applied], consumed: dict[str, int]
) -> None:
    for quote in data.coupons:
        eligible = [p for p in lines if not quote.category_ids or p.line.category_id in quote.category_ids]
        base = sum((p.net for p in eligible), ZERO)
        if base <= 0 or base < quote.min_spend:
            continue
        amount = quote.amount_off + base * min(quote.percent_off, Decimal(100)) / 100
        _spread(amount, eligible, Applied("coupon", quote.label, ZERO, quote.ref), out)
        consumed[quote.ref] = 1


def step_manual(
    data: PricingInput, lines: list[PricedLine], out: list[Applied], consumed: dict[str, int]
) -> None:
    if data.manual_amount > 0:
        _spread(data.manual_amount, lines, Applied("manual", data.manual_label, ZERO), out)


Step = Callable[[PricingInput, list[PricedLine], list[Applied], dict[str, int]], None]
PRICING_STEPS: list[Step] = [step_allowances, step_entitlements, step_tier, step_coupons, step_manual]


def price(data: PricingInput, steps: list[Step] | None = None) -> PricingResult:
    lines = []
    for line in data.lines:
        amount = to_money(line.unit_price * line.quantity)
        lines.append(PricedLine(line=line, list_amount=amount, net=amount))
    applied: list[Applied] = []
    consumed: dict[str, int] = {}
    for step in steps or PRICING_STEPS:
        step(data, lines, applied, consumed)
    return PricingResult(lines=lines, applied=applied, consumed=consumed)
