"""Pricing: every combination of allowance, entitlement, tier, coupon and manual discount.
Never negative, never above list price, applied in the documented order, to the cent."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from appointments.pricing import (
    PRICING_STEPS,
    CouponQuote,
    LineInput,
    PriceRule,
    PricingInput,
    UnitGrant,
    price,
    step_manual,
    step_price_rules,
    step_tier,
)

money = st.decimals(min_value=Decimal("0"), max_value=Decimal("20000"), places=2)
lines_st = st.lists(
    st.builds(
        LineInput,
        key=st.integers(1, 10**6),
        item_id=st.integers(1, 5),
        category_id=st.integers(1, 3),
        unit_price=money,
        quantity=st.integers(1, 5),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda line: line.key,
)
percent = st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=2)


@st.composite
def pricing_inputs(draw):
    return PricingInput(
        lines=draw(lines_st),
        tier_percent=draw(st.dictionaries(st.integers(1, 3), percent, max_size=3)),
        tier_label="金卡折扣",
        allowances=draw(
            st.lists(
                st.builds(
                    UnitGrant,
                    ref=st.just("allowance:cleaning"),
                    label=st.just("免费洁牙"),
                    item_ids=st.frozensets(st.integers(1, 5), max_size=2),
                    units=st.integers(0, 3),
                ),
                max_size=1,
            )
        ),
        entitlements=draw(
            st.lists(
                st.builds(
                    UnitGrant,
                    ref=st.just("reward:1"),
                    label=st.just("兑换"),
                    item_ids=st.frozensets(st.integers(1, 5), max_size=2),
                    units=st.integers(0, 2),
                ),
                max_size=1,
            )
        ),
        coupons=draw(
            st.lists(
                st.builds(
                    CouponQuote,
                    ref=st.sampled_from(["coupon:A", "coupon:B"]),
                    label=st.just("优惠券"),
                    amount_off=money,
                    percent_off=percent,
                    category_ids=st.frozensets(st.integers(1, 3), max_size=2),
                    min_spend=money,
                    item_ids=st.frozensets(st.integers(1, 5), max_size=3),
                    with_tier=st.booleans(),
                ),
                max_size=2,
            )
        ),
        manual_amount=draw(money),
        manual_label="主管折扣",
        price_rules=draw(
            st.lists(
                st.one_of(
                    st.builds(
                        PriceRule,
                        ref=st.sampled_from(["campaign-price:1", "campaign-price:2"]),
                        label=st.just("会员日特价"),
                        item_id=st.integers(1, 5),
                        price=money,
                        with_tier=st.booleans(),
                    ),
                    st.builds(
                        PriceRule,
                        ref=st.sampled_from(["campaign-price:3", "campaign-price:4"]),
                        label=st.just("会员日特价"),
                        item_id=st.integers(1, 5),
                        percent_off=percent,
                        with_tier=st.booleans(),
                    ),
                ),
                max_size=2,
            )
        ),
    )


@settings(max_examples=300, deadline=None)
@given(pricing_inputs())
def test_never_negative_never_above_list_and_adds_up(data):
    result = price(data)
    for p in result.lines:
        assert Decimal(0) <= p.net <= p.list_amount
        assert p.net == p.list_amount - sum((a.amount for a in p.discounts), Decimal(0))
        assert p.net == p.net.quantize(Decimal("0.01"))
    assert Decimal(0) <= result.amount_due <= result.list_total
    assert result.discount_total == sum((a.amount for a in result.applied), Decimal(0))
    assert all(a.amount > 0 for a in result.applied)


ORDER = ["allowance", "entitlement", "promotion", "tier", "coupon", "manual"]


@settings(max_examples=200, deadline=None)
@given(pricing_inputs())
def test_discounts_apply_in_the_documented_order(data):
    kinds = [a.kind for a in price(data).applied]
    assert kinds == sorted(kinds, key=ORDER.index)


def test_the_order_matters_and_is_the_documented_one():
    line = LineInput(1, 1, 1, Decimal("1000"), 1)
    data = PricingInput(lines=[line], tier_percent={1: Decimal("10")}, manual_amount=Decimal("100"))
    assert price(data).amount_due == Decimal("800.00")  # 1000 − 10% − 100
    assert price(data, steps=[step_manual, step_tier]).amount_due == Decimal("810.00")
    assert PRICING_STEPS[2] is step_price_rules and PRICING_STEPS[3] is step_tier


def test_allowance_takes_whole_units_and_reports_what_it_used():
    data = PricingInput(
        lines=[LineInput(1, 7, 1, Decimal("280"), 3)],
        allowances=[UnitGrant("allowance:cleaning", "免费洁牙", frozenset({7}), 2)],
        tier_percent={1: Decimal("20")},
    )
    result = price(data)
    assert result.consumed == {"allowance:cleaning": 2}
    assert result.amount_due == Decimal("224.00")  # one unit left, 20% off


def test_coupon_minimum_spend_and_categories():
    lines = [LineInput(1, 1, 1, Decimal("100"), 1), LineInput(2, 2, 2, Decimal("500"), 1)]
    quote = CouponQuote(
        "coupon:A",
        "满300减50",
        amount_off=Decimal("50"),
        category_ids=frozenset({2}),
        min_spend=Decimal("300"),
    )
    result = price(PricingInput(lines=lines, coupons=[quote]))
    assert result.amount_due == Decimal("550.00")
    assert result.lines[0].net == Decimal("100.00")
    too_small = CouponQuote("coupon:B", "满1000减50", amount_off=Decimal("50"), min_spend=Decimal("1000"))
    assert price(PricingInput(lines=lines, coupons=[too_small])).amount_due == Decimal("600.00")


def test_manual_discount_spreads_to_the_cent():
    lines = [LineInput(i, i, 1, Decimal("33.33"), 1) for i in range(1, 4)]
    result = price(PricingInput(lines=lines, manual_amount=Decimal("10")))
    assert result.amount_due == Decimal("89.99")
    assert sum(a.amount for a in result.applied) == Decimal("10.00")


# --- coupons limited to items, and coupons that exclude the tier discount ------------------


def test_an_item_limited_coupon_lands_only_on_its_items_in_proportion():
    lines = [
        LineInput(1, 1, 1, Decimal("300"), 1),
        LineInput(2, 2, 1, Decimal("100"), 1),  # same category, not an eligible item
        LineInput(3, 3, 1, Decimal("200"), 1),
    ]
    quote = CouponQuote("coupon:A", "洁牙补牙券", amount_off=Decimal("100"), item_ids=frozenset({1, 3}))
    result = price(PricingInput(lines=lines, coupons=[quote]))
    nets = [p.net for p in result.lines]
    assert nets == [Decimal("240.00"), Decimal("100.00"), Decimal("160.00")]  # 60 + 40, line 2 untouched
    big = CouponQuote("coupon:B", "减1000", amount_off=Decimal("1000"), item_ids=frozenset({1, 3}))
    result = price(PricingInput(lines=lines, coupons=[big]))
    assert [p.net for p in result.lines] == [Decimal("0.00"), Decimal("100.00"), Decimal("0.00")]
    assert result.discount_total == Decimal("500.00")  # never above the eligible subtotal


def test_an_uneven_spread_adds_up_to_the_cent():
    lines = [LineInput(i, i, 1, Decimal("33.33"), 1) for i in range(1, 5)]
    quote = CouponQuote("coupon:A", "券", amount_off=Decimal("10"), item_ids=frozenset({1, 2, 3}))
    result = price(PricingInput(lines=lines, coupons=[quote]))
    assert sum(a.amount for a in result.applied) == Decimal("10.00")
    assert result.lines[3].net == Decimal("33.33")


def exclusive_world(amount: str):
    lines = [
        LineInput(1, 1, 1, Decimal("280"), 1),  # the coupon's item, 10% tier discount
        LineInput(2, 2, 1, Decimal("100"), 1),  # same category, not the coupon's: keeps the tier
    ]
    quote = CouponQuote(
        "coupon:A", "满200减X", amount_off=Decimal(amount), item_ids=frozenset({1}), with_tier=False
    )
    return PricingInput(lines=lines, tier_percent={1: Decimal("10")}, tier_label="金卡折扣", coupons=[quote])


def test_a_coupon_that_excludes_the_tier_discount_replaces_it_when_it_saves_more():
    result = price(exclusive_world("50"))
    assert result.amount_due == Decimal("320.00")  # 280 − 50, and 100 − 10%
    line1 = [a.kind for a in result.lines[0].discounts]
    assert line1 == ["coupon"] and [a.kind for a in result.lines[1].discounts] == ["tier"]
    assert result.consumed == {"coupon:A": 1}
    [(ref, note)] = result.notes
    assert ref == "coupon:A" and "50.00" in note and "28.00" in note


def test_the_tier_discount_stays_when_it_saves_more_and_the_coupon_is_kept():
    result = price(exclusive_world("20"))
    assert result.amount_due == Decimal("342.00")  # 280 − 28, 100 − 10
    assert all(a.kind == "tier" for a in result.applied)
    assert "coupon:A" not in result.consumed  # not used: the member keeps it
    [(ref, note)] = result.notes
    assert ref == "coupon:A" and "28.00" in note and "20.00" in note


def test_a_tie_keeps_the_tier_discount_and_the_coupon():
    result = price(exclusive_world("28"))
    assert result.amount_due == Decimal("342.00") and "coupon:A" not in result.consumed


def test_without_a_tier_discount_there_is_nothing_to_choose():
    data = exclusive_world("50")
    data.tier_percent = {}
    result = price(data)
    assert result.amount_due == Decimal("330.00") and result.notes == []


@settings(max_examples=200, deadline=None)
@given(pricing_inputs())
def test_an_exclusive_coupon_never_costs_the_member_more(data):
    """With one coupon that excludes the tier discount, the price is never above either
    way of applying it: ignoring the coupon, or using it instead of the tier discount."""
    from dataclasses import replace

    exclusive = [q for q in data.coupons if not q.with_tier]
    if len(exclusive) != 1:
        return
    quote = exclusive[0]
    result = price(data)
    ignore = price(replace(data, coupons=[q for q in data.coupons if q is not quote]))
    keys = frozenset(line.key for line in data.lines if quote.covers(line))
    instead = price(replace(data, tier_skip=keys, coupons=[replace(q, with_tier=True) for q in data.coupons]))
    assert result.amount_due <= ignore.amount_due
    assert result.amount_due <= instead.amount_due
