"""Money as integers: the optimizer works in micro-dollars (1 USD = 1_000_000).

Prices arrive as decimals (USD per hour or per GB); every cost the solver sees
is an integer number of micro-dollars, rounded half-even once per cost term.
Plans carry both the integer and a decimal USD value for people.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

MICRO = 1_000_000
"""Micro-dollars per dollar: the scale of every money coefficient in the model."""

USAGE_SCALE = 1000
"""Capacity usage is counted in milli-unit-hours (unit-hours × 1000, rounded up)."""


def to_micro(usd: Decimal) -> int:
    """USD (decimal) → integer micro-dollars, rounded half-even."""
    return int((usd * MICRO).to_integral_value(rounding=ROUND_HALF_EVEN))


def micro_to_usd(micro: int) -> Decimal:
    """Integer micro-dollars → USD with six decimals."""
    return (Decimal(micro) / MICRO).quantize(Decimal("0.000001"))


def cost_micro(price_per_unit: Decimal, *quantities: Decimal) -> int:
    """price × q1 × q2 … in micro-dollars, rounded once (half-even)."""
    total = price_per_unit * MICRO
    for q in quantities:
        total *= q
    return int(total.to_integral_value(rounding=ROUND_HALF_EVEN))


def usage_units(*quantities: Decimal) -> int:
    """q1 × q2 … unit-hours as integer milli-unit-hours, rounded up (conservative)."""
    total = Decimal(USAGE_SCALE)
    for q in quantities:
        total *= q
    return int(total.to_integral_value(rounding=ROUND_CEILING))
