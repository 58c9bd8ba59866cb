"""Checkout pricing: a pure function over the charge lines, in a documented order of steps.

``PRICING_STEPS`` is the order discounts apply (docs/appointments.md):

1. **allowances** — yearly benefits (e.g. a free cleaning) take whole units off at list price;
2. **entitlements** — reward redemptions that grant a service, the same way;
2½. **price rules** — temporary prices that higher apps register (a campaign's member-day
   price: a special price or a percentage off an item), on what is left of the line; the
   best rule for the member wins where several hold; one that excludes the tier discount
   puts its lines in ``tier_skip``;
3. **tier** — the tier's percentage per service category, on what is left of each line;
4. **coupons** — ``coupon_validate`` quotes (issue 6 plugs in here), on what is left of
   their eligible lines only (items and/or categories), spread in proportion to those lines;
5. **manual** — a supervisor's amount off, spread over the lines in proportion.

Every step works on each line's remaining net amount and never takes it below zero, so the
result is never negative and never above the list price, whatever the combination.

A coupon that may not be combined with the tier discount (``CouponQuote.with_tier`` False)
is priced both ways — the coupon instead of the tier discount on its eligible lines, or the
tier discount and no coupon — and the cheaper total for the member wins (a tie keeps the
tier discount and leaves the coupon unused for another visit). ``PricingResult.notes`` says
which way it went and why, for the checkout page and the receipt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.utils.translation import gettext as _

from clinic.money import ZERO, format_cny, to_money


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
    eligible lines, above a minimum spend. A line is eligible when its item is in
    ``item_ids`` and its category in ``category_ids`` (an empty set does not restrict).
    ``with_tier`` False: not together with the tier discount on the eligible lines."""

    ref: str
    label: str
    amount_off: Decimal = ZERO
    percent_off: Decimal = ZERO
    category_ids: frozenset[int] = frozenset()
    min_spend: Decimal = ZERO
    item_ids: frozenset[int] = frozenset()
    with_tier: bool = True

    def covers(self, line: LineInput) -> bool:
        return (not self.item_ids or line.item_id in self.item_ids) and (
            not self.category_ids or line.category_id in self.category_ids
        )


@dataclass(frozen=True)
class PriceRule:
    """A temporary price of one item: ``price`` per unit, or ``percent_off``."""

    ref: str
    label: str
    item_id: int
    price: Decimal | None = None
    percent_off: Decimal = ZERO
    with_tier: bool = False  # a special price usually stands alone (特价不再打折)

    def off(self, unit_price: Decimal) -> Decimal:
        """The share of the line this rule takes off (0–1)."""
        if unit_price <= 0:
            return ZERO
        if self.price is not None:
            return max(ZERO, min(Decimal(1), (unit_price - self.price) / unit_price))
        return max(ZERO, min(Decimal(100), self.percent_off)) / 100


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
    price_rules: list[PriceRule] = field(default_factory=list)
    # Line keys where the tier discount gives way to a coupon that excludes it (set by
    # ``price`` when that is better for the member).
    tier_skip: frozenset[int] = frozenset()


@dataclass
class PricingResult:
    lines: list[PricedLine]
    applied: list[Applied]
    consumed: dict[str, int] = field(default_factory=dict)  # grant ref → units used
    # Why a coupon replaced the tier discount, or was left unused: (coupon ref, sentence).
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def list_total(self) -> Decimal:
        return to_money(sum((p.list_amount for p in self.lines), ZERO))

    @property
    def amount_due(self) -> Decimal:
        return to_money(sum((p.net for p in self.lines), ZERO))

    @property
    def discount_total(self) -> Decimal:
        return self.list_total - self.amount_due

    @property
    def discount_rows(self) -> list[DiscountRow]:
        return discount_rows(self.applied)


@dataclass
class DiscountRow:
    """One discount as the member reads it: a coupon or the tier discount spread over
    several charge lines is one row with the total. The per-line split stays in
    ``Applied`` / ``VisitDiscount`` (category reports and refunds need it)."""

    kind: str
    label: str
    amount: Decimal


def discount_rows(applied) -> list[DiscountRow]:
    """Group per-line discounts (``Applied`` or ``VisitDiscount`` rows, in the order applied)
    by what they are: the kind and the coupon / grant reference, else the label."""
    rows: dict[tuple[str, str], DiscountRow] = {}
    for a in applied:
        if not a.amount:
            continue
        key = (a.kind, a.ref or a.label)
        row = rows.get(key)
        if row is None:
            rows[key] = DiscountRow(a.kind, a.label, a.amount)
        else:
            row.amount += a.amount
    return list(rows.values())


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


def best_rules(data: PricingInput) -> dict[int, PriceRule]:
    """Line key → the price rule that takes most off it (a tie keeps the first registered)."""
    best: dict[int, PriceRule] = {}
    for line in data.lines:
        for rule in data.price_rules:
            off = rule.off(line.unit_price) if rule.item_id == line.item_id else ZERO
            if off > 0 and (line.key not in best or off > best[line.key].off(line.unit_price)):
                best[line.key] = rule
    return best


def step_price_rules(
    data: PricingInput, lines: list[PricedLine], out: list[Applied], consumed: dict[str, int]
) -> None:
    best = best_rules(data)
    for p in lines:
        rule = best.get(p.line.key)
        if rule is not None:
            _take(
                p, p.net * rule.off(p.line.unit_price), Applied("promotion", rule.label, ZERO, rule.ref), out
            )


def step_tier(
    data: PricingInput, lines: list[PricedLine], out: list[Applied], consumed: dict[str, int]
) -> None:
    for p in lines:
        if p.line.key in data.tier_skip:
            continue
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
        eligible = [p for p in lines if quote.covers(p.line)]
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
PRICING_STEPS: list[Step] = [
    step_allowances,
    step_entitlements,
    step_price_rules,
    step_tier,
    step_coupons,
    step_manual,
]


def price(data: PricingInput, steps: list[Step] | None = None) -> PricingResult:
    """The checkout price. Coupons that exclude the tier discount are decided one by one,
    in the order entered: each is priced with and without, keeping the cheaper total."""
    notes: list[tuple[str, str]] = []
    no_tier = frozenset(key for key, rule in best_rules(data).items() if not rule.with_tier)
    if no_tier - data.tier_skip:
        data = replace(data, tier_skip=data.tier_skip | no_tier)
    for quote in [q for q in data.coupons if not q.with_tier]:
        keys = frozenset(
            line.key
            for line in data.lines
            if quote.covers(line) and Decimal(data.tier_percent.get(line.category_id, 0)) > 0
        )
        if not keys or keys <= data.tier_skip:
            continue  # no tier discount on its lines (or already dropped there): nothing to choose
        instead = replace(data, tier_skip=data.tier_skip | keys)
        without = replace(data, coupons=[q for q in data.coupons if q is not quote])
        with_coupon, with_tier = _price(instead, steps), _price(without, steps)
        coupon_saves = sum((a.amount for a in with_coupon.applied if a.ref == quote.ref), ZERO)
        tier_saves = sum(
            (a.amount for a in with_tier.applied if a.kind == "tier" and a.line_key in keys), ZERO
        )
        figures = {"coupon": quote.label, "saves": format_cny(coupon_saves), "tier": format_cny(tier_saves)}
        if with_coupon.amount_due < with_tier.amount_due:
            data = instead
            note = _(
                "%(coupon)s replaces the tier discount on its services: the two cannot be "
                "combined, and the coupon saves more (%(saves)s against %(tier)s)."
            )
        else:
            data = without
            note = _(
                "%(coupon)s not used: it cannot be combined with the tier discount, which saves "
                "more here (%(tier)s against %(saves)s). The coupon stays valid."
            )
        notes.append((quote.ref, note % figures))
    result = _price(data, steps)
    result.notes = notes
    return result


def _price(data: PricingInput, steps: list[Step] | None = None) -> PricingResult:
    lines = []
    for line in data.lines:
        amount = to_money(line.unit_price * line.quantity)
        lines.append(PricedLine(line=line, list_amount=amount, net=amount))
    applied: list[Applied] = []
    consumed: dict[str, int] = {}
    for step in steps or PRICING_STEPS:
        step(data, lines, applied, consumed)
    return PricingResult(lines=lines, applied=applied, consumed=consumed)
