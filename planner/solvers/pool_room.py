"""How much of each pool a placement's runs can really use: the headroom of a second
placement, pool by pool.

The placement counts capacity per period and in energy windows
(:mod:`planner.solvers.time_cuts`), so it fills a pool with node-hours that a schedule
cannot always pack: gangs leave nodes idle beside them, long runs block windows. The
second placement of :mod:`planner.solvers.schedule_plan` leaves room for that. One share
for every pool (:data:`~planner.solvers.schedule_plan.HEADROOM`) takes room from pools
that pack their runs whole and gives too little to pools that lose much; here each pool
is packed alone instead: its runs, earliest deadline first (the longest first among
equals), each at the earliest hour of its window where it fits (to-the-end runs at their
go-live), and what does not fit is the pool's loss. The pool's headroom is its capacity
less that loss, never below :data:`FLOOR`.

A pool holding a run of a stage with a predecessor or a successor keeps the uniform
share: packed alone, its runs ignore when their predecessors end, so the loss it
measures is too small (timed m, where most stages are linked, scheduled $5.50 M with the
measured headroom on every pool against $5.43 M with the uniform share).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing
from planner.solvers.decompose import opt_stage
from planner.solvers.schedule_shift import _free, _slot

FloatArray = NDArray[np.float64]

FLOOR = 0.8
"""The least share of a pool's capacity a second placement may use."""


def lost_shares(problem: Problem, timing: Timing, x: IntArray) -> FloatArray:
    """Per resource, the node-hours of the runs ``x`` places on it that packing the pool
    alone (module docstring) cannot fit, as a share of its capacity over the horizon (0
    for a resource without capacity at once)."""
    h = timing.horizon
    stage = opt_stage(problem)
    rows = np.flatnonzero((timing.use_now > 0) & (x[problem.use_opt] > 0))
    free = _free(timing)
    lost = np.zeros(len(problem.res_cap))
    runs = []
    for k in rows.tolist():
        o, r = int(problem.use_opt[k]), int(problem.use_res[k])
        s = int(stage[o])
        need = int(timing.use_now[k]) * int(x[o])
        if timing.to_end[s]:
            runs.append((-1, 0, r, need, int(timing.release[s]), h - int(timing.release[s]),
                         True))
        else:
            due = h if timing.late_cost[s] > 0 else int(timing.due[s])
            hours = int(timing.opt_hours[o])
            runs.append((due, -hours * need, r, need, int(timing.release[s]), hours, False))
    runs.sort(key=lambda run: (run[0], run[1], run[2]))
    for due, _, r, need, release, hours, to_end in runs:
        if to_end:
            t: int | None = release if int(free[r][release:h].min(initial=need)) >= need \
                else None
        else:
            t = _slot(timing, free, {r: need}, hours, release, due)
        if t is None:
            lost[r] += need * hours
        else:
            free[r][t:t + hours] -= need
    full = timing.res_now.astype(np.float64) * h
    return np.where(full > 0, lost / np.maximum(full, 1.0), 0.0)


def linked_pools(problem: Problem, timing: Timing, x: IntArray) -> np.ndarray:
    """Per resource, whether ``x`` places on it a run of a stage with a precedence arc."""
    linked = np.zeros(problem.n_stages, dtype=np.bool_)
    for p in timing.precedence:
        linked[p.before] = linked[p.after] = True
    rows = np.flatnonzero((timing.use_now > 0) & (x[problem.use_opt] > 0))
    rows = rows[linked[opt_stage(problem)[problem.use_opt[rows]]]]
    out = np.zeros(len(problem.res_cap), dtype=np.bool_)
    out[problem.use_res[rows]] = True
    return out


def headroom(problem: Problem, timing: Timing, x: IntArray, uniform: float) -> FloatArray:
    """Per resource of ``problem``, the share of its capacity a second placement may use
    after the placement ``x`` (module docstring): ``uniform`` on pools with linked runs,
    else 1 less the share :func:`lost_shares` finds, at least :data:`FLOOR`."""
    room = np.clip(1.0 - lost_shares(problem, timing, x), FLOOR, 1.0)
    return np.where(linked_pools(problem, timing, x), uniform, room)
