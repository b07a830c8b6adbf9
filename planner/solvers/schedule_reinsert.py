"""Improve a schedule by re-inserting stages on cheaper options where the pools have room.

A repaired schedule (:mod:`planner.solvers.schedule_repair`) moves the stages that could
not run as placed to whatever fits when the list reaches them, often an expensive cloud
offer; later, other moves and the left shift leave holes in the cheap pools. Each pass
takes the stages with the most to gain first (the cost of their options now against the
cheapest option they have) and tries, cheapest first, every option that keeps the
placement rules (the repair's ``moves``): the stage may start anywhere in the window its
neighbours leave it — its release and predecessors' ends, its deadline and successors'
starts (its go-live stays where it is for inference) — where the option's pools are free
with the stage itself taken out. The first option that fits and lowers the whole
objective (egress between stages included; a late stage never gets later) is kept.

Every step keeps the schedule valid, so the result is as feasible as the input and never
costs more; passes repeat while one improves, within the deadline.
"""

from __future__ import annotations

from planner.models.problem import IntArray, PEdge, Problem
from planner.models.timing import Timing, placed
from planner.solvers.base import SolveOptions
from planner.solvers.schedule_shift import (
    Moves,
    _free,
    _length,
    _needs,
    _option_needs,
    _slot,
    _take,
    _units,
)

PASSES = 4
"""Passes over the stages (each pass after the first starts from what the last freed)."""


def _neighbours(timing: Timing) -> tuple[dict[int, list[tuple[int, int]]],
                                          dict[int, list[tuple[int, int]]]]:
    preds: dict[int, list[tuple[int, int]]] = {}
    succs: dict[int, list[tuple[int, int]]] = {}
    for p in timing.precedence:
        preds.setdefault(p.after, []).append((p.before, p.most))
        succs.setdefault(p.before, []).append((p.after, p.most))
    return preds, succs


def reinsert(problem: Problem, timing: Timing, x: IntArray, start: IntArray, moves: Moves,
             options: SolveOptions | None = None) -> tuple[IntArray, IntArray, int]:
    """(x, starts, stages moved): the module docstring's passes over a valid schedule;
    none once the deadline has passed (setting up a pass is itself seconds at 200 k
    stages)."""
    x, start = x.copy(), start.copy()
    if options is not None and options.expired():
        return x, start, 0
    h = timing.horizon
    free = _free(timing)
    needs = _needs(problem, timing, x)
    stages = [s for s in range(problem.n_stages) if placed(problem, x, s)]
    end = {s: timing.stage_end(problem, x, start, s) for s in stages}
    for s in stages:
        _take(free, needs.get(s, {}), int(start[s]), end[s])
    preds, succs = _neighbours(timing)
    cheapest = {s: int(problem.opt_obj[problem.options_of(s)].min()) for s in stages}
    moved: set[int] = set()
    touching: dict[int, list[PEdge]] = {}
    for e in problem.edges:
        touching.setdefault(e.a, []).append(e)
        touching.setdefault(e.b, []).append(e)
    for _ in range(PASSES):
        def gain(s: int) -> int:
            r = problem.options_of(s)
            return int((problem.opt_obj[r] * x[r]).sum()) - cheapest[s] * _units(problem, x, s)
        order = sorted((s for s in stages if gain(s) > 0), key=lambda s: (-gain(s), s))
        improved = False
        for s in order:
            if options is not None and options.expired():
                return x, start, len(moved)
            lower = max([int(timing.release[s])]
                        + [end[b] + lag for b, lag in preds.get(s, []) if b in end])
            latest = int(timing.due[s])  # a late stage never gets later
            if timing.to_end[s]:
                latest = h
            elif timing.late_cost[s]:
                latest = max(latest, end[s])
            for a, lag in succs.get(s, []):
                if a in end:
                    latest = min(latest, int(start[a]) - lag)
            old = needs.get(s, {})
            for res, d in old.items():
                free[res][int(start[s]):end[s]] += d
            found = _try(problem, timing, x, s, moves, free, lower, latest,
                         int(start[s]), touching.get(s, []))
            if found is None:
                _take(free, old, int(start[s]), end[s])
                continue
            o, t, need = found
            moves.move(x, s, o)
            needs[s] = need
            start[s] = t
            end[s] = h if timing.to_end[s] else t + _length(problem, timing, x, s)
            _take(free, need, t, end[s])
            moved.add(s)
            improved = True
        if not improved:
            break
    return x, start, len(moved)


def _try(problem: Problem, timing: Timing, x: IntArray, s: int, moves: Moves,
         free: dict[int, IntArray], lower: int, latest: int, golive: int,
         edges: list[PEdge]) -> tuple[int, int, dict[int, int]] | None:
    """The first cheaper option of ``s`` that fits its window and lowers the objective
    (its options' cost and the egress of its pipeline edges): (option, start, what it
    holds), or None."""
    r = problem.options_of(s)
    units = _units(problem, x, s)
    now = int((problem.opt_obj[r] * x[r]).sum())
    egress = problem.cost_of_edges(x, edges) if edges else 0
    h = timing.horizon
    for o in moves(s, x, max(0, latest - lower)):
        if int(problem.opt_obj[o]) * units >= now:
            return None  # cheapest first: nothing further is cheaper
        need = _option_needs(problem, timing, o, units)
        if timing.to_end[s]:
            ok = all(int(free[res][golive:h].min()) >= d for res, d in need.items())
            t: int | None = golive if ok else None
        else:
            t = _slot(timing, free, need, int(timing.opt_hours[o]), lower, latest)
        if t is None:
            continue
        change = int(problem.opt_obj[o]) * units - now
        if edges:
            kept = x[r.start:r.stop].copy()
            x[r.start:r.stop] = 0
            x[o] = units
            change += problem.cost_of_edges(x, edges) - egress
            x[r.start:r.stop] = kept
        if change < 0:
            return o, t, need
    return None
