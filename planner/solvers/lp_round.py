"""Round an LP solution to a plan: keep the stages the LP places integrally, repair the rest.

0. **Fill** (:func:`lp_fill`, the start on capacity-only problems): every stage in
   decreasing order of its LP cost, fractional stages first, on the option of least
   reduced cost that still fits.
1. **Round** (:func:`integral_part`): a stage whose LP units are integral (within 1e-6)
   keeps them; a stage with fractional units is freed. Stages on a resource that the kept
   units overfill (LP tolerances) are freed too.
2. **Repair** (:func:`repair`): the freed stages — and every stage in a side constraint the
   LP does not model (edges, co-location, spread, budgets, provider shares, move cap) —
   are placed again by CP-SAT on the restriction that fixes every other stage at its LP
   units (:func:`~planner.solvers.decompose.restrict`, the full model of
   :class:`~planner.solvers.cpsat.ModelBuilder`, so every side constraint holds), with a
   capacity-aware fill by reduced cost as its hint (:func:`fill`); the fill alone when
   CP-SAT finds nothing in time. Freed stages keep their LP options, their ``keep``
   cheapest options by reduced cost, and their cheapest option on no binding resource.

Every result goes through :func:`~planner.solvers.feasibility.violations`; a repair that
breaks a rule returns None and the strategy falls back to its other starts.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, Problem
from planner.solvers.base import Deadline, SolveOptions
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.decompose import (
    binding_resources,
    constrained_stages,
    opt_stage,
    option_binds,
    restrict,
    unlimited_options,
)
from planner.solvers.feasibility import violations
from planner.solvers.fill import fill

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
TOL = 1e-6


def integral_part(problem: Problem, x_lp: FloatArray) -> tuple[IntArray, BoolArray]:
    """Units per option of the stages the LP places integrally (0 elsewhere), and the
    mask of the freed stages (fractional, or on a resource the kept units overfill)."""
    p = problem
    st = opt_stage(p)
    near = np.rint(x_lp)
    off = np.abs(x_lp - near) > TOL
    free = np.zeros(p.n_stages, dtype=np.bool_)
    free[st[off]] = True
    xi = np.clip(near, 0, p.opt_ub).astype(np.int64)
    placed = np.bincount(st, weights=xi, minlength=p.n_stages)
    free |= placed != p.units
    xi[free[st]] = 0
    if p.use_opt.size:
        used = np.bincount(p.use_res, weights=p.use_amt * xi[p.use_opt], minlength=p.res_cap.size)
        over = used > p.res_cap
        if over.any():
            hit = over[p.use_res] & (xi[p.use_opt] > 0)
            free[st[p.use_opt[hit]]] = True
            xi[free[st]] = 0
    return xi, free


def lp_fill(problem: Problem, x_lp: FloatArray, rc: FloatArray,
            fractional_first: bool = True, rescue: bool = True) -> IntArray | None:
    """Round the LP by filling (:func:`fill`) from nothing: the fractional stages first
    (unless not ``fractional_first``), then the rest, each group by decreasing LP cost (the
    stages that lose most when they miss the cheap capacity first); each stage takes its
    options by reduced cost, the LP's own options first among (near-)ties. (With exact LP
    duals fractional-first is better: 0.75 % vs 2.6 % above the bound at hard m; with the
    approximate duals of dual ascent, by cost alone: 3.9 % vs 5.6 % at hard l.) A stage
    that finds no capacity left gets room made by moving stages placed before it
    (``rescue``, :func:`~planner.solvers.fill.fill`): at hard xl both roundings got stuck
    without it and the placement fell back to greedy's plan ($644 M against $564 M, and
    111 s of its 79 s). None when no room can be made."""
    p = problem
    st = opt_stage(p)
    _xi, free = integral_part(p, x_lp)
    if not fractional_first:
        free[:] = False
    value = np.bincount(st, weights=p.opt_obj * x_lp, minlength=p.n_stages)
    order = np.lexsort((np.arange(p.n_stages), -value, ~free)).tolist()
    prefer = rc - 1e-6 * np.abs(rc) * x_lp
    return fill(p, np.zeros(p.n_options, dtype=np.int64), order, prefer, rescue)


def regret_fill(problem: Problem, rc: FloatArray) -> IntArray | None:
    """Fill (:func:`~planner.solvers.fill.fill`, with room made for a stuck stage) at the
    reduced costs ``rc``, the stages by what missing their best option would cost them: its
    reduced cost below their cheapest option on no limited resource (the option that always
    has room); stages without such an option first. The rounding of dual ascent's
    multipliers where no LP solution is at hand (above
    :attr:`~planner.solvers.lp_strategy.LpConfig.polish_max_options`): there, near-optimal
    multipliers tie many options (same-priced sites of a country), the LP's cost is no guide
    to who needs the cheap capacity, and the fills by it either got stuck (hard xl: 14,282
    stages have only on-prem options, and the cheap ones came last) or spilled stages
    that save most on-prem to the cloud: $556–567 M against $565–587 M from the same
    multipliers. None when no room can be made."""
    p = problem
    st = opt_stage(p)
    free = unlimited_options(p)
    best = np.full(p.n_stages, np.inf)
    np.minimum.at(best, st, rc)
    fallback = np.full(p.n_stages, np.inf)
    np.minimum.at(fallback, st[free], rc[free])
    order = np.lexsort((np.arange(p.n_stages), -(fallback - best))).tolist()
    return fill(p, np.zeros(p.n_options, dtype=np.int64), order, rc, rescue=True)


def regret_order(problem: Problem, stages: IntArray, rc: FloatArray) -> list[int]:
    """``stages`` by decreasing regret (second-best minus best reduced cost), then index."""
    p = problem
    regret = np.zeros(stages.size)
    for i, s in enumerate(stages.tolist()):
        r = p.options_of(s)
        two = np.partition(rc[r.start:r.stop], 1)[:2] if len(r) >= 2 else None
        regret[i] = two[1] - two[0] if two is not None else np.inf
    return stages[np.lexsort((stages, -regret))].tolist()


def _kept_options(problem: Problem, x: IntArray, free: BoolArray, x_lp: FloatArray,
                  rc: FloatArray, keep: int) -> tuple[IntArray, IntArray]:
    """Options (and upper bounds) of the repair model: fixed stages only their units in
    ``x``; freed stages their LP options, ``keep`` cheapest by ``rc`` and their cheapest
    option on no binding resource."""
    p = problem
    st = opt_stage(p)
    free_o = free[st]
    order = np.lexsort((rc, st))
    rank = np.empty(p.n_options, dtype=np.int64)
    rank[order] = np.arange(p.n_options) - p.stage_ptr[st[order]]
    mask = free_o & ((rank < keep) | (x_lp > TOL) | (x > 0))
    loose = np.flatnonzero(free_o & ~option_binds(p, binding_resources(p)))
    if loose.size:
        by = loose[np.lexsort((p.opt_obj[loose], st[loose]))]
        first = np.r_[True, st[by][1:] != st[by][:-1]]
        mask[by[first]] = True
    mask |= ~free_o & (x > 0)
    idx = np.flatnonzero(mask).astype(np.int64)
    ub = np.where(free_o, p.opt_ub, x)[idx]
    return idx, ub


def repair(problem: Problem, x_lp: FloatArray, rc: FloatArray, options: SolveOptions,
           deadline: Deadline, keep: int = 12) -> IntArray | None:
    """A complete plan meeting every rule from the LP solution ``x_lp`` (module docstring),
    or None. CP-SAT runs until ``deadline`` at the latest."""
    p = problem
    xi, free = integral_part(p, x_lp)
    free |= constrained_stages(p)
    stages = np.flatnonzero(free)
    hint = fill(p, xi, regret_order(p, stages, rc), rc)
    if hint is not None and not violations(p, hint):
        if stages.size == 0:
            return hint
        start = hint
    else:
        start = None
    everyone = np.ones(p.n_stages, dtype=np.bool_)
    idx, ub = _kept_options(p, xi if hint is None else hint, everyone, x_lp, rc, keep)
    sub = restrict(p, idx, ub)
    limit = deadline.remaining()
    if limit < 0.2:
        return start
    sol = CpSatBackend().solve(sub, SolveOptions(
        time_limit_s=limit, workers=options.workers, seed=options.seed,
        deterministic=options.deterministic, deadline=deadline,
        hint=start[idx] if start is not None else None))
    if sol.objective is None:
        return start
    x = np.zeros(p.n_options, dtype=np.int64)
    x[idx] = sol.x
    if violations(p, x):
        return start
    if start is not None and p.objective(start) <= p.objective(x):
        return start
    return x
