"""Money as people type it ("4.50", "4,50", 12) → integer cents, refused when it is no amount."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MAX_CENTS = 10**9  # 10,000,000.00 in the shop's currency


def parse_amount(value) -> int:
    """Cents from a string or number with at most 2 decimals, 0 to 10,000,000. Raises ValueError."""
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidOperation
        amount = Decimal(str(value).strip().replace(",", "."))
        if not amount.is_finite() or amount != round(amount, 2):
            raise InvalidOperation
    except InvalidOperation:
        raise ValueError(
            f"{value!r} is not an amount: write it with at most 2 decimals, like 4.50."
        ) from None
    cents = int(amount * 100)
    if not 0 <= cents <= MAX_CENTS:
        raise ValueError(f"{value!r} is out of range: amounts go from 0 to 10,000,000.")
    return cents
