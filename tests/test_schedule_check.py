"""The schedule check over arrays (planner/solvers/schedule_check.py) says exactly what a
check stage by stage and row by row says, on random tiny problems and random starts
(most of them broken)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_schedule_model import _placements, timed

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing, placed
from planner.solvers.schedule_check import schedule_violations


def _by_rows(problem: Problem, timing: Timing, x: IntArray, start: IntArray) -> list[str]:
    """The check one stage, one arc and one usage row at a time."""
    out: list[str] = []
    for s in range(problem.n_stages):
        if not placed(problem, x, s):
            continue
        key = problem.stage_keys[s] if problem.stage_keys else str(s)
        begin, end = int(start[s]), timing.stage_end(problem, x, start, s)
        if begin < int(timing.release[s]):
            out.append(f"{key} starts at {begin}, before its release {int(timing.release[s])}")
        if end > timing.horizon:
            out.append(f"{key} ends at {end}, after the horizon {timing.horizon}")
        if timing.to_end[s] and begin >= timing.horizon:
            out.append(f"{key} goes live at {begin}, not before the horizon ends")
        if timing.late_cost[s] == 0 and timing.lateness(problem, x, start, s) > 0:
            out.append(f"{key} misses its deadline {int(timing.due[s])}")
    for p in timing.precedence:
        if placed(problem, x, p.before) and placed(problem, x, p.after):
            gap = timing.gap(problem, x, p)
            ready = timing.stage_end(problem, x, start, p.before) + gap
            if int(start[p.after]) < ready:
                out.append(f"stage {p.after} starts at {int(start[p.after])}, before stage "
                           f"{p.before} is done and {gap} h later ({ready})")
    held: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    stage_of = {o: s for s in range(problem.n_stages) for o in problem.options_of(s)}
    for k in range(problem.use_opt.size):
        o, r = int(problem.use_opt[k]), int(problem.use_res[k])
        if x[o] <= 0:
            continue
        begin = int(start[stage_of[o]])
        end = timing.horizon if timing.to_end[stage_of[o]] else begin + int(timing.opt_hours[o])
        if end > begin:
            held[r].append((begin, end, int(timing.use_now[k]) * int(x[o])))
    for u in timing.outages:
        held[u.res].append((u.start, u.end, u.amount))
    for r, spans in sorted(held.items()):
        for t in sorted({b for b, _, _ in spans}):
            used = sum(n for b, e, n in spans if b <= t < e)
            if used > int(timing.res_now[r]):
                out.append(f"{problem.res_names[r]} holds {used} > {int(timing.res_now[r])} "
                           f"at hour {t}")
                break
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed(), st.data())
def test_the_check_over_arrays_says_what_the_check_row_by_row_says(
        case: tuple[Problem, Timing], data: st.DataObject) -> None:
    problem, timing = case
    found = _placements(problem)
    x = found[data.draw(st.integers(0, len(found) - 1))] if found else \
        np.zeros(problem.n_options, dtype=np.int64)
    start = np.array(data.draw(st.lists(st.integers(0, timing.horizon + 1),
                                        min_size=problem.n_stages,
                                        max_size=problem.n_stages)), dtype=np.int64)
    assert schedule_violations(problem, timing, x, start) == _by_rows(problem, timing, x,
                                                                      start)
