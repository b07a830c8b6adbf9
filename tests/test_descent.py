"""One-move descent (:mod:`planner.solvers.descent`) against brute force on small random
problems: it keeps a plan within every capacity, never costs more than its start, and ends
where no single stage has a cheaper option that fits."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from bruteforce import brute_force, feasible, problems
from hypothesis import assume, given, settings

from planner.models.problem import Problem
from planner.solvers import descent
from planner.solvers.base import Deadline
from planner.solvers.descent import descend
from planner.solvers.feasibility import violations
from planner.solvers.greedy_pass import greedy_assign
from planner.solvers.lp_strategy import LpBackend, LpConfig


def _one_move_cheaper(problem: Problem, x: np.ndarray) -> bool:
    """Whether some stage has a cheaper option that fits with every other stage as is."""
    for s in range(problem.n_stages):
        r = problem.options_of(s)
        (now,) = [o for o in r if x[o] > 0]
        for o in r:
            if problem.opt_obj[o] < problem.opt_obj[now]:
                y = x.copy()
                y[now], y[o] = 0, 1
                if feasible(problem, y):
                    return True
    return False


@settings(max_examples=200, deadline=None, derandomize=True)
@given(problems(max_stages=7, max_options=4, split_stages=0, side=False))
def test_descent_keeps_a_plan_and_ends_at_a_local_optimum(problem: Problem) -> None:
    assume(descent.applies(problem))
    start, complete = greedy_assign(problem)
    assume(complete and feasible(problem, start))
    x, moves = descend(problem, start, Deadline.after(math.inf), rounds=1_000)
    assert feasible(problem, x) and violations(problem, x) == []
    assert problem.units.tolist() == [
        int(x[r.start:r.stop].sum()) for r in map(problem.options_of, range(problem.n_stages))]
    expected = brute_force(problem)
    assert expected is not None
    assert expected <= problem.objective(x) <= problem.objective(start)
    assert (moves == 0) == bool((x == start).all())
    assert not _one_move_cheaper(problem, x)


def _slack_problem() -> Problem:
    """r0 holds two units; stage 0 needs it (100, or 5,000 unlimited), stage 1 costs 900
    on it and 1,000 unlimited."""
    return Problem(
        n_stages=2, stage_ptr=np.array([0, 2, 4]), units=np.ones(2, dtype=np.int64),
        opt_cost=np.array([100, 5_000, 900, 1_000]), opt_obj=np.array([100, 5_000, 900, 1_000]),
        opt_compute=np.array([100, 5_000, 900, 1_000]), opt_ub=np.ones(4, dtype=np.int64),
        opt_site=np.zeros(4, dtype=np.int64), opt_moved=np.zeros(4, dtype=bool),
        use_opt=np.array([0, 2]), use_res=np.array([0, 0]), use_amt=np.array([1, 1]),
        res_cap=np.array([2]), res_names=("r0",), site_names=("s",),
        site_provider=("aws",), site_cloud=(True,), stage_keys=("w/a", "w/b"))


def test_a_stage_takes_the_room_a_rounding_left() -> None:
    """A rounding at multipliers that priced r0 as full put stage 1 on its unlimited option;
    r0 has room for it, and the descent moves it there."""
    problem = _slack_problem()
    x, moves = descend(problem, np.array([1, 0, 0, 1]), Deadline.after(math.inf))
    assert moves == 1 and x.tolist() == [1, 0, 1, 0] and problem.objective(x) == 1_000


def test_the_descent_stops_at_its_deadline() -> None:
    problem = _slack_problem()
    start = np.array([1, 0, 0, 1])
    x, moves = descend(problem, start, Deadline.after(0.0))
    assert moves == 0 and x.tolist() == start.tolist()


def test_the_descent_leaves_rules_across_stages_to_the_search() -> None:
    problem = _slack_problem()
    assert descent.applies(problem)
    assert not descent.applies(dataclasses.replace(problem, units=np.array([2, 1])))


def test_the_lp_strategy_descends_with_headroom_or_from_multipliers_alone() -> None:
    """The decomposed path's first placement keeps the rounding (it is scheduled as
    placed, and the descent would fill its pools further); the placement with headroom,
    and a rounding from multipliers alone, descend."""
    problem = _slack_problem()
    backend = LpBackend()
    assert not backend._descends(problem)
    backend.headroom = True
    assert backend._descends(problem)
    assert LpBackend(LpConfig(polish_max_options=0))._descends(problem)
    assert not LpBackend(LpConfig(polish_max_options=0))._descends(
        dataclasses.replace(problem, units=np.array([2, 1])))
