r"""The LP bound at scale: smoothed dual ascent on the capacity multipliers.

When the LP of :mod:`planner.solvers.lp_model` is too large for the simplex in the time
asked (the hard family at l: 1.6 M options after reduction, GLOP > 250 s on 2 cores), the
same bound is approached through its dual. With one unit per stage, the Lagrangian dual
of the capacity rows is

    L(λ) = Σ_s min_{o∈O_s} (f_o + Σ_r λ_r u_{o,r})  −  λᵀC ,      λ ≥ 0

(:mod:`planner.solvers.bound`), whose maximum equals the LP optimum of the capacity rows
(the stage rows form a simplex per stage, so the relaxation has the integrality property),
however many rows an option uses (a time-aware placement's options use their pool and its
energy windows, :mod:`planner.solvers.time_cuts`). Side constraints the placement LP has
beyond capacity (budgets, share caps) are left out: a weaker bound, still valid. ``L`` is
concave but not smooth; replacing each ``min`` by the soft minimum ``−τ log Σ exp(−rc/τ)``
(which is ≤ the min and within ``τ log |O_s|`` of it) gives a smooth concave function,
maximized by L-BFGS-B over λ ≥ 0 (in units of each row's capacity: the rows' scales differ
by five orders of magnitude) for a decreasing sequence of τ, each warm-started from the
last, each for as long as it pays (:data:`CHUNKS`).

Only the final λ matters for validity: the bound reported is ``L(λ)`` itself, evaluated
exactly by :class:`~planner.solvers.bound.LagrangianOracle` over *all* options and rounded
down with :func:`~planner.solvers.bound.safe_floor` — valid for any λ ≥ 0, however far the
ascent got. After the first τ, options whose reduced cost is far above their stage's minimum
(more than 40 × the first τ) carry no weight in the soft minimum; they are dropped from
the evaluations (options on no limited resource always stay, so every stage's minimum
stays bounded) and the set is re-checked before every run of L-BFGS-B. The soft-minimum
weights ``p_o`` (a fractional assignment) guide the rounding like LP values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import minimize

from planner.models.problem import IntArray, Problem
from planner.solvers.base import Deadline
from planner.solvers.bound import LagrangianOracle, safe_floor
from planner.solvers.decompose import opt_stage, subset_stages, unlimited_options

FloatArray = NDArray[np.float64]
TAUS = (1e-2, 1e-3, 1e-4)
"""Smoothing temperatures, relative to the median objective per unit."""
CUTOFF = 40
"""After the first τ, options whose reduced cost is more than this × the first τ above
their stage's best are left out of the evaluations (their weight in the soft minimum was
below e⁻⁴⁰ at the first τ; a window of 40 × the current τ lost options that the next
multipliers needed: the exact bound fell by 6 % at the timed family's l)."""
CHUNKS = 6
"""At most this many runs of L-BFGS-B (of ``iterations`` each) per τ. A τ ends early
once a run raises the exact bound by less than the smoothing costs it there (the exact
value minus the soft one, at the run's best point): then a smaller τ gains more (hard l:
0.30 % below the LP after one run at the first τ, 0.20 % after two more, 0.07 % with
the next τ instead), or once the smoothing costs more than :data:`COARSE` of the bound
(the first τ costs 1.5 % at hard l, 0.2 % at timed l, where it gains 0.2–0.4 % per run
for six runs). The last τ runs while it gains :data:`MIN_GAIN` of the bound."""
COARSE = 5e-3
MIN_GAIN = 1e-5


@dataclass
class DualResult:
    bound: int | None
    lam: FloatArray
    reduced: FloatArray
    x: FloatArray
    evaluations: int
    seconds: float
    earlier: tuple[FloatArray, ...] = ()
    """The reduced costs at the best multipliers of each smoothing temperature before the
    last one reached: roundings from them are often better than from the final ones
    (hard l, from the first τ's at 5.8 s: $51.62 M; from the final ones at 11 s and
    14 s: $52.58 M and $52.32 M, though their bound is higher: near the LP's optimum many
    options tie on reduced cost, and the fill's order decides among them)."""
    earlier_lam: tuple[FloatArray, ...] = ()
    """The multipliers of :attr:`earlier`."""


def applies(problem: Problem) -> bool:
    """Every stage places one unit (on an option with room for it)."""
    return bool((problem.units == 1).all() and (problem.opt_ub >= 1).all())


@dataclass
class _Active:
    """The options that matter at the current τ, as arrays for fast evaluation: ``use``
    is their usage (active options × resources, sparse; an option of a time-aware
    placement uses its pool and the energy windows of :mod:`~planner.solvers.time_cuts`),
    each resource's column in units of its capacity (``unit`` = 1 / capacity)."""

    opts: IntArray
    stage: IntArray
    starts: IntArray
    cost: FloatArray
    use: sparse.csr_array
    unit: FloatArray


def _active(problem: Problem, st: IntArray, free: NDArray[np.bool_], rc: FloatArray,
            cutoff: float) -> _Active:
    """``free``: the options on no limited resource (they keep every stage's minimum
    bounded, so they always stay)."""
    best = np.full(problem.n_stages, np.inf)
    np.minimum.at(best, st, rc)
    loose = np.zeros(problem.n_stages, dtype=np.bool_)
    loose[st[free]] = True
    opts = np.flatnonzero((rc <= best[st] + cutoff) | free | ~loose[st])
    s = st[opts]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    dense = np.cumsum(np.r_[0, (s[1:] != s[:-1]).astype(np.int64)])
    pos = np.full(problem.n_options, -1, dtype=np.int64)
    pos[opts] = np.arange(opts.size)
    rows = np.flatnonzero(pos[problem.use_opt] >= 0)
    unit = 1.0 / np.maximum(problem.res_cap.astype(np.float64), 1.0)
    res = problem.use_res[rows]
    use = sparse.csr_array(
        (problem.use_amt[rows] * unit[res], (pos[problem.use_opt[rows]], res)),
        shape=(opts.size, problem.res_cap.size))
    return _Active(opts, dense, starts, problem.opt_obj[opts].astype(np.float64), use, unit)


def _smoothed(mu: FloatArray, act: _Active, cap: FloatArray, tau: float
              ) -> tuple[float, FloatArray]:
    """−(soft dual) and its gradient (for minimization) at the scaled multipliers ``mu``
    (λ = ``mu`` × ``act.unit``; ``cap`` in units of capacity: 1, or 0 for a resource
    without any)."""
    rc = act.cost + act.use @ mu
    m = np.minimum.reduceat(rc, act.starts)
    z = np.exp(-(rc - m[act.stage]) / tau)
    zs = np.add.reduceat(z, act.starts)
    val = float((m - tau * np.log(zs)).sum() - mu @ cap)
    pr = z / zs[act.stage]
    grad = act.use.T @ pr - cap
    return -val, -grad


def _ascend(lam: FloatArray, act: _Active, cap: FloatArray, tau: float, iterations: int,
            deadline: Deadline) -> tuple[FloatArray, float, int]:
    """L-BFGS-B on the smoothed dual over the active options from ``lam``: the best point
    seen (when the deadline comes first, too), its soft dual value and the evaluations.
    It runs on the multipliers scaled by capacity (λ_r × C_r): capacities span 1,000 to
    4.7e8 at hard l, and unscaled the ascent stalled 0.64 % below the LP there and 0.94 %
    at hard m (scaled: 0.05 % in 20 s and 0.02 % in 3 s)."""
    mu0 = lam / act.unit
    unit_cap = cap * act.unit
    seen: dict[str, Any] = {"y": mu0, "f": np.inf, "n": 0}

    def fun(y: FloatArray) -> tuple[float, FloatArray]:
        if deadline.expired():
            raise TimeoutError
        seen["n"] += 1
        f, g = _smoothed(y, act, unit_cap, tau)
        if f < seen["f"]:
            seen["y"], seen["f"] = y.copy(), f
        return f, g

    with contextlib.suppress(TimeoutError):  # the deadline: keep the best point seen
        minimize(fun, mu0, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * cap.size,
                 options={"maxiter": iterations, "gtol": 1e-12, "ftol": 1e-15})
    return np.maximum(0.0, seen["y"]) * act.unit, -float(seen["f"]), int(seen["n"])


def dual_ascent(problem: Problem, deadline: Deadline, lam0: FloatArray | None = None,
                iterations: int = 200) -> DualResult:
    """The smoothed ascent of the module docstring until ``deadline`` (the best
    multipliers so far); requires :func:`applies`. Each τ runs up to
    :data:`CHUNKS` runs of ``iterations``, and ends early as :data:`CHUNKS` says."""
    start = time.perf_counter()
    p = problem
    st = opt_stage(p)
    free = unlimited_options(p)
    cap = p.res_cap.astype(np.float64)
    oracle = LagrangianOracle(p)
    lam = np.zeros(cap.size) if lam0 is None else np.maximum(0.0, lam0)
    scale = float(np.median(np.abs(p.opt_obj))) or 1.0
    best_value, best_lam = oracle.value(lam)[0], lam
    evals = 0
    earlier: list[FloatArray] = []
    earlier_lam: list[FloatArray] = []
    for k, rel in enumerate(TAUS if cap.size else ()):
        tau = rel * scale
        last = k == len(TAUS) - 1
        if k and deadline.remaining() >= 0.5:  # the last τ ended; a next one begins
            earlier.append(oracle.reduced_costs(best_lam))
            earlier_lam.append(best_lam)
        for _chunk in range(CHUNKS):
            if deadline.remaining() < 0.5:
                break
            cutoff = np.inf if k == 0 else CUTOFF * TAUS[0] * scale
            act = _active(p, st, free, oracle.reduced_costs(lam), cutoff)
            lam, smooth, n = _ascend(lam, act, cap, tau, iterations, deadline)
            evals += n
            value = oracle.value(lam)[0]
            gain = value - best_value
            if value > best_value:
                best_value, best_lam = value, lam
            else:
                lam = best_lam
            if last and gain <= MIN_GAIN * abs(best_value):
                break
            if not last and (gain <= value - smooth or value - smooth > COARSE * abs(value)):
                break
    result = _result(p, oracle, best_lam, evals, start, tuple(earlier))
    result.earlier_lam = tuple(earlier_lam)
    return result


def _result(p: Problem, oracle: LagrangianOracle, lam: FloatArray, evals: int, start: float,
            earlier: tuple[FloatArray, ...]) -> DualResult:
    """The exact bound at ``lam``, its reduced costs and the soft-minimum weights at the
    last τ (a fractional assignment for the rounding)."""
    value, _x, reduced = oracle.value(lam)
    tau = TAUS[-1] * (float(np.median(np.abs(p.opt_obj))) or 1.0)
    free = unlimited_options(p)
    act = _active(p, opt_stage(p), free, reduced, CUTOFF * tau)
    rc = reduced[act.opts]
    m = np.minimum.reduceat(rc, act.starts)
    z = np.exp(-(rc - m[act.stage]) / tau)
    x = np.zeros(p.n_options)
    x[act.opts] = z / np.add.reduceat(z, act.starts)[act.stage]
    bound = safe_floor(value) if oracle.feasible else None
    return DualResult(bound, lam, reduced, x, evals, time.perf_counter() - start, earlier)


def sampled_ascent(problem: Problem, deadline: Deadline, options: int, seed: int = 0
                   ) -> DualResult:
    """:func:`dual_ascent` on a random sample of the stages (about ``options`` options)
    with every capacity scaled by the sample's share of the stages, its multipliers then
    taken for the whole problem (requires :func:`applies`).

    A multiplier is a price per unit of capacity: a sample that holds a share φ of the
    stages, given the share φ of every capacity, competes for it as the whole problem
    does, so its prices are close to the whole LP's. The bound is still ``L(λ)`` of the
    whole problem, exact (valid whatever the sample). At hard xl (22 M options after
    reduction, 1.3 s per evaluation of the smoothed dual) the ascent on the whole problem
    got 29 evaluations in 40 s and ended at $474.8 M; on a 10 % sample (2.2 M options)
    it converged in 15 s, and its prices give $519.5 M on the whole problem (40 s more of
    ascent on the whole problem from there gained nothing). At hard l, a 10 % sample's
    prices in 5 s were 0.2 % below the whole ascent's in 15 s."""
    start = time.perf_counter()
    p = problem
    share = min(1.0, options / max(p.n_options, 1))
    rng = np.random.default_rng(seed)
    pick = np.flatnonzero(rng.random(p.n_stages) < share)
    if pick.size == 0 or pick.size == p.n_stages:
        return dual_ascent(p, deadline)
    phi = pick.size / p.n_stages
    sub, _keep = subset_stages(p, pick)
    sub = dataclasses.replace(sub, res_cap=np.rint(p.res_cap * phi).astype(p.res_cap.dtype))
    # time kept for the evaluations on the whole problem (~2 s each at 22 M options)
    dual = dual_ascent(sub, deadline.earlier(min(0.2 * deadline.remaining(), 10.0)))
    oracle = LagrangianOracle(p)
    result = _result(p, oracle, dual.lam, dual.evaluations, start,
                     tuple(oracle.reduced_costs(lam) for lam in dual.earlier_lam))
    result.earlier_lam = dual.earlier_lam
    return result
