"""Money is Decimal in CNY, rounded in one place with ROUND_HALF_UP. Never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyError(ValueError):
    pass


def to_money(value: Decimal | int | str) -> Decimal:
    """Round to the cent, half up. Floats are refused: they have already lost the cent."""
    if isinstance(value, float):
        raise MoneyError("float is not accepted for money; pass a Decimal, int or str")
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise MoneyError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise MoneyError(f"not an amount: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, percent: Decimal | int | str) -> Decimal:
    """``percent``% of ``amount``, rounded once at the end."""
    return to_money(Decimal(amount) * Decimal(percent) / Decimal(100))


def format_cny_short(amount: Decimal | int | str) -> str:
    """``¥300`` for whole yuan, else ``¥12.50``: the few words of a printed coupon ticket."""
    value = to_money(amount)
    if value == value.to_integral_value():
        sign = "-" if value < 0 else ""
        return f"{sign}¥{abs(value):,.0f}"
    return format_cny(value)


def format_cny(amount: Decimal | int | str) -> str:
    """``¥1,280.00``; negative amounts as ``-¥1,280.00``."""
    value = to_money(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}¥{abs(value):,.2f}"
