r"""Lower bounds that scale: a Lagrangian bound on the capacity constraints, and the LP
relaxation (HiGHS) for problems small enough to solve it exactly.

The relaxation
--------------
Both bounds drop every side constraint of :class:`~planner.solvers.base.Problem`
(pipeline egress edges, co-location, spread, budgets, provider caps, move caps).
Edge costs are ≥ 0 and the others only remove solutions, so what is left is a
relaxation and its optimum is ≤ the optimum of the full model:

    z* = min Σ_o c_o x_o
         s.t. Σ_{o∈O_s} x_o = U_s              ∀ s   (units of every stage)
              0 ≤ x_o ≤ ub_o,  x_o ∈ ℤ          ∀ o
              Σ_o u_{o,r} x_o ≤ C_r             ∀ r   (capacity)

with ``c = opt_obj`` (the objective per unit, micro-dollars).

Lagrangian bound (used at every size)
    Price capacity with multipliers λ_r ≥ 0:

        L(λ) = Σ_s  min { Σ_{o∈O_s} (c_o + Σ_r λ_r u_{o,r}) x_o :
                          Σ_{o∈O_s} x_o = U_s, 0 ≤ x_o ≤ ub_o }  −  Σ_r λ_r C_r

    For every λ ≥ 0, L(λ) ≤ z* (weak duality). The inner problem of a stage is
    solved by filling its cheapest reduced-cost options up to ``ub`` (integral, so
    max_λ L(λ) equals the LP relaxation bound). λ is found by projected subgradient
    ascent with Polyak steps on capacity-normalized multipliers; the best L seen is
    the bound. Every evaluation is a few numpy passes over the options.

LP bound (after the exact reduction, up to a few 10⁵ options)
    The LP relaxation of z* (x continuous) solved with ``scipy.optimize.linprog``
    (HiGHS, dual simplex / IPM). Its capacity duals are the best multipliers, and the
    bound reported is L(λ_LP) evaluated by the oracle above — valid for any λ ≥ 0, so it
    does not depend on HiGHS's tolerances. On larger problems the subgradient is used.

Bounds are returned as integers rounded *down* after subtracting a float safety
margin, so rounding never lifts a bound above the optimum.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import Problem

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class BoundResult:
    """A valid lower bound (micro-dollars; None when some stage cannot be placed at all),
    the multipliers that gave it (per resource, USD-micro per milli-unit-hour) and the
    per-unit reduced cost of every option at those multipliers."""

    bound: int | None
    method: str
    iterations: int
    seconds: float
    lam: FloatArray
    reduced: FloatArray


def safe_floor(value: float) -> int:
    """Round a float bound down with a margin for accumulated float error."""
    return math.floor(value - 1e-9 * abs(value) - 1.0)


class LagrangianOracle:
    """Evaluates L(λ) and a subgradient for one problem (vectorized over options)."""

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        counts = np.diff(problem.stage_ptr)
        self.counts = counts
        self.opt_stage = np.repeat(np.arange(problem.n_stages, dtype=np.int64), counts)
        self.obj = problem.opt_obj.astype(np.float64)
        self.cap = problem.res_cap.astype(np.float64)
        self.amt = problem.use_amt.astype(np.float64)
        units = problem.units
        ub = problem.opt_ub
        self.ub = ub
        # Stages placed as one unit on an option with room for it take the cheapest option.
        self.simple = bool((units == 1).all() and (ub >= 1).all())
        self.nonempty = counts > 0
        self.starts = problem.stage_ptr[:-1][self.nonempty]
        room = np.bincount(self.opt_stage, weights=ub.astype(np.float64),
                           minlength=problem.n_stages)
        self.feasible = bool((room >= units).all())

    def reduced_costs(self, lam: FloatArray) -> FloatArray:
        rc = self.obj.copy()
        if self.amt.size:
            rc += np.bincount(self.p.use_opt, weights=lam[self.p.use_res] * self.amt,
                              minlength=self.p.n_options)
        return rc

    def inner(self, rc: FloatArray) -> tuple[float, IntArray]:
        """Σ_s min over the stage's units; the minimizing units per option."""
        p = self.p
        x = np.zeros(p.n_options, dtype=np.int64)
        if p.n_options == 0:
            return 0.0, x
        if self.simple:
            m = np.minimum.reduceat(rc, self.starts)
            seg_min = np.repeat(m, self.counts[self.nonempty])
            cand = np.where(rc <= seg_min, np.arange(p.n_options), p.n_options)
            first = np.minimum.reduceat(cand, self.starts)
            x[first] = 1
            return float(m.sum()), x
        order = np.lexsort((rc, self.opt_stage))
        ub_sorted = self.ub[order]
        csum = np.cumsum(ub_sorted)
        stage_sorted = self.opt_stage[order]
        before = np.r_[0, csum][self.p.stage_ptr[:-1]][stage_sorted]  # ub of earlier stages
        filled = csum - before - ub_sorted  # units already taken within the stage
        take = np.clip(self.p.units[stage_sorted] - filled, 0, ub_sorted)
        x[order] = take
        return float((rc * x).sum()), x

    def usage(self, x: IntArray) -> FloatArray:
        if not self.amt.size:
            return np.zeros(self.cap.shape)
        used: FloatArray = np.bincount(self.p.use_res, weights=self.amt * x[self.p.use_opt],
                                       minlength=self.cap.size).astype(np.float64)
        return used

    def value(self, lam: FloatArray) -> tuple[float, IntArray, FloatArray]:
        rc = self.reduced_costs(lam)
        inner, x = self.inner(rc)
        return inner - float(lam @ self.cap), x, rc


def lagrangian_bound(
    problem: Problem,
    *,
    upper: float | None = None,
    iterations: int = 300,
    time_limit_s: float = 30.0,
    lam0: FloatArray | None = None,
) -> BoundResult:
    """The best L(λ) found by subgradient ascent (see the module docstring).

    ``upper`` (the objective of a known feasible solution) sets the Polyak target; without
    it the target is 5 % above the current value.
    """
    start = time.perf_counter()
    ora = LagrangianOracle(problem)
    n_res = problem.res_cap.size
    if not ora.feasible:
        return BoundResult(None, "lagrangian", 0, 0.0, np.zeros(n_res), ora.obj)
    cap = np.maximum(ora.cap, 1.0)
    lam = np.zeros(n_res) if lam0 is None else lam0.copy()
    best, _x, rc = ora.value(lam)
    best_lam, best_rc = lam.copy(), rc
    theta, stall, it = 2.0, 0, 0
    for it in range(1, iterations + 1):  # noqa: B007
        val, x, rc = ora.value(lam)
        if val > best + 1e-9 * abs(best):
            best, best_lam, best_rc, stall = val, lam.copy(), rc, 0
        else:
            stall += 1
            if stall >= 15:
                theta, stall = theta / 2, 0
        g = (ora.usage(x) - ora.cap) / cap  # normalized subgradient
        g[(lam <= 0) & (g < 0)] = 0.0  # projection: no descent below zero
        norm = float(g @ g)
        if norm < 1e-18 or theta < 1e-4 or time.perf_counter() - start > time_limit_s:
            break
        target = upper if upper is not None and upper > best else best * 1.05 + 1.0
        step = theta * (target - val) / norm
        lam = np.maximum(0.0, lam + step * g / cap)
    return BoundResult(
        safe_floor(best), "lagrangian", it, time.perf_counter() - start, best_lam, best_rc
    )


def lp_bound(problem: Problem, time_limit_s: float = 60.0) -> int | None:
    """The LP relaxation's optimum (HiGHS), rounded down; None if infeasible or unsolved."""
    res = lp_relaxation(problem, time_limit_s)
    return res.bound if res is not None else None


def lp_relaxation(problem: Problem, time_limit_s: float = 60.0) -> BoundResult | None:
    """The LP relaxation (HiGHS) with its capacity duals as multipliers; None if the LP is
    infeasible or not solved in time."""
    start = time.perf_counter()
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, csr_matrix

    n = problem.n_options
    if n == 0 or (np.diff(problem.stage_ptr) == 0).any():
        return None
    opt_stage = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    a_eq = csr_matrix(
        (np.ones(n), (opt_stage, np.arange(n))), shape=(problem.n_stages, n)
    )
    a_ub = None
    b_ub = None
    if problem.use_opt.size:
        a_ub = coo_matrix(
            (problem.use_amt.astype(float), (problem.use_res, problem.use_opt)),
            shape=(problem.res_cap.size, n),
        ).tocsr()
        b_ub = problem.res_cap.astype(float)
    res = linprog(
        problem.opt_obj.astype(float),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=problem.units.astype(float),
        bounds=np.c_[np.zeros(n), problem.opt_ub.astype(float)],
        method="highs",
        options={"time_limit": time_limit_s, "presolve": True},
    )
    if res.status != 0:
        return None
    lam = np.zeros(problem.res_cap.size)
    if a_ub is not None:
        lam = np.maximum(0.0, -np.asarray(res.ineqlin.marginals, dtype=np.float64))
    # The bound is L(λ) at the LP's capacity duals, evaluated by the Lagrangian oracle: valid
    # for any λ ≥ 0 whatever HiGHS's tolerances, and equal to the LP optimum at exact duals.
    value, _x, reduced = LagrangianOracle(problem).value(lam)
    return BoundResult(safe_floor(value), "lp", int(res.nit), time.perf_counter() - start, lam,
                       reduced)
