"""Left-shift, list scheduling and the greedy re-placement, against the exact model on
random tiny time-aware problems (the generator of tests/test_schedule_model.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from test_schedule_model import brute_schedule, timed

from planner.models.problem import IntArray, Problem
from planner.models.timing import Precedence, Timing
from planner.solvers import schedule_repair
from planner.solvers.base import SolveOptions
from planner.solvers.feasibility import violations
from planner.solvers.greedy import GreedyBackend
from planner.solvers.schedule_check import schedule_violations
from planner.solvers.schedule_cpsat import solve_schedule
from planner.solvers.schedule_repair import greedy_replace
from planner.solvers.schedule_shift import RULES, left_shift, list_schedule

OPTIONS = SolveOptions(time_limit_s=10, workers=1, deterministic=True)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed())
def test_left_shift_keeps_the_schedule_valid_and_never_later(
        case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    done = solve_schedule(problem, timing, OPTIONS)
    if done.solution.objective is None:
        return
    x = done.solution.x
    shifted = left_shift(problem, timing, x, done.start)
    assert not schedule_violations(problem, timing, x, shifted)
    assert (shifted <= done.start).all()
    assert timing.late_penalty(problem, x, shifted) <= timing.late_penalty(problem, x,
                                                                           done.start)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed())
def test_list_schedule_and_greedy_replacement_answers_are_valid_and_not_below_optimum(
        case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    best = brute_schedule(problem, timing)
    greedy = GreedyBackend().solve(problem, OPTIONS)
    for got in (list_schedule(problem, timing, greedy.x),
                greedy_replace(problem, timing, greedy.x)):
        if got is None or greedy.objective is None:
            continue
        x, start = got
        assert not violations(problem, x)
        assert not schedule_violations(problem, timing, x, start)
        assert best is not None, "a schedule was found where brute force finds none"
        assert problem.objective(x) + timing.late_penalty(problem, x, start) >= best
    if best is None:
        assert np.all(greedy.x >= 0)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed())
def test_greedy_replacement_reinserts_only_the_cheapest_rule_s_pass(
        case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    greedy = GreedyBackend().solve(problem, OPTIONS)
    if greedy.objective is None:
        return
    moves = schedule_repair._moves(problem, timing)
    passes = [got for rule in RULES
              if (got := schedule_repair._replace(problem, timing, greedy.x, moves, None,
                                                  rule)) is not None]
    seen: list[int] = []
    real = schedule_repair.reinsert

    def counted(problem_: Problem, timing_: Timing, x: IntArray, start: IntArray,
                *rest: object) -> tuple[IntArray, IntArray, int]:
        seen.append(timing_.cost(problem_, x, start))
        return real(problem_, timing_, x, start, *rest)  # type: ignore[arg-type]

    schedule_repair.reinsert = counted  # type: ignore[assignment]
    try:
        got = greedy_replace(problem, timing, greedy.x)
    finally:
        schedule_repair.reinsert = real  # type: ignore[assignment]
    if not passes:
        assert got is None and not seen
        return
    assert seen == [min(timing.cost(problem, *p) for p in passes)]
    assert got is not None and timing.cost(problem, *got) <= seen[0]


def test_left_shift_keeps_a_zero_hour_stage_after_its_predecessor_that_starts_with_it(
        ) -> None:
    # Found by the property above: stage 1 (released at 1, 0 h) comes before stage 0
    # (0 h); both start at 1. Taken by index, stage 0 went first and moved to 0, before
    # stage 1 ended.
    problem = Problem(
        n_stages=2, stage_ptr=np.array([0, 1, 2]), units=np.ones(2, dtype=np.int64),
        opt_cost=np.zeros(2, dtype=np.int64), opt_obj=np.zeros(2, dtype=np.int64),
        opt_compute=np.zeros(2, dtype=np.int64), opt_ub=np.ones(2, dtype=np.int64),
        opt_site=np.zeros(2, dtype=np.int64), opt_moved=np.zeros(2, dtype=bool),
        use_opt=np.zeros(0, dtype=np.int64), use_res=np.zeros(0, dtype=np.int64),
        use_amt=np.zeros(0, dtype=np.int64), res_cap=np.zeros(0, dtype=np.int64),
        res_names=(), site_names=("aws:s0",), site_provider=("aws",), site_cloud=(True,),
        stage_keys=("w/s0", "w/s1"))
    timing = Timing(horizon=3, opt_hours=np.zeros(2, dtype=np.int64),
                    release=np.array([0, 1]), due=np.array([1, 1]),
                    late_cost=np.zeros(2, dtype=np.int64), to_end=np.zeros(2, dtype=bool),
                    use_now=np.zeros(0, dtype=np.int64), res_now=np.zeros(0, dtype=np.int64),
                    precedence=(Precedence(before=1, after=0),))
    x = np.ones(2, dtype=np.int64)
    shifted = left_shift(problem, timing, x, np.array([1, 1]))
    assert shifted.tolist() == [1, 1]
    assert not schedule_violations(problem, timing, x, shifted)
