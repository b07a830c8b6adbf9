"""Products of decimals over arrays, rounded exactly as :mod:`planner.money` rounds them.

Every money term is ``cost_micro(q1, q2, …)`` = round-half-even(10⁶ × q1 × q2 …) and every
capacity use ``usage_units(q1, q2, …)`` = ceil(1000 × q1 × q2 …), computed with
:mod:`decimal`. Over millions of options that is too slow one at a time, so here a product
is a list of :class:`Factor` columns — each a small :class:`Table` of decimals and, per
row, an index into it — computed two ways at once:

* in integers, where every decimal has few digits (q = m × 10⁻ᵏ): when Σk ≤ 6 (money) or
  ≤ 3 (usage) and the product fits in 62 bits, 10⁶ × Πq = Πm × 10^(6−Σk) exactly, and
  there is nothing to round;
* in float64 elsewhere (relative error < 10⁻¹⁵). Wherever the float lies within a
  relative 10⁻¹³ of a rounding boundary (a tie x.5 for money, an integer for usage), the
  row is recomputed by :func:`~planner.money.cost_micro` / :func:`~planner.money.usage_units`
  on the very same decimals, once per distinct combination of table entries. Elsewhere
  the float and the exact value round to the same integer.

So every result equals the decimal computation.

Values beyond a row's ``limit`` are not rounded to int64 (they may not fit): they are
recomputed exactly and, if they really are beyond it, reported by row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from planner.money import cost_micro, usage_units

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_REL = 1e-13
"""Relative distance to a rounding boundary below which a float product is recomputed."""
_FIT = float(2**62)
"""Integer products below this fit in int64, with room."""
_MANY = 99
"""Decimal places of a value not written as an int64 mantissa (never on the integer path)."""


def _decompose(value: Decimal) -> tuple[int, int]:
    """(m, k) with value = m × 10⁻ᵏ, k ≥ 0, or (0, _MANY) when m would not fit."""
    sign, digits, exp = value.as_tuple()
    if not isinstance(exp, int) or len(digits) > 18 or (exp > 0 and len(digits) + exp > 18):
        return 0, _MANY
    m = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    return (m * 10**exp, 0) if exp >= 0 else (m, -exp)


@dataclass(frozen=True)
class Table:
    """Decimals a factor picks from: as written, as floats, and as m × 10⁻ᵏ."""

    values: Sequence[Decimal]
    floats: FloatArray
    mantissa: IntArray
    places: IntArray

    @classmethod
    def of(cls, values: Sequence[Decimal]) -> Table:
        parts = [_decompose(v) for v in values]
        return cls(values, np.array([float(v) for v in values], dtype=np.float64),
                   np.array([m for m, _ in parts], dtype=np.int64),
                   np.array([k for _, k in parts], dtype=np.int64))

    def __getitem__(self, index: NDArray[np.integer]) -> Factor:
        return Factor(self, index)


@dataclass(frozen=True)
class Factor:
    """One quantity of a product: ``table.values[index[row]]`` for every row."""

    table: Table
    index: NDArray[np.integer]

    @classmethod
    def ints(cls, column: NDArray[np.integer]) -> Factor:
        """Non-negative integers (instances per unit) as a factor."""
        top = int(column.max()) if column.size else 0
        if top < 4096:  # small counts index a table of 0..top directly
            return Table.of([Decimal(k) for k in range(top + 1)])[column]
        distinct, inverse = np.unique(column, return_inverse=True)
        return Table.of([Decimal(int(v)) for v in distinct.tolist()])[inverse.reshape(-1)]

    def take(self, rows: NDArray[np.integer]) -> Factor:
        return Factor(self.table, self.index[rows])


@dataclass(frozen=True)
class Products:
    """Exact integer products, and the rows whose product passes their limit."""

    values: IntArray
    over: dict[int, int]
    """Row → exact value, for rows beyond the limit (their entry in ``values`` is 0)."""


@dataclass(frozen=True)
class Limit:
    """A row's value times its ``times`` may not pass ``total``."""

    total: int
    times: IntArray


def money(factors: Sequence[Factor], limit: Limit | None = None) -> Products:
    """``cost_micro(f1, f2, …)`` for every row (micro-dollars, half-even)."""
    return _products(factors, 6, _half_even, cost_micro, limit)


def usage(factors: Sequence[Factor], limit: Limit | None = None) -> Products:
    """``usage_units(f1, f2, …)`` for every row (milli-unit-hours, rounded up)."""
    return _products(factors, 3, _ceil, usage_units, limit)


def _half_even(v: FloatArray) -> tuple[IntArray, BoolArray]:
    tol = np.abs(v) * _REL + 1e-9
    return np.rint(v).astype(np.int64), np.abs(np.abs(v - np.floor(v)) - 0.5) <= tol


def _ceil(v: FloatArray) -> tuple[IntArray, BoolArray]:
    tol = np.abs(v) * _REL + 1e-9
    return np.ceil(v).astype(np.int64), np.abs(v - np.rint(v)) <= tol


def _products(factors: Sequence[Factor], scale: int,
              rounding: Callable[[FloatArray], tuple[IntArray, BoolArray]],
              exact: Callable[..., int], limit: Limit | None) -> Products:
    """10^scale × the product of ``factors`` per row, rounded by ``rounding`` (float) and
    ``exact`` (decimal)."""
    v = np.full(len(factors[0].index), float(10**scale))
    places = np.zeros(len(v), dtype=np.int64)
    mantissa = np.ones(len(v), dtype=np.int64)
    for f in factors:
        t = f.table
        v *= t.floats[f.index]
        places += t.places[f.index]
        mantissa *= t.mantissa[f.index]  # wraps only where places or v rule it out below
    fits = np.abs(v) < _FIT
    out, ambiguous = rounding(np.where(fits, v, 0.0))
    ambiguous |= ~fits
    whole = (places <= scale) & fits
    out[whole] = mantissa[whole] * _POW10[scale - places[whole]]
    ambiguous &= ~whole
    big = np.zeros(0, dtype=np.int64)
    if limit is not None:  # may not fit in int64, or be too large to plan: check exactly
        big = np.flatnonzero(v * limit.times >= limit.total * (1 - 1e-9))
        ambiguous[big] = True
    rows = np.flatnonzero(ambiguous)
    if not rows.size:
        return Products(out, {})
    combos, inverse = _distinct([f.index[rows] for f in factors],
                                [len(f.table.values) for f in factors])
    got = [exact(*(f.table.values[i] for f, i in zip(factors, col, strict=True)))
           for col in combos]
    huge = [k for k, g in enumerate(got) if abs(g) >= 2**62]
    if huge and limit is None:  # never a silent 0: only a limit may set such rows aside
        raise OverflowError(f"a product ({got[huge[0]]}) does not fit in int64; price it "
                            "with a limit")
    values = np.array([0 if abs(g) >= 2**62 else g for g in got], dtype=np.int64)[inverse]
    out[rows] = values
    over: dict[int, int] = {}
    if limit is not None:
        times = limit.times[rows]
        near = np.flatnonzero((values.astype(np.float64) * times >= limit.total * (1 - 1e-9))
                              | np.isin(inverse, huge))
        for j in near.tolist():
            value = got[int(inverse[j])]
            if value * int(times[j]) > limit.total:
                over[int(rows[j])] = value
                out[rows[j]] = 0
    return Products(out, over)


_POW10 = np.array([10**k for k in range(19)], dtype=np.int64)


def _distinct(columns: list[NDArray[np.integer]], sizes: list[int]
              ) -> tuple[list[list[int]], IntArray]:
    """The distinct rows of ``columns`` (indices into tables of ``sizes``) and, per row,
    which of them it is."""
    radix = 1
    for size in sizes:
        radix *= max(size, 1)
    if radix < 2**62:  # one int64 key per row
        key = np.zeros(len(columns[0]), dtype=np.int64)
        for col, size in zip(columns, sizes, strict=True):
            key = key * max(size, 1) + col.astype(np.int64)
        distinct, inverse = np.unique(key, return_inverse=True)
        combos = []
        for k in distinct.tolist():
            combo = []
            for size in reversed(sizes):
                k, i = divmod(k, max(size, 1))
                combo.append(i)
            combos.append(combo[::-1])
        return combos, inverse.reshape(-1)
    stacked, inverse = np.unique(np.stack(columns), axis=1, return_inverse=True)
    return stacked.T.tolist(), inverse.reshape(-1)
