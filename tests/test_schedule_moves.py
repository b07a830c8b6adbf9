"""The repair's moves (planner/solvers/schedule_moves.py): the use per period they keep as
moves are made equals the use recomputed from scratch, and they offer exactly the options
that a check over every usage row (the rules a move can break) admits."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_schedule_model import _placements, timed
from test_time_cuts import one_node_two_jobs

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing, placed
from planner.solvers.feasibility import colocation_broken, violations
from planner.solvers.schedule_moves import MOVES_PER_STAGE, StageMoves, period_use


def _use_by_rows(problem: Problem, x: IntArray) -> IntArray:
    use = np.zeros(len(problem.res_cap), dtype=np.int64)
    for k in range(problem.use_opt.size):
        use[problem.use_res[k]] += int(problem.use_amt[k]) * int(x[problem.use_opt[k]])
    return use


def _admitted(problem: Problem, timing: Timing, s: int, x: IntArray, room: int) -> list[int]:
    """The options a stage may move to, checked on the moved placement row by row."""
    r = problem.options_of(s)
    units = int(x[r.start:r.stop].sum())
    global_rules = bool(problem.budgets) or problem.max_share is not None \
        or problem.max_moves is not None or problem.opt_groups is not None
    out = []
    for o in sorted(r, key=lambda o: (int(problem.opt_obj[o]), o)):
        if int(problem.opt_ub[o]) < units or x[o] == units \
                or (not timing.to_end[s] and int(timing.opt_hours[o]) > room):
            continue
        if problem.min_sites is not None and int(problem.min_sites[s]) > 1:
            continue
        y = x.copy()
        y[r.start:r.stop] = 0
        y[o] = units
        if global_rules:
            ok = not violations(problem, y)
        else:
            ok = bool((_use_by_rows(problem, y) <= problem.res_cap).all()) and not any(
                s in (c.a, c.b) and colocation_broken(problem, c, y)
                for c in problem.colocations)
        if ok:
            out.append(o)
    return out[:MOVES_PER_STAGE]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed(), st.data())
def test_moves_offer_what_a_check_of_every_row_admits_as_moves_are_made(
        case: tuple[Problem, Timing], data: st.DataObject) -> None:
    problem, timing = case
    found = _placements(problem)
    if not found:
        return
    x = found[data.draw(st.integers(0, len(found) - 1))].copy()
    moves = StageMoves(problem, timing)
    for _ in range(4):
        stages = [s for s in range(problem.n_stages) if placed(problem, x, s)]
        if not stages:
            return
        s = data.draw(st.sampled_from(stages))
        room = data.draw(st.integers(0, timing.horizon))
        offered = list(moves(s, x, room))
        assert offered == _admitted(problem, timing, s, x, room)
        assert (period_use(problem, x) == _use_by_rows(problem, x)).all()
        if not offered:
            continue
        moves.move(x, s, data.draw(st.sampled_from(offered)))
        assert (moves._current(x) == _use_by_rows(problem, x)).all(), \
            "the use kept through a move is the use of the moved placement"


def test_a_new_array_starts_a_new_count() -> None:
    # One pool of 10 node-hours, two stages of 6 on it or on the cloud: after the first
    # array moved a stage off the pool, a fresh copy of the original is counted afresh.
    problem, timing = one_node_two_jobs(due=[10, 10])
    moves = StageMoves(problem, timing)
    first = np.array([0, 1, 0, 1])
    assert list(moves(0, first, 10)) == [0]  # 6 of 10 node-hours: the pool takes it
    moves.move(first, 0, 0)
    assert list(moves(1, first, 10)) == []  # the pool holds 6: 12 would not fit
    other = np.array([0, 1, 0, 1])
    assert list(moves(1, other, 10)) == [2]
