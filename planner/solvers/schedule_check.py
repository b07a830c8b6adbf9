"""The check every schedule answer passes: windows, deadlines, precedence, capacity at
every instant, over the arrays of a :class:`Problem` and its :class:`Timing`.

Independent of how the schedule was found (no CP-SAT here): a sweep over the instants
where something starts, since usage only rises at a start. The placement rules
(units, side constraints) are :func:`planner.solvers.feasibility.violations`' job;
:func:`schedule_violations` adds what time brings.
"""

from __future__ import annotations

from collections import defaultdict

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing, placed


def _window(problem: Problem, timing: Timing, x: IntArray, start: IntArray,
            s: int) -> list[str]:
    key = problem.stage_keys[s] if problem.stage_keys else str(s)
    begin, end = int(start[s]), timing.stage_end(problem, x, start, s)
    out = []
    if begin < int(timing.release[s]):
        out.append(f"{key} starts at {begin}, before its release {int(timing.release[s])}")
    if end > timing.horizon:
        out.append(f"{key} ends at {end}, after the horizon {timing.horizon}")
    if timing.to_end[s] and begin >= timing.horizon:
        out.append(f"{key} goes live at {begin}, not before the horizon ends")
    if timing.late_cost[s] == 0 and timing.lateness(problem, x, start, s) > 0:
        out.append(f"{key} misses its deadline {int(timing.due[s])}")
    return out


def _running(problem: Problem, timing: Timing, x: IntArray,
             start: IntArray) -> dict[int, list[tuple[int, int, int]]]:
    """Resource → (start, end, units held) of every placed option using it, and outages."""
    held: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    stage_of = {o: s for s in range(problem.n_stages) for o in problem.options_of(s)}
    for k in range(problem.use_opt.size):
        o, r = int(problem.use_opt[k]), int(problem.use_res[k])
        if x[o] <= 0:
            continue
        s = stage_of[o]
        begin = int(start[s])
        end = timing.horizon if timing.to_end[s] else begin + int(timing.opt_hours[o])
        if end > begin:
            held[r].append((begin, end, int(timing.use_now[k]) * int(x[o])))
    for out in timing.outages:
        held[out.res].append((out.start, out.end, out.amount))
    return held


def _peak_breaches(problem: Problem, timing: Timing,
                   held: dict[int, list[tuple[int, int, int]]]) -> list[str]:
    out = []
    for r, spans in sorted(held.items()):
        cap = int(timing.res_now[r])
        for t in sorted({b for b, _, _ in spans}):
            used = sum(n for b, e, n in spans if b <= t < e)
            if used > cap:
                out.append(f"{problem.res_names[r]} holds {used} > {cap} at hour {t}")
                break
    return out


def schedule_violations(problem: Problem, timing: Timing, x: IntArray,
                        start: IntArray) -> list[str]:
    """Every time rule ``(x, start)`` breaks, in words; empty when it is a schedule."""
    out: list[str] = []
    for s in range(problem.n_stages):
        if placed(problem, x, s):
            out += _window(problem, timing, x, start, s)
    for p in timing.precedence:
        if placed(problem, x, p.before) and placed(problem, x, p.after):
            gap = timing.gap(problem, x, p)
            ready = timing.stage_end(problem, x, start, p.before) + gap
            if int(start[p.after]) < ready:
                out.append(f"stage {p.after} starts at {int(start[p.after])}, before stage "
                           f"{p.before} is done and {gap} h later ({ready})")
    return out + _peak_breaches(problem, timing, _running(problem, timing, x, start))
