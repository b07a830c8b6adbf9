"""Capacity at every instant, in the placement model's terms: energy cuts per pool.

The placement model counts capacity per period (unit-hours of the horizon), a
relaxation of capacity at every instant: it accepts a pool that is full at the end of
the horizon and empty at the start, though every inference stage that goes live near the
end needs its nodes at the same time. Energetic reasoning (Lopez & Esquirol, "Consistency
enforcing in scheduling: a general formulation based on energetic reasoning", 1996; used
in every cumulative propagator) gives valid linear cuts that the placement backends,
their LP and their bounds all understand:

For a pool ``r`` and a time window ``[a, b)``, a unit placed on option ``o`` (using
``use_now`` units of ``r`` while it runs) overlaps ``[a, b)`` for at least
``m_o(a, b)`` hours whatever its start, because its start lies in a window known in
advance (:func:`start_windows`). So every schedule satisfies

    Σ_o use_now[o, r] · m_o(a, b) · x[o]  ≤  res_now[r] · (b − a) − outage energy of r in [a, b).

The overlap of a run ``[t, t + L)`` with ``[a, b)`` is a trapezoid in ``t`` (rises,
stays, falls), so its minimum over a start window ``[lo, hi]`` is at ``lo`` or ``hi``.
Inference runs from its go-live to the horizon end; a hard go-live by ``due`` means it
overlaps ``[a, b)`` for at least ``b − max(a, due)`` hours. A soft deadline adds no
lower bound (a late stage may start anywhere), and neither does an option that cannot run
in its window (the scheduler finds that out).

:func:`with_time_cuts` adds one resource per (pool, window) to a :class:`Problem`: the
windows ``[a, h)`` and ``[0, b)`` at a few points per pool (the latest starts and
earliest ends of its options; the last hour catches every inference stage at once; one
hour where the runs' compulsory parts meet catches runs longer than half their window),
the whole horizon in whole hours (the period's capacity counts exact hours, a schedule
whole ones; where that cut implies the pool's own row, it tightens that row instead of
being added beside it) and each outage; windows that no placement can overfill are left out. Two
more kinds of rows use the same machinery: per precedence path of batch stages, their
mean run hours fit between the first one's earliest start and the last one's latest end
(a pipeline on options too slow for its deadline), and a resource of capacity 0 holds
the options that cannot run in their stage's window at all (too short, or every start in
it meets an outage that leaves their pool too few units).

Options and their order do not change, so a placement of the extended problem is a
placement of the original, and its bound stays a valid lower bound of the time-aware
problem (the cuts only remove placements no schedule can run).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing
from planner.solvers.decompose import opt_stage

POINTS_PER_POOL = 4
"""Windows ``[a, h)`` and ``[0, b)`` per pool (each at this many points)."""
MAX_PATHS = 64
"""Precedence paths enumerated from each stage (pipelines have a handful)."""
MILLI = 1000
"""Placement capacity is in milli-unit-hours (:class:`Problem`)."""


def _shortest(problem: Problem, timing: Timing) -> IntArray:
    """Hours of each stage's fastest option (0 for a stage without options)."""
    n = problem.n_stages
    out = np.zeros(n, dtype=np.int64)
    counts = np.diff(problem.stage_ptr)
    has = counts > 0
    if problem.n_options:
        mins = np.minimum.reduceat(timing.opt_hours, problem.stage_ptr[:-1][has])
        out[has] = mins
    return out


def start_windows(problem: Problem, timing: Timing) -> tuple[IntArray, IntArray]:
    """Per stage, the earliest start and the latest end any schedule can give it: its
    release and deadline (the horizon when the deadline is soft), tightened along
    precedence arcs with the fastest option of each stage (a necessary condition; arcs
    join stages of one workload, which a partial plan places or drops whole)."""
    h = timing.horizon
    early = timing.release.astype(np.int64).copy()
    late = np.where(timing.late_cost > 0, h, timing.due).astype(np.int64)
    late[timing.to_end] = h
    golive_by = np.where(timing.late_cost > 0, h, timing.due).astype(np.int64)
    short = _shortest(problem, timing)
    arcs = [p for p in timing.precedence if not timing.to_end[p.before]]
    for _ in range(len(arcs) + 1):
        changed = False
        for p in arcs:
            a, b = p.before, p.after
            e = early[a] + short[a] + p.lag
            if e > early[b]:
                early[b], changed = e, True
            cap = (golive_by[b] if timing.to_end[b] else late[b] - short[b]) - p.lag
            if cap < late[a]:
                late[a], changed = cap, True
        if not changed:
            break
    return early, late


def _option_windows(problem: Problem, timing: Timing) -> tuple[IntArray, IntArray, IntArray]:
    """Per option: earliest start, latest start (or go-live) and run hours; a latest
    start below the earliest marks an option with no lower bound on its overlap."""
    early, late = start_windows(problem, timing)
    stage = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    h = timing.horizon
    lo = early[stage]
    end = timing.to_end[stage]
    hard = timing.late_cost[stage] == 0
    length = np.where(end, h - lo, timing.opt_hours)
    hi = np.where(end, np.where(hard, timing.due[stage], -1), late[stage] - timing.opt_hours)
    return lo, hi, length


def _overlap(t: IntArray, length: IntArray, a: int, b: int, to_end: np.ndarray,
             h: int) -> IntArray:
    run_end = np.where(to_end, h, t + length)
    return np.maximum(0, np.minimum(run_end, b) - np.maximum(t, a))


def _min_overlap(lo: IntArray, hi: IntArray, length: IntArray, to_end: np.ndarray,
                 a: int, b: int, h: int) -> IntArray:
    """Hours of ``[a, b)`` each run must cover whatever its start in ``[lo, hi]``."""
    least = np.minimum(_overlap(lo, length, a, b, to_end, h),
                       _overlap(hi, length, a, b, to_end, h))
    return np.where(hi >= lo, least, 0)


def _points(values: IntArray, k: int) -> list[int]:
    """Up to ``k`` distinct quantiles of ``values``."""
    if values.size == 0:
        return []
    qs = np.quantile(values, np.linspace(0, 1, k + 2)[1:-1], method="lower")
    return sorted({int(q) for q in qs})


def _windows(timing: Timing, r: int, lo: IntArray, hi: IntArray, length: IntArray,
             to_end: np.ndarray, k: int) -> list[tuple[int, int]]:
    h = timing.horizon
    ok = hi >= lo
    starts = hi[ok]
    ends = np.where(to_end, h, lo + length)[ok]
    wins = {(0, h), (h - 1, h)}
    wins |= {(a, h) for a in _points(starts, k) if 0 < a < h}
    wins |= {(0, b) for b in _points(ends, k) if 0 < b < h}
    wins |= {(o.start, o.end) for o in timing.outages if o.res == r}
    wins |= {(t, t + 1) for t in _instants(lo[ok], hi[ok], length[ok], to_end[ok], h)}
    return sorted(wins)


def _instants(lo: IntArray, hi: IntArray, length: IntArray, to_end: np.ndarray,
              h: int) -> list[int]:
    """Instants that many runs must cover whatever their start (their compulsory parts
    ``[hi, lo + length)`` overlap there)."""
    end = np.where(to_end, h, hi + length)
    part = (~to_end) & (hi < lo + length)
    if not part.any():
        return []
    mid = (hi[part] + np.minimum(lo[part] + length[part], end[part])) // 2
    return [t for t in _points(mid, 1) if 0 <= t < h]


def _redundant(stage: IntArray, most: IntArray, cap: int) -> bool:
    """Whether a cut holds whatever the placement: every stage at its largest amount
    (all its units on its most demanding option) still fits ``cap``."""
    if stage.size == 0:
        return True
    per_stage = np.zeros(int(stage.max()) + 1, dtype=np.int64)
    np.maximum.at(per_stage, stage, most)  # (a dict over rows took 2 s per call at hard l)
    return int(per_stage.sum()) <= cap


def _stronger(need: IntArray, cap: int, mine: IntArray, on: np.ndarray, rows_of_r: int,
              amt: IntArray, res_cap: int) -> bool:
    """Whether the whole-horizon cut of a pool implies the pool's own row (capacity per
    period): it covers every row of the pool (``mine`` are all ``rows_of_r`` of them), with
    amounts no smaller and a capacity no larger. Then it replaces that row instead of
    copying the pool's rows (a third of the rows at hard l: 7.0 M against 4.5 M)."""
    return bool(on.all()) and mine.size == rows_of_r and cap * MILLI <= res_cap \
        and bool((need * MILLI >= amt[mine]).all())


def _capacity(timing: Timing, r: int, a: int, b: int) -> int:
    down = sum(o.amount * max(0, min(o.end, b) - max(o.start, a))
               for o in timing.outages if o.res == r)
    return int(timing.res_now[r]) * (b - a) - down


def _unrunnable(problem: Problem, timing: Timing, lo: IntArray, hi: IntArray,
                length: IntArray) -> IntArray:
    """The options that cannot run in their stage's window (:func:`start_windows`: a
    predecessor or successor leaves too little time, or every start in it meets an
    outage that leaves a pool too few units, :func:`_outage_bound`), unless that would
    leave the stage no option at all (the scheduler then says which stage cannot run)."""
    stage = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    dead = (hi < lo) & ~timing.to_end[stage] & (timing.late_cost[stage] == 0)
    dead |= _outage_bound(problem, timing, lo, hi, length)
    alive = np.bincount(stage[~dead], minlength=problem.n_stages)
    return np.flatnonzero(dead & (alive[stage] > 0))


def _outage_bound(problem: Problem, timing: Timing, lo: IntArray, hi: IntArray,
                  length: IntArray) -> np.ndarray:
    """Per option with a hard window, whether every start in ``[lo, hi]`` runs into an
    hour where an outage leaves one of its pools fewer units than it holds (a run whose
    window spans a maintenance but is too short to fit before or after it: timed m has
    2,384 such options of 181,642, timed l 18,684; an outage's energy window catches only
    runs that overlap it at every start). A run fits where the pool keeps enough units
    free the whole time: in one of the few stretches between outages (a run of 0 hours
    holds nothing and fits anywhere)."""
    h = timing.horizon
    dead = np.zeros(problem.n_options, dtype=np.bool_)
    stage = opt_stage(problem)
    hard = (timing.late_cost[stage] == 0) & (hi >= lo)
    for r in sorted({out.res for out in timing.outages}):
        free = np.full(h, int(timing.res_now[r]), dtype=np.int64)
        for out in timing.outages:
            if out.res == r:
                free[out.start:out.end] -= out.amount
        rows = np.flatnonzero((problem.use_res == r) & (timing.use_now > 0))
        opts, need = problem.use_opt[rows], timing.use_now[rows]
        for d in np.unique(need).tolist():
            mine = opts[(need == d) & hard[opts]]
            ends = timing.to_end[stage[mine]]
            clear = np.flatnonzero(np.diff(np.r_[False, free >= d, False].astype(np.int8)))
            fits = ~ends & (length[mine] == 0) & (lo[mine] <= hi[mine])  # holds nothing
            for a, b in zip(clear[0::2].tolist(), clear[1::2].tolist(), strict=True):
                first = np.maximum(lo[mine], a)
                fits |= (first <= hi[mine]) & np.where(ends, b == h, first + length[mine] <= b)
            dead[mine[~fits]] = True
    return dead


def _paths(timing: Timing) -> list[list[int]]:
    """Every precedence path of two or more batch stages (up to :data:`MAX_PATHS` from
    each first stage), as stage lists in order."""
    succs: dict[int, list[int]] = {}
    for p in timing.precedence:
        if not timing.to_end[p.before] and not timing.to_end[p.after]:
            succs.setdefault(p.before, []).append(p.after)
    out: list[list[int]] = []
    for a in sorted(succs):
        todo, found = [[a]], 0
        while todo and found < MAX_PATHS:
            path = todo.pop()
            for b in succs.get(path[-1], []):
                if b not in path:
                    out.append([*path, b])
                    todo.append([*path, b])
                    found += 1
    return out


def _chain_rows(problem: Problem, timing: Timing, early: IntArray,
                late: IntArray) -> list[tuple[IntArray, IntArray, int]]:
    """Per precedence path ``a → … → b`` of batch stages: the stages run one after the
    other, each at least the unit-weighted mean of its options' hours, so
    ``Σ_s Σ_o hours[o] · x[o] / units[s] ≤ late[b] − early[a] − lags``; as (options,
    milli-amounts rounded down, milli-capacity), only where the slowest options break it."""
    lag = {(p.before, p.after): p.lag for p in timing.precedence}
    rows = []
    for path in _paths(timing):
        a, b = path[0], path[-1]
        room = int(late[b]) - int(early[a]) - sum(lag[uv] for uv in itertools.pairwise(path))
        slowest = sum(int(timing.opt_hours[problem.options_of(s)].max(initial=0))
                      for s in path)
        if slowest <= room:
            continue  # no choice of options can break it
        opts = np.concatenate([np.arange(problem.stage_ptr[s], problem.stage_ptr[s + 1])
                               for s in path])
        units = np.concatenate([np.full(problem.stage_ptr[s + 1] - problem.stage_ptr[s],
                                        max(1, int(problem.units[s]))) for s in path])
        amt = timing.opt_hours[opts] * MILLI // units
        rows.append((opts, amt, max(0, room) * MILLI))
    return rows


def with_time_cuts(problem: Problem, timing: Timing,
                   points: int = POINTS_PER_POOL) -> Problem:
    """``problem`` with the energy cuts of the module docstring as extra resources
    (named ``<pool>@[a,b)h``); options, costs and the other rules unchanged."""
    lo_o, hi_o, len_o = _option_windows(problem, timing)
    stage = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    to_end_o = timing.to_end[stage]
    h = timing.horizon
    keep = timing.use_now > 0
    amt0, cap0 = problem.use_amt.copy(), problem.res_cap.copy()
    rows_opt, rows_res, rows_amt = [problem.use_opt], [problem.use_res], [amt0]
    caps, names = [cap0], list(problem.res_names)
    n_res = len(problem.res_cap)
    per_res = np.bincount(problem.use_res, minlength=n_res)
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(problem.use_res[rows], kind="stable")]  # grouped by resource
    cuts = np.searchsorted(problem.use_res[rows], np.arange(n_res + 1))
    for r in range(len(problem.res_cap)):
        mine = rows[cuts[r]:cuts[r + 1]]
        if not mine.size:
            continue
        opts = problem.use_opt[mine]
        lo, hi, ln, te = lo_o[opts], hi_o[opts], len_o[opts], to_end_o[opts]
        units = problem.units[stage[opts]]
        for a, b in _windows(timing, r, lo, hi, ln, te, points):
            need = _min_overlap(lo, hi, ln, te, a, b, h) * timing.use_now[mine]
            on = need > 0
            cap = max(0, _capacity(timing, r, a, b))
            if not on.any() or _redundant(stage[opts], need * units, cap):
                continue
            if (a, b) == (0, h) and _stronger(need, cap, mine, on, per_res[r], amt0, cap0[r]):
                amt0[mine], cap0[r] = need * MILLI, cap * MILLI  # the pool's own row, tighter
                continue
            rows_opt.append(opts[on])
            rows_res.append(np.full(int(on.sum()), n_res, dtype=np.int64))
            rows_amt.append(need[on] * MILLI)
            caps.append(np.array([cap * MILLI], dtype=np.int64))
            names.append(f"{problem.res_names[r]}@[{a},{b})h")
            n_res += 1
    early, late = start_windows(problem, timing)
    for opts, amt, cap in _chain_rows(problem, timing, early, late):
        on = amt > 0
        rows_opt.append(opts[on])
        rows_res.append(np.full(int(on.sum()), n_res, dtype=np.int64))
        rows_amt.append(amt[on])
        caps.append(np.array([cap], dtype=np.int64))
        names.append(f"chain:{len(names)}")
        n_res += 1
    dead = _unrunnable(problem, timing, lo_o, hi_o, len_o)
    if dead.size:  # a resource of capacity 0 that each of them needs
        rows_opt.append(dead)
        rows_res.append(np.full(dead.size, n_res, dtype=np.int64))
        rows_amt.append(np.ones(dead.size, dtype=np.int64))
        caps.append(np.zeros(1, dtype=np.int64))
        names.append("window:no-room")
    use_opt = np.concatenate(rows_opt)
    order = np.argsort(use_opt, kind="stable")  # usage rows stay in option order
    return dataclasses.replace(
        problem, use_opt=use_opt[order], use_res=np.concatenate(rows_res)[order],
        use_amt=np.concatenate(rows_amt)[order], res_cap=np.concatenate(caps),
        res_names=tuple(names))


def row_pools(cut: Problem, problem: Problem) -> IntArray:
    """Per resource of ``cut`` (:func:`with_time_cuts` of ``problem``), the resource of
    ``problem`` it counts: itself for ``problem``'s own, its pool for an energy window
    (``<pool>@[a,b)h``), -1 for the other rows (precedence paths, no room)."""
    n = len(problem.res_cap)
    out = np.full(len(cut.res_cap), -1, dtype=np.int64)
    out[:n] = np.arange(n)
    index = {name: r for r, name in enumerate(problem.res_names)}
    for i, name in enumerate(cut.res_names[n:], start=n):
        if "@[" in name:
            out[i] = index.get(name.split("@[")[0], -1)
    return out


def with_headroom(cut: Problem, problem: Problem, timing: Timing,
                  headroom: float | NDArray[np.float64]) -> Problem:
    """``cut`` (:func:`with_time_cuts` of ``problem``) with every pool that holds capacity
    at once, per period and in each energy window, at ``headroom`` × its capacity (one
    share, or one per resource of ``problem``: :mod:`planner.solvers.pool_room`), never
    below what one unit of its most demanding option needs (a stage that fits a pool alone
    still fits it). No longer a relaxation (its bound is no bound), but a placement that
    leaves pools room to pack (:data:`planner.solvers.schedule_plan.HEADROOM`); the usage
    rows are ``cut``'s own, not copies."""
    n = len(problem.res_cap)
    scaled = np.zeros(len(cut.res_cap), dtype=np.bool_)
    scaled[problem.use_res[timing.use_now > 0]] = True
    share = np.ones(len(cut.res_cap))
    share[:n] = headroom
    pools = row_pools(cut, problem)
    windows = np.flatnonzero(pools[n:] >= 0) + n
    scaled[windows], share[windows] = True, share[pools[windows]]
    largest = np.zeros(len(cut.res_cap), dtype=np.int64)
    np.maximum.at(largest, cut.use_res, cut.use_amt)
    less = np.maximum(np.floor(cut.res_cap * share).astype(np.int64), largest)
    return dataclasses.replace(cut, res_cap=np.where(scaled, np.minimum(cut.res_cap, less),
                                                     cut.res_cap))
