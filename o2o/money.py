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


def split_evenly(total, parts):
    """Split `total` into `parts` amounts that differ by at most a cent and sum exactly to it
    (the spare cents go to the first parts)."""
    if parts < 1:
        raise ValueError("parts must be at least 1")
    cents = int(to_money(total) * 100)
    base, spare = divmod(cents, parts)
    return [(Decimal(base + (1 if i < spare else 0)) / 100).quantize(CENT) for i in range(parts)]
