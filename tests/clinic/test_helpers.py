"""Money and phone helpers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.money import MoneyError, format_cny, percent_of, to_money
from clinic.phones import PhoneError, mask_phone, normalize_phone


def test_to_money_rounds_half_up():
    assert to_money("2.345") == Decimal("2.35")
    assert to_money("2.344") == Decimal("2.34")
    assert to_money("-2.345") == Decimal("-2.35")
    assert to_money(3) == Decimal("3.00")


def test_to_money_refuses_floats_and_garbage():
    with pytest.raises(MoneyError):
        to_money(0.1)
    with pytest.raises(MoneyError):
        to_money("abc")
    with pytest.raises(MoneyError):
        to_money("NaN")


@given(st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False, places=4))
def test_to_money_is_idempotent_and_within_half_a_cent(value):
    once = to_money(value)
    assert to_money(once) == once
    assert abs(once - value) <= Decimal("0.005")
    assert once.as_tuple().exponent == -2


@given(
    st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False),
    st.integers(min_value=0, max_value=100),
)
def test_percent_of_never_exceeds_the_amount(amount, percent):
    part = percent_of(amount, percent)
    assert Decimal("0") <= part <= to_money(amount)


def test_format_cny():
    assert format_cny(Decimal("1280")) == "¥1,280.00"
    assert format_cny("-5.5") == "-¥5.50"


def test_money_and_phone_template_filters():
    from django.template import Context, Template

    out = Template(
        "{% load clinic_tags %}{{ a|cny }}|{{ d|cny_off }}|{{ p|phone }}|{{ m|phone }}|{{ bad|phone }}"
    ).render(
        Context(
            {
                "a": Decimal("5166"),
                "d": Decimal("50"),
                "p": "+862162881234",
                "m": "+8613812345678",
                "bad": "x1",
            }
        )
    )
    assert out == "¥5,166.00|-¥50.00|021 6288 1234|138 1234 5678|x1"


def test_no_template_or_message_glues_a_yuan_sign_to_a_raw_amount():
    """Money is rendered by format_cny / |cny only: a literal ¥ before a placeholder or a
    variable is the second format (¥5166.00 next to ¥5,166.00)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"¥(\{\{|%\(|\{[a-z_])")
    offenders = [
        str(path.relative_to(root))
        for folder in (
            "templates",
            "clinic",
            "members",
            "loyalty",
            "appointments",
            "marketing",
            "followups",
            "complaints",
            "reports",
        )
        if (root / folder).exists()
        for path in (root / folder).rglob("*")
        if path.suffix in {".html", ".py", ".txt"}
        and path.name != "money.py"  # the one helper
        and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "8613812345678",
        "008613812345678",
    ],
)
def test_normalize_mobile_variants(raw):
    assert normalize_phone(raw) == "+8613812345678"


def test_normalize_landline():
    assert normalize_phone("021-6288 1234") == "+862162881234"


@pytest.mark.parametrize("raw", ["", "12345", "1381234567", "abcdefghijk", "99999999999"])
def test_normalize_rejects_invalid(raw):
    with pytest.raises(PhoneError):
        normalize_phone(raw)


def test_mask_phone():
    assert mask_phone("+8613812345678") == "138****5678"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == ""
    assert mask_phone("1234") == "****"


@given(st.integers(min_value=3, max_value=9), st.integers(min_value=0, max_value=99_999_999))
def test_mask_never_shows_the_middle_of_a_mobile(second, rest):
    number = f"1{second}{rest:09d}"[:11]
    try:
        e164 = normalize_phone(number)
    except PhoneError:
        return
    masked = mask_phone(e164)
    assert masked[:3] == number[:3] and masked[-4:] == number[-4:]
    assert masked[3:-4] == "****"
