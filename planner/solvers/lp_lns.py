"""LP-guided large-neighbourhood search: improve a complete plan with CP-SAT on
restrictions chosen by the LP's reduced costs.

Two kinds of neighbourhood alternate:

* **LP disagreement** (:func:`disagreement`): the stages whose incumbent option costs most
  above their best reduced cost (the LP would place them elsewhere; fractional stages of
  the LP count too) are freed with the stages that occupy the sites they would move to.
  Sites are drawn with weights Σ λ_r C_r of their resources, so capacity-tight sites
  come first.
* **Tight sites** (:class:`~planner.solvers.lns._Neighbourhoods` of the ``lns`` strategy):
  a few sites drawn with the same weights, the stages placed there and the stages whose
  reduced cost would improve there.

Every other stage is fixed at the incumbent (only its chosen options, ub = its units)
and CP-SAT solves the *full* model on the restriction (every side constraint holds) with
the incumbent as hint; improvements are kept. The neighbourhood grows when CP-SAT proves
it optimal fast and shrinks when it times out. Every phase reads the deadline.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, Problem
from planner.solvers.base import Deadline, SolveOptions, SolveStatus
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.decompose import binding_resources, opt_stage, option_binds, restrict
from planner.solvers.neighbourhoods import Neighbourhoods, site_weights
from planner.solvers.tuning import LnsTuning

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LnsSettings:
    """Knobs of the LP-guided search (tuned on the hard family, 2 cores)."""

    max_free: int = 1200
    sub_time_s: float = 4.0
    target_gap: float = 1e-4
    stall: int | None = None
    """Stop after this many neighbourhoods in a row without improvement (None: never)."""


def stage_excess(problem: Problem, x: IntArray, rc: FloatArray) -> FloatArray:
    """Per stage: reduced cost of its incumbent units minus the cheapest reduced cost of
    the stage per unit (≥ 0; > 0 where the LP prefers another option)."""
    p = problem
    st = opt_stage(p)
    cur = np.bincount(st, weights=rc * x, minlength=p.n_stages) / np.maximum(p.units, 1)
    best = np.full(p.n_stages, np.inf)
    np.minimum.at(best, st, rc)
    return np.where(np.isfinite(best), np.maximum(0.0, cur - best), 0.0)


def disagreement(problem: Problem, x: IntArray, rc: FloatArray, x_lp: FloatArray,
                 weight: FloatArray, max_free: int, rng: np.random.Generator
                 ) -> tuple[IntArray, IntArray]:
    """(options to keep, their upper bounds) of one LP-disagreement neighbourhood."""
    p = problem
    st = opt_stage(p)
    excess = stage_excess(p, x, rc)
    frac = np.zeros(p.n_stages, dtype=np.bool_)
    frac[st[np.abs(x_lp - np.rint(x_lp)) > 1e-6]] = True
    score = excess * rng.uniform(0.5, 1.5, p.n_stages) + frac * (excess.max() + 1.0)
    movers = np.flatnonzero(score > 0)
    movers = movers[np.argsort(-score[movers], kind="stable")[: max(1, max_free // 3)]]
    # The sites the movers would rather use (reduced cost below their incumbent's).
    cur = np.bincount(st, weights=rc * x, minlength=p.n_stages) / np.maximum(p.units, 1)
    want = np.isin(st, movers) & (rc < cur[st] - 1e-9)
    sites = np.unique(p.opt_site[want])
    if sites.size > 8:
        w = weight[sites] / weight[sites].sum() if weight[sites].sum() > 0 else None
        sites = rng.choice(sites, size=8, replace=False, p=w)
    at = np.isin(p.opt_site, sites)
    free = np.zeros(p.n_stages, dtype=np.bool_)
    free[movers] = True
    there = np.flatnonzero(np.bincount(st, weights=(x > 0) & at, minlength=p.n_stages))
    room = max(0, max_free - movers.size)
    free[there[np.argsort(-excess[there], kind="stable")[:room]]] = True
    keep = (x > 0) | (free[st] & (at | want))
    ub = np.where(free[st], p.opt_ub, x)
    idx = np.flatnonzero(keep).astype(np.int64)
    return idx, ub[idx]


def improve(problem: Problem, x: IntArray, bound: int, rc: FloatArray, lam: FloatArray,
            x_lp: FloatArray, options: SolveOptions, deadline: Deadline,
            settings: LnsSettings = LnsSettings(),
            report: Callable[[int], None] | None = None) -> tuple[IntArray, dict[str, float]]:
    """The best plan found from the complete plan ``x`` by the module's neighbourhoods
    until ``deadline`` or a gap to ``bound`` of ``settings.target_gap``; stats say
    ``proven`` when a neighbourhood held the whole problem and CP-SAT proved it optimal
    (the plan is then optimal). ``report`` hears every improved objective."""
    p = problem
    obj = p.objective(x)
    tuning = dataclasses.replace(LnsTuning(), max_free=settings.max_free)
    weight = site_weights(p, lam, tuning.site_weight_floor)
    rng = np.random.default_rng(options.seed)
    hood = Neighbourhoods(p, weight, tuning, rng)
    binds = option_binds(p, binding_resources(p))
    it = improved = stalled = 0
    while obj - bound > settings.target_gap * abs(obj):
        if settings.stall is not None and stalled >= settings.stall:
            break
        limit = min(settings.sub_time_s, deadline.remaining() - 0.2)
        if limit < 0.3:
            break
        it += 1
        if it % 2:
            idx, ub = disagreement(p, x, rc, x_lp, weight, hood.max_free, rng)
        else:
            idx, ub = hood.pick(x, rc, binds)
        t = time.perf_counter()
        sub = restrict(p, idx, ub)
        sol = CpSatBackend().solve(sub, SolveOptions(
            time_limit_s=limit, workers=options.workers, seed=options.seed + it,
            deterministic=options.deterministic, hint=x[idx],
            deadline=deadline.within(limit)))
        hood.adapt(sol.status is SolveStatus.OPTIMAL, time.perf_counter() - t, limit)
        hood.max_free = min(hood.max_free, max(100, p.n_stages))
        whole = idx.size == p.n_options and bool((ub == p.opt_ub).all())
        if sol.objective is None:
            stalled += 1
            continue
        x_new = x.copy()
        x_new[idx] = sol.x
        new_obj = p.objective(x_new)
        stalled += 1
        if new_obj < obj:
            x, obj, improved, stalled = x_new, new_obj, improved + 1, 0
            if report is not None:
                report(obj)
        if whole and sol.status is SolveStatus.OPTIMAL:
            return x, {"lns_iterations": float(it), "lns_improvements": float(improved),
                       "proven": 1.0}
    return x, {"lns_iterations": float(it), "lns_improvements": float(improved)}
