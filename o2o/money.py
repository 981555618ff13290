"""Money helpers: Decimal only, two places, ROUND_HALF_UP where the design says to round."""

from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def to_money(value):
    """Round to cents, half up (DESIGN §5). Accepts Decimal, int or str — never float."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def share(amount, rate):
    """`amount` × `rate`, rounded half up to cents: commission, fees."""
    return to_money(Decimal(amount) * Decimal(rate))
