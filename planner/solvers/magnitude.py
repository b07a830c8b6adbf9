"""Integer magnitudes the CP-SAT model can hold, checked before a model is built.

CP-SAT works in 64-bit integers and rejects a model (``MODEL_INVALID``) when the largest
possible activity of a linear expression, Σ |coefficient| × max |variable|, could
overflow. The model of :mod:`planner.solvers.cpsat` multiplies money (micro-dollars per
unit) by units, usage (milli-unit-hours) by units, and the provider cap by the share's
numerator and denominator. :func:`check_magnitudes` raises an
:class:`~planner.errors.InputError` naming the quantity that is too large before any of
that can happen; :func:`share_fraction` picks the provider-cap fraction with the largest
denominator that still fits, rounded *down* so the solver never allows more than the
user's share.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from planner.errors import InputError
from planner.models.problem import Problem

LIMIT = 2**61
"""Largest activity any expression of the model may reach (CP-SAT allows < 2**63; the
margin covers the solver's own presolve arithmetic)."""

SHARE_MAX_DENOMINATOR = 10**6
SHARE_MIN_DENOMINATOR = 100
"""The provider cap keeps at least two decimal places of the user's share."""

_HINT = ("split the portfolio into smaller ones, or shorten settings.period_hours; "
         "the solver counts money in integer micro-dollars")


def _usd(micro: float) -> str:
    return f"${micro / 1e6:,.0f}"


def max_spend(problem: Problem, values: np.ndarray) -> float:
    """Σ over options of ``values`` × the option's upper bound (float: only compared with
    :data:`LIMIT`, which keeps a 4× margin below CP-SAT's own limit)."""
    return float((values.astype(np.float64) * problem.opt_ub.astype(np.float64)).sum())


def stage_peak(problem: Problem, values: np.ndarray) -> int:
    """Σ over stages of units × the largest per-unit value of its options."""
    counts = np.diff(problem.stage_ptr)
    if not problem.n_options:
        return 0
    nz = counts > 0
    peak = np.zeros(problem.n_stages, dtype=np.float64)
    peak[nz] = np.maximum.reduceat(values.astype(np.float64), problem.stage_ptr[:-1][nz])
    return int(np.ceil((peak * problem.units).sum()))


def _too_large(what: str, value: float, unit: str = "micro-USD") -> InputError:
    return InputError(f"{what} can reach {value:.3g} {unit}, more than the solver's 64-bit "
                      f"integers hold ({LIMIT:.3g})", hint=_HINT)


def check_magnitudes(problem: Problem) -> None:
    """Raise :class:`InputError` if some expression of the CP-SAT model could overflow."""
    if problem.n_options and (problem.opt_obj < 0).any():
        raise InputError("an option has a negative cost", hint="check the catalog prices")
    edge_top = float(sum(sum(e.cost.values()) for e in problem.edges))
    objective = max_spend(problem, problem.opt_obj) + edge_top
    if objective > LIMIT:
        raise _too_large(f"the portfolio's total cost (up to {_usd(objective)} per period)",
                         objective)
    for b in problem.budgets:
        if b.cap > LIMIT:
            raise _too_large(f"{b.name}'s cap", b.cap)
    usage = np.bincount(problem.use_res, minlength=problem.res_cap.size,
                        weights=problem.use_amt.astype(np.float64)
                        * problem.opt_ub[problem.use_opt].astype(np.float64))
    top = np.maximum(usage, problem.res_cap.astype(np.float64))
    for r in np.flatnonzero(top > LIMIT).tolist()[:1]:
        raise _too_large(f"use of capacity:{problem.res_names[r]}", float(top[r]),
                         "milli-unit-hours")
    if problem.max_share is not None:
        share_fraction(problem)


def share_fraction(problem: Problem) -> Fraction:
    """The provider-cap fraction n/d ≤ the user's share whose products d × spend and
    n × total spend fit (see the module docstring)."""
    share = problem.max_share
    assert share is not None
    peak = stage_peak(problem, problem.opt_compute)
    room = LIMIT // max(peak, 1) // 2
    max_den = min(SHARE_MAX_DENOMINATOR, room)
    if max_den < SHARE_MIN_DENOMINATOR:
        raise _too_large("compute spend under settings.max_provider_share "
                         f"(up to {_usd(peak)} per period)",
                         2 * peak * SHARE_MIN_DENOMINATOR)
    return round_down(share, max_den)


def round_down(value: Fraction, max_den: int) -> Fraction:
    """The largest fraction ≤ ``value`` with denominator ≤ ``max_den``."""
    if value.denominator <= max_den:
        return value
    close = value.limit_denominator(max_den)
    floor = Fraction(value.numerator * max_den // value.denominator, max_den)
    return max(f for f in (close, floor) if f <= value)
