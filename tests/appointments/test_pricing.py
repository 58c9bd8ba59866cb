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
    PricingInput,
    UnitGrant,
    price,
    step_manual,
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
                ),
                max_size=2,
            )
        ),
        manual_amount=draw(money),
        manual_label="主管折扣",
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


ORDER = ["allowance", "entitlement", "tier", "coupon", "manual"]


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
    assert PRICING_STEPS[2] is step_tier


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
