"""Products of decimals over arrays equal planner.money's one-at-a-time rounding, on the
integer path, the float path and the exact fallback at ties; values beyond a limit are
reported with their exact value instead of wrapping around in int64."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.compile.exact import Factor, Limit, Table, money, usage
from planner.money import cost_micro, usage_units

DECIMALS = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=100, places=7, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("0.0000005"), Decimal("0.0000015"), Decimal("0.0000025"),
                     Decimal("2.5"), Decimal("0.001"), Decimal("1E+3"), Decimal("40.0"),
                     Decimal(100) / Decimal(3), Decimal("0.35"), Decimal(0)]),
    st.builds(lambda a, b: a / b, st.integers(1, 10**5).map(Decimal),
              st.sampled_from([Decimal("0.35"), Decimal("1.3"), Decimal("2.2"), Decimal(3)])),
)


def _columns(rows: list[list[Decimal]]) -> list[Factor]:
    return [Table.of([r[k] for r in rows])[np.arange(len(rows))] for k in range(len(rows[0]))]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(DECIMALS, min_size=1, max_size=3), min_size=1, max_size=40)
       .filter(lambda rows: len({len(r) for r in rows}) == 1))
def test_products_equal_the_decimal_functions(rows: list[list[Decimal]]) -> None:
    factors = _columns(rows)
    for exact, products in ((cost_micro, money), (usage_units, usage)):
        want = [exact(*r) for r in rows]
        if any(abs(w) >= 2**62 for w in want):  # only a limit may set those aside
            with pytest.raises(OverflowError):
                products(factors)
        else:
            assert products(factors).values.tolist() == want


def test_ties_round_half_even_and_integers_are_not_rounded_up() -> None:
    rows = [[Decimal("0.0000005")], [Decimal("0.0000015")], [Decimal("0.0000025")],
            [Decimal("0.1"), Decimal(3)], [Decimal(100) / Decimal(3), Decimal(3)]]
    for r in rows:
        got = money([Factor.ints(np.array([1])), *_columns([r])]).values.tolist()
        assert got == [cost_micro(*r)]
    assert money(_columns([[Decimal("0.0000025")]])).values.tolist() == [2]
    assert usage(_columns([[Decimal("0.1"), Decimal(3)]])).values.tolist() == [300]


def test_values_beyond_the_limit_are_reported_exactly() -> None:
    rows = [[Decimal(10**9), Decimal(10**9)], [Decimal(1), Decimal(2)],
            [Decimal(2 * 10**6), Decimal(1)], [Decimal(10**6), Decimal(1)]]
    times = np.array([1, 1, 10**6, 10**6], dtype=np.int64)
    got = money(_columns(rows), Limit(10**18, times))
    assert got.over == {0: 10**24, 2: 2 * 10**12}  # 10¹² × 10⁶ is at the limit, not beyond
    assert got.values.tolist() == [0, 2_000_000, 0, 10**12]
