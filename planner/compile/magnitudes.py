"""Magnitudes: every option is checked before it reaches the solver.

The portfolio schema bounds every field (:mod:`planner.models.limits`), but a product of
fields (price × instances × hours) can still be absurd. Each money term of a whole stage
(per unit × units) must stay within ``MAX_STAGE_MICRO`` ($10¹²) and each capacity use
within ``MAX_STAGE_USAGE``, so every coefficient fits in 64 bits (< 2⁶²) with room for
sums. A stage beyond that is reported as an :class:`~planner.errors.InputError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.compile.exact import IntArray, Products
from planner.compile.rules import StageRef
from planner.errors import InputError
from planner.models.portfolio import Portfolio
from planner.money import MICRO, USAGE_SCALE

MAX_STAGE_MICRO = 10**18
"""Largest money term of one stage on one option (per unit × units): $10¹²."""
MAX_STAGE_USAGE = 10**18
"""Largest capacity use of one stage on one option, in milli-unit-hours (10¹⁵ unit-hours)."""

TERMS = ("compute cost", "spot risk", "preference surcharge", "data transfer cost",
         "migration cost", "capacity use of the offer", "capacity use of the GPU model")
"""The terms of an option in the order they are checked."""

_HINT = ("check the stage's hours, replicas, GPU count, vCPUs and memory, and the offer's "
         "price; limits: planner/docs/guide.md, 'Limits'")


def stage_path(portfolio: Portfolio, ref: StageRef) -> str:
    """``workloads[i].stages[j]``: where a stage is in the portfolio file."""
    i = next((k for k, w in enumerate(portfolio.workloads) if w.id == ref.workload.id), 0)
    j = next((k for k, s in enumerate(ref.workload.stages) if s.label == ref.stage.label), 0)
    return f"workloads[{i}].stages[{j}]"


def _sci(x: float) -> str:
    """3.1e14 rather than 3.1e+14."""
    return f"{x:.3g}".replace("e+", "e")


def money_error(portfolio: Portfolio, ref: StageRef, where: str, what: str,
                micro: int) -> InputError:
    """A money term of a stage on one option (``where``: site/offer) beyond the limit."""
    total = micro * ref.units
    return InputError(f"{what} ${_sci(total / MICRO)} on {where} is too large to plan (limit "
                      f"${_sci(MAX_STAGE_MICRO / MICRO)} per stage)",
                      path=stage_path(portfolio, ref), hint=_HINT)


def usage_error(portfolio: Portfolio, ref: StageRef, resource: str, amount: int) -> InputError:
    """A capacity use of a stage on one option beyond the limit."""
    total = amount * ref.units
    return InputError(f"capacity use {_sci(total / USAGE_SCALE)} unit-hours of "
                      f"{resource.split(':', 1)[1]} is too large to plan (limit "
                      f"{_sci(MAX_STAGE_USAGE / USAGE_SCALE)} per stage)",
                      path=stage_path(portfolio, ref), hint=_HINT)


@dataclass(frozen=True)
class Violation:
    """A term of one row beyond its limit: the row, the term (index into :data:`TERMS`),
    the resource (capacity use) and its exact value per unit."""

    row: int
    term: int
    resource: int
    value: int


class Violations:
    """The terms beyond their limit, collected while a batch of rows is priced."""

    def __init__(self) -> None:
        self.found: list[Violation] = []

    def money(self, what: str, got: Products, idx: IntArray | None = None) -> IntArray:
        """Record the rows of a money term beyond the limit; its values."""
        term = TERMS.index(what)
        for row, value in got.over.items():
            self.found.append(Violation(int(idx[row]) if idx is not None else row, term, -1,
                                        value))
        return got.values

    def usage(self, what: str, got: Products, idx: IntArray, resource: IntArray) -> IntArray:
        """Record the rows of a capacity use beyond the limit; its values."""
        term = TERMS.index(what)
        for row, value in got.over.items():
            self.found.append(Violation(int(idx[row]), term, int(resource[row]), value))
        return got.values

    def total(self, what: str, values: IntArray, units: IntArray, limit: int) -> None:
        """Record the rows whose exact ``values`` times ``units`` pass ``limit``."""
        near = np.flatnonzero(values.astype(np.float64) * units >= limit * (1 - 1e-9))
        for row in near.tolist():
            if int(values[row]) * int(units[row]) > limit:
                self.found.append(Violation(row, TERMS.index(what), -1, int(values[row])))

    def first(self, order: list[IntArray]) -> Violation | None:
        """The first violation by the row keys ``order`` (most significant first), then term."""
        if not self.found:
            return None
        return min(self.found, key=lambda v: (*(int(k[v.row]) for k in order), v.term))
