"""Left-shift a schedule: every stage as early as it can go, the placement unchanged.

A solver's schedule is feasible but its starts may be arbitrary wherever nothing in
the objective pushes them (a cloud stage without quota may start anywhere in its
window). Taking the stages in the order of their starts, each is moved to the earliest
whole hour that its release, its predecessors and the pools already scheduled allow.
No stage moves later: at and after a stage's old start, the stages scheduled before it
hold no more than they did (each ends no later than before), so its old start still
fits. Deadlines therefore still hold, late penalties never grow, and the answer is a
semi-active schedule whose starts have a reason: a window, a predecessor, or a pool
that is full until then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing, placed


def _needs(problem: Problem, timing: Timing, x: IntArray) -> dict[int, dict[int, int]]:
    """Stage → resource → units it holds at once (limited resources only)."""
    stage_of = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    out: dict[int, dict[int, int]] = {}
    for k in np.flatnonzero(x[problem.use_opt] > 0).tolist():
        o, r = int(problem.use_opt[k]), int(problem.use_res[k])
        d = int(timing.use_now[k]) * int(x[o])
        if d:
            per = out.setdefault(int(stage_of[o]), {})
            per[r] = per.get(r, 0) + d
    return out


def left_shift(problem: Problem, timing: Timing, x: IntArray, start: IntArray) -> IntArray:
    """The starts of the module docstring (``start`` itself is left unchanged)."""
    h = timing.horizon
    free = {r: np.full(h, int(timing.res_now[r]), dtype=np.int64)
            for r in range(len(timing.res_now))}
    for out in timing.outages:
        free[out.res][out.start:out.end] -= out.amount
    needs = _needs(problem, timing, x)
    preds: dict[int, list[int]] = {}
    for p in timing.precedence:
        preds.setdefault(p.after, []).append(p.before)
    lags = {(p.before, p.after): p.lag for p in timing.precedence}
    order = sorted((s for s in range(problem.n_stages) if placed(problem, x, s)),
                   key=lambda s: (int(start[s]), s))
    new = start.copy()
    end: dict[int, int] = {}
    for s in order:
        length = (h - int(start[s])) if timing.to_end[s] else \
            max((int(timing.opt_hours[o]) for o in problem.options_of(s) if x[o] > 0),
                default=0)
        lower = int(timing.release[s])
        for b in preds.get(s, []):
            if b in end:
                lower = max(lower, end[b] + lags[(b, s)])
        t = int(start[s]) if timing.to_end[s] else _earliest(free, needs.get(s, {}), lower,
                                                             int(start[s]), length)
        new[s] = t
        end[s] = h if timing.to_end[s] else t + length
        for r, d in needs.get(s, {}).items():
            free[r][t:end[s]] -= d
    return new


def _earliest(free: dict[int, IntArray], need: dict[int, int], lower: int, old: int,
              length: int) -> int:
    """The first hour in ``[lower, old]`` from which ``need`` fits for ``length`` hours
    (``old`` always does, see the module docstring)."""
    if not need or length == 0:
        return min(lower, old)
    t = lower
    while t < old:
        blocked = -1
        for r, d in need.items():
            short = np.flatnonzero(free[r][t:t + length] < d)
            if short.size:
                blocked = max(blocked, t + int(short[-1]) + 1)
        if blocked < 0:
            return t
        t = blocked
    return old


Moves = Callable[[int, IntArray], Iterator[IntArray]]
"""Other placements to try for a stage that cannot run as placed: stage, x → new xs."""


def list_schedule(problem: Problem, timing: Timing, x: IntArray,
                  moves: Moves | None = None) -> tuple[IntArray, IntArray] | None:
    """A schedule of the placement ``x`` by list scheduling — (x, starts) — or None when
    it misses a hard deadline or a go-live: stages with a fixed go-live first, then the
    others once their predecessors are scheduled, earliest deadline first, each at the
    earliest whole hour its release, predecessors and the pools allow. Instant, and exact
    whenever every deadline is hard (then when a stage runs does not change the cost); a
    stage that misses a soft deadline is scheduled late and pays for it. With ``moves``,
    a stage that cannot run as placed is re-placed by the first move that runs in time
    (the answer's x then differs from ``x``)."""
    h = timing.horizon
    free = {r: np.full(h, int(timing.res_now[r]), dtype=np.int64)
            for r in range(len(timing.res_now))}
    for out in timing.outages:
        free[out.res][out.start:out.end] -= out.amount
    x = x.copy()
    needs = _needs(problem, timing, x)
    stages = [s for s in range(problem.n_stages) if placed(problem, x, s)]
    start = np.zeros(problem.n_stages, dtype=np.int64)
    end: dict[int, int] = {}
    for s in stages:
        if timing.to_end[s]:
            g = int(timing.release[s])  # the go-live (the earliest, when there is a window)
            if timing.late_cost[s] == 0 and g > int(timing.due[s]):
                return None
            if not _fits(free, needs.get(s, {}), g, h - g) and moves is not None:
                for alt in moves(s, x):
                    need = _needs_of(problem, timing, alt, s)
                    if _fits(free, need, g, h - g):
                        x, needs[s] = alt, need
                        break
            if not _fits(free, needs.get(s, {}), g, h - g):
                return None
            start[s], end[s] = g, h
            _take(free, needs.get(s, {}), g, h)
    preds: dict[int, list[tuple[int, int]]] = {}
    latest = {s: h if timing.late_cost[s] else int(timing.due[s]) for s in stages}
    for p in timing.precedence:
        preds.setdefault(p.after, []).append((p.before, p.lag))
        if p.after in end and p.before in latest:  # must end by a fixed go-live
            latest[p.before] = min(latest[p.before], int(start[p.after]) - p.lag)
    waiting = sorted((s for s in stages if not timing.to_end[s]),
                     key=lambda s: (int(timing.due[s]), int(timing.release[s]), s))
    while waiting:
        ready = next((s for s in waiting
                      if all(b in end or not placed(problem, x, b)
                             for b, _ in preds.get(s, []))), None)
        if ready is None:
            return None  # a cycle through a fixed go-live: nothing can go first
        waiting.remove(ready)
        s = ready
        lower = max([int(timing.release[s])]
                    + [end[b] + lag for b, lag in preds.get(s, []) if b in end])
        t = _slot(problem, timing, free, needs.get(s, {}), x, s, lower, latest[s])
        if t is None and moves is not None:
            for alt in moves(s, x):
                need = _needs_of(problem, timing, alt, s)
                t = _slot(problem, timing, free, need, alt, s, lower, latest[s])
                if t is not None:
                    x, needs[s] = alt, need
                    break
        if t is None:
            return None
        start[s], end[s] = t, t + _length(problem, timing, x, s)
        _take(free, needs.get(s, {}), t, end[s])
    for p in timing.precedence:  # between two fixed go-lives nothing could move
        if p.before in end and p.after in end and start[p.after] < end[p.before] + p.lag:
            return None
    return x, start


def _length(problem: Problem, timing: Timing, x: IntArray, s: int) -> int:
    return max(int(timing.opt_hours[o]) for o in problem.options_of(s) if x[o] > 0)


def _needs_of(problem: Problem, timing: Timing, x: IntArray, s: int) -> dict[int, int]:
    r = problem.options_of(s)
    rows = np.flatnonzero((problem.use_opt >= r.start) & (problem.use_opt < r.stop))
    out: dict[int, int] = {}
    for k in rows.tolist():
        d = int(timing.use_now[k]) * int(x[int(problem.use_opt[k])])
        if d:
            out[int(problem.use_res[k])] = out.get(int(problem.use_res[k]), 0) + d
    return out


def _slot(problem: Problem, timing: Timing, free: dict[int, IntArray], need: dict[int, int],
          x: IntArray, s: int, lower: int, latest: int) -> int | None:
    """The earliest start of stage ``s`` placed as ``x``, or None if it cannot end by
    ``latest`` (its hard deadline, a successor's go-live, the horizon)."""
    h = timing.horizon
    length = _length(problem, timing, x, s)
    if lower + length > h:
        return None
    t = _earliest(free, need, lower, h - length, length)
    if not _fits(free, need, t, length):
        return None
    return t if t + length <= latest else None


def _fits(free: dict[int, IntArray], need: dict[int, int], t: int, length: int) -> bool:
    return all(length <= 0 or int(free[r][t:t + length].min()) >= d for r, d in need.items())


def _take(free: dict[int, IntArray], need: dict[int, int], a: int, b: int) -> None:
    for r, d in need.items():
        free[r][a:b] -= d
