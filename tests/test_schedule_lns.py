"""Large-neighbourhood search on the exact time-aware model (planner.solvers.schedule_lns):
every plan it keeps is valid, never costs more than its start and never less than the
optimum; it moves a stage back to a pool that has room; deterministic mode repeats."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_schedule_model import _pool, brute_schedule, timed
from test_time_cuts import _two_jobs

from planner.models.problem import IntArray, PBudget, Problem
from planner.models.timing import Precedence, Timing
from planner.solvers import schedule_lns
from planner.solvers.base import SolveOptions
from planner.solvers.feasibility import violations
from planner.solvers.schedule_check import schedule_violations
from planner.solvers.schedule_cpsat import solve_schedule
from planner.solvers.schedule_lns import (
    Hood,
    Incumbent,
    LnsSettings,
    _dated_share,
    _Index,
    _model_stages,
    _solve,
    _windowed,
    improve,
    neighbourhood,
)

OPTIONS = SolveOptions(time_limit_s=5, workers=1, deterministic=True)
QUICK = LnsSettings(stall=4, sub_time_s=1.0)


def _costly_start(problem: Problem, timing: Timing) -> tuple[IntArray, IntArray]:
    """A valid schedule that is dear: the exact model's answer for reversed costs (every
    rule holds, budgets included, since they count real cost)."""
    dear = dataclasses.replace(problem, opt_obj=problem.opt_obj.max() - problem.opt_obj)
    got = solve_schedule(dear, timing, OPTIONS)
    assume(got.solution.objective is not None)  # no schedule at all: nothing to improve
    return got.solution.x, got.start


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed())
def test_the_search_keeps_plans_valid_never_dearer_and_never_below_the_optimum(
        case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    x, start = _costly_start(problem, timing)
    before = problem.objective(x) + timing.late_penalty(problem, x, start)
    better = improve(problem, timing, x, start, OPTIONS, QUICK)
    assert not violations(problem, better.x)
    assert not schedule_violations(problem, timing, better.x, better.start)
    value = problem.objective(better.x) + timing.late_penalty(problem, better.x, better.start)
    assert value == better.value <= before
    assert better.gains <= better.tried
    optimum = brute_schedule(problem, timing)
    assert optimum is not None and value >= optimum


TWO_LANES = (SolveOptions(time_limit_s=3, workers=2), LnsSettings(stall=6, sub_time_s=0.5))
"""Two workers on the wall clock: two neighbourhoods at once, both answers applied."""


@pytest.mark.parametrize("run", [(OPTIONS, QUICK), TWO_LANES], ids=["one lane", "two lanes"])
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed(max_stages=8, max_horizon=8))
def test_on_larger_instances_every_kept_plan_is_valid(
        run: tuple[SolveOptions, LnsSettings], case: tuple[Problem, Timing]) -> None:
    # No brute force here: more stages share pools, so the sub-model leaves some out.
    problem, timing = case
    x, start = _costly_start(problem, timing)
    better = improve(problem, timing, x, start, *run)
    assert not violations(problem, better.x)
    assert not schedule_violations(problem, timing, better.x, better.start)
    value = problem.objective(better.x) + timing.late_penalty(problem, better.x, better.start)
    assert value == better.value <= problem.objective(x) + timing.late_penalty(problem, x, start)


def test_a_job_moves_back_to_the_pool_once_it_has_room() -> None:
    # The second job runs on the option at 9 × the price though the pool is free after
    # the first job; the search decides both together and moves it back.
    problem, timing = _two_jobs()
    x, start = np.array([1, 0, 1]), np.array([0, 0])
    better = improve(problem, timing, x, start, OPTIONS, QUICK)
    assert better.x.tolist() == [1, 1, 0]
    assert sorted(better.start.tolist()) == [0, 10]
    assert better.value == 200 and better.gains == 1
    assert not schedule_violations(problem, timing, better.x, better.start)


@pytest.mark.parametrize(("due", "per_period", "moves"), [
    (20, 40_000, True),   # room after the first job: the second moves to the pool
    (10, 40_000, False),  # it must end by 10 h, when the first job holds the pool
    (20, 30_000, False),  # the period's node-hours hold only the first job
])
def test_a_stage_left_where_it_is_still_holds_its_pool(due: int, per_period: int,
                                                       moves: bool) -> None:
    # Only the second job may change; the first is in the sub-model as load on the pool
    # (at every instant and in the period's capacity), not as variables.
    problem, timing = _two_jobs()
    problem = dataclasses.replace(problem, res_cap=np.array([per_period]))
    timing = dataclasses.replace(timing, due=np.array([20, due]))
    x, start = np.array([1, 0, 1]), np.array([0, 0])
    inc = Incumbent(x, start, problem.objective(x))
    hood = Hood(np.arange(3), problem.opt_ub.copy(), {1}, np.array([0, 1]),
                np.array([0]), np.array([0]), False, 1)
    found, proved, _ = _solve(problem, timing, _Index(problem, timing), inc, hood, OPTIONS)
    assert proved
    if not moves:
        assert found is None
        return
    assert found is not None and found.x.tolist() == [1, 1, 0]
    assert found.start.tolist() == [0, 10]
    assert not violations(problem, found.x)
    assert not schedule_violations(problem, timing, found.x, found.start)


def test_deterministic_mode_gives_the_same_plan_twice() -> None:
    problem, timing = _two_jobs()
    x, start = np.array([1, 0, 1]), np.array([0, 0])
    runs = [improve(problem, timing, x, start, OPTIONS, QUICK) for _ in range(2)]
    assert runs[0].x.tolist() == runs[1].x.tolist()
    assert runs[0].start.tolist() == runs[1].start.tolist()
    assert runs[0].tried == runs[1].tried


def test_the_sub_model_keeps_every_stage_under_a_rule_over_many() -> None:
    # Without a rule over many stages, the sub-model holds the stages that may change and
    # the holders of their pools; with a budget, every stage (the budget counts them all).
    problem, timing = _two_jobs()
    x = np.array([1, 0, 1])
    kept, shifters = np.array([0, 1, 2]), {1}
    rows = problem.placed_rows(x)
    assert _model_stages(problem, _Index(problem, timing), rows, kept, shifters)[0].tolist() \
        == [0, 1]
    budgeted = dataclasses.replace(problem, budgets=(
        PBudget("all", np.array([0, 1]), 10_000),))
    only, _ = _model_stages(problem, _Index(problem, timing), rows, np.array([0, 2]), {0})
    assert only.tolist() == [0]  # the second job is on the unlimited option: not needed
    assert _model_stages(budgeted, _Index(budgeted, timing), rows, np.array([0, 2]),
                         {0})[0].tolist() == [0, 1]


def test_the_sub_model_holds_every_stage_on_a_pool_a_free_stage_may_use() -> None:
    # Stages 0 and 2 share pool 0, stage 1 has pool 1: when stage 0 may move in time,
    # stage 2 (fixed) is in the model so that the pool's capacity counts it.
    problem, timing = _pool([1, 1, 1], use_now=[1, 1, 1], cap=1, horizon=6,
                            hours=[2, 2, 2], to_end=[False] * 3, pools=2)
    x = np.ones(3, dtype=np.int64)
    index, rows = _Index(problem, timing), problem.placed_rows(x)
    assert _model_stages(problem, index, rows, np.arange(3), {0})[0].tolist() == [0, 2]
    assert _model_stages(problem, index, rows, np.arange(3), {1})[0].tolist() == [1]


def test_a_long_search_reports_its_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedule_lns, "REPORT_EVERY_S", 0.0)
    problem, timing = _two_jobs()
    seen: list[tuple[int, int, int]] = []
    better = improve(problem, timing, np.array([1, 0, 1]), np.array([0, 0]), OPTIONS, QUICK,
                     lambda value, tried, gains: seen.append((value, tried, gains)))
    assert seen and seen[-1] == (better.value, better.tried, better.gains)
    assert [v for v, _, _ in seen] == sorted((v for v, _, _ in seen), reverse=True)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed(max_stages=8, max_horizon=8), st.data())
def test_late_penalties_over_arrays_match_each_stage_s_lateness(
        case: tuple[Problem, Timing], data: st.DataObject) -> None:
    # Any placement and starts (valid or not): the arithmetic alone.
    problem, timing = case
    x = np.array(data.draw(st.lists(st.integers(0, 2), min_size=problem.n_options,
                                    max_size=problem.n_options)), dtype=np.int64)
    start = np.array(data.draw(st.lists(st.integers(0, timing.horizon),
                                        min_size=problem.n_stages,
                                        max_size=problem.n_stages)), dtype=np.int64)
    by_stage = [int(timing.late_cost[s]) * timing.lateness(problem, x, start, s)
                if x[problem.options_of(s).start:problem.options_of(s).stop].any() else 0
                for s in range(problem.n_stages)]
    assert timing.late_costs(problem, x, start).tolist() == by_stage
    assert timing.late_penalty(problem, x, start) == sum(by_stage)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed(max_stages=8, max_horizon=8))
def test_a_neighbourhood_drawn_away_from_another_cannot_interact_with_it(
        case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    x, start = _costly_start(problem, timing)
    index = _Index(problem, timing)
    inc = Incumbent(x, start, problem.objective(x) + timing.late_penalty(problem, x, start))
    rng = np.random.default_rng(0)
    first = neighbourhood(problem, timing, index, inc, 4, 1, rng)
    if first is None:
        return
    for _ in range(5):
        other = neighbourhood(problem, timing, index, inc, 4, 1, rng, (first,))
        if other is not None:
            assert first.apart(other) and other.apart(first)
            assert not other.free & set(first.stages.tolist())
            assert np.intersect1d(other.resources, first.resources).size == 0


def test_two_neighbourhoods_at_once_both_gain() -> None:
    # Two copies of the two-jobs case, on pools 0 and 1: the second job of each runs on the
    # option at 9 × the price though its pool is free after the first; both move back.
    problem, timing = _pool([1, 1, 1, 1], use_now=[2, 2, 2, 2], cap=2, horizon=20,
                            hours=[10, 10, 10, 10], to_end=[False] * 4, pools=2)
    problem = dataclasses.replace(
        problem, stage_ptr=np.array([0, 1, 3, 4, 6]),
        opt_cost=np.array([100, 100, 900, 100, 100, 900]),
        opt_obj=np.array([100, 100, 900, 100, 100, 900]),
        opt_compute=np.array([100, 100, 900, 100, 100, 900]),
        opt_ub=np.ones(6, dtype=np.int64), opt_site=np.zeros(6, dtype=np.int64),
        opt_moved=np.zeros(6, dtype=bool), use_opt=np.array([0, 1, 3, 4]),
        use_res=np.array([0, 0, 1, 1]), use_amt=np.full(4, 20_000))
    timing = dataclasses.replace(timing, opt_hours=np.full(6, 10), use_now=np.full(4, 2))
    x, start = np.array([1, 0, 1, 1, 0, 1]), np.zeros(4, dtype=np.int64)
    assert not violations(problem, x)
    assert not schedule_violations(problem, timing, x, start)
    better = improve(problem, timing, x, start, SolveOptions(time_limit_s=5, workers=2),
                     LnsSettings(stall=4, sub_time_s=1.0, pools=1))
    assert better.x.tolist() == [1, 1, 0, 1, 1, 0] and better.value == 400
    assert not schedule_violations(problem, timing, better.x, better.start)


def test_a_window_frees_only_the_stages_that_run_or_may_run_in_it() -> None:
    # Three 10 h jobs on one pool over 200 h: two run now at 0 h and at 150 h; the third
    # (the stage that would gain) may only run in [0, 20). Its window is 25 h wide
    # (200 / 8) around an hour in [0, 20): the job at 0 h is in it, the one at 150 h not.
    problem, timing = _pool([1, 1, 1], use_now=[1, 1, 1], cap=1, horizon=200,
                            hours=[10, 10, 10], to_end=[False] * 3)
    timing = dataclasses.replace(timing, due=np.array([200, 200, 20]))
    x, start = np.array([1, 1, 0]), np.array([0, 150, 0])
    inc = Incumbent(x, start, problem.objective(x))
    for seed in range(10):
        wants, holders = _windowed(problem, timing, inc, np.array([2, 1]), np.array([0, 1]),
                                   np.random.default_rng(seed))
        assert holders.tolist() == [0]
        assert wants.tolist() == [2, 1]  # the job at 150 h may run anywhere: it may move in


def test_windows_only_where_batch_stages_have_windows_of_their_own() -> None:
    # Undated batch stages may run anywhere: no neighbourhood is drawn in a window. A
    # service's fixed go-live does not count; a deadline or an earliest start does.
    _, timing = _pool([1, 1, 1, 1], use_now=[1] * 4, cap=1, horizon=100, hours=[10] * 4,
                      to_end=[False, False, False, True])
    timing = dataclasses.replace(timing, release=np.array([0, 0, 0, 50]),
                                 due=np.array([100, 100, 100, 50]))
    assert _dated_share(timing) == 0.0
    dated = dataclasses.replace(timing, release=np.array([5, 0, 0, 50]),
                                due=np.array([100, 40, 100, 50]))
    assert _dated_share(dated) == 2 / 3


def test_a_predecessor_changes_option_to_leave_its_successor_room() -> None:
    # A (20 h on pool 1, its cheapest option; or 5 h at once on an unlimited offer for
    # twice the price) comes before B (15 h on pool 0, or 5 h on an unlimited offer at
    # 10 × the price), and both end by 30 h. With A on its cheapest option B only fits on
    # the dear offer (1,100 in all); the search draws pool 0 for B and must let A, its
    # neighbour, change option too: A fast, B on the pool, 300.
    base, timing = _pool([1, 1], use_now=[1, 1], cap=1, horizon=30, hours=[20, 15],
                         to_end=[False, False], pools=2)
    problem = Problem(**{
        **base.__dict__, "stage_ptr": np.array([0, 2, 4]),
        "opt_cost": np.array([100, 200, 100, 1000]), "opt_obj": np.array([100, 200, 100, 1000]),
        "opt_compute": np.array([100, 200, 100, 1000]), "opt_ub": np.ones(4, dtype=np.int64),
        "opt_site": np.zeros(4, dtype=np.int64), "opt_moved": np.zeros(4, dtype=bool),
        "use_opt": np.array([0, 2]), "use_res": np.array([1, 0]),
        "use_amt": np.array([20_000, 15_000])})
    timing = Timing(**{**timing.__dict__, "opt_hours": np.array([20, 5, 15, 5]),
                       "precedence": (Precedence(0, 1),)})
    x, start = np.array([1, 0, 0, 1]), np.array([0, 20])
    assert not schedule_violations(problem, timing, x, start)
    better = improve(problem, timing, x, start, OPTIONS, QUICK)
    assert better.x.tolist() == [0, 1, 1, 0] and better.value == 300
    assert better.start[0] == 0 and 5 <= better.start[1] <= 15  # A first, B by 30 h
    assert not schedule_violations(problem, timing, better.x, better.start)
    assert not violations(problem, better.x)


def _three_pools() -> tuple[Problem, Timing, IntArray]:
    """One node per pool, every job the whole horizon. Stage 0 holds pool 0 and may move
    to pool 1 (dearer); stage 1 waits on the unlimited option for pool 0; stage 2 holds
    pool 2, which stage 3 waits for. Pool 1 is where pool 0's holder can make room; pool
    2 has nothing to do with pool 0."""
    n_opt = 7
    problem = Problem(
        n_stages=4, stage_ptr=np.array([0, 2, 4, 5, 7]), units=np.ones(4, dtype=np.int64),
        opt_cost=np.array([100, 150, 100, 900, 100, 100, 900]),
        opt_obj=np.array([100, 150, 100, 900, 100, 100, 900]),
        opt_compute=np.full(n_opt, 100), opt_ub=np.ones(n_opt, dtype=np.int64),
        opt_site=np.zeros(n_opt, dtype=np.int64), opt_moved=np.zeros(n_opt, dtype=bool),
        use_opt=np.array([0, 1, 2, 4, 5]), use_res=np.array([0, 1, 0, 2, 2]),
        use_amt=np.full(5, 10_000), res_cap=np.full(3, 10_000),
        res_names=tuple(f"offer:onprem:dc/pool{r}" for r in range(3)),
        site_names=("onprem:dc",), site_provider=("onprem",), site_cloud=(False,),
        stage_keys=tuple(f"w/s{i}" for i in range(4)))
    timing = Timing(horizon=10, opt_hours=np.full(n_opt, 10), release=np.zeros(4, dtype=int),
                    due=np.full(4, 10), late_cost=np.zeros(4, dtype=int),
                    to_end=np.zeros(4, dtype=bool), use_now=np.ones(5, dtype=np.int64),
                    res_now=np.ones(3, dtype=np.int64))
    return problem, timing, np.array([1, 0, 0, 1, 1, 0, 1])


def test_the_next_pool_drawn_is_one_where_the_first_pool_s_holders_can_go() -> None:
    # Pools 0 and 2 both have a stage waiting; with two pools per neighbourhood, pool 0
    # comes with pool 1 (where its holder can move to make room), never with pool 2.
    problem, timing, x = _three_pools()
    index = _Index(problem, timing)
    inc = Incumbent(x, np.zeros(4, dtype=np.int64), problem.objective(x))
    seen = set()
    for seed in range(40):
        hood = neighbourhood(problem, timing, index, inc, 10, 2, np.random.default_rng(seed))
        assert hood is not None
        seen.add(tuple(sorted(hood.pools.tolist())))
    assert seen <= {(0, 1), (0, 2)}
    for seed in range(40):
        hood = neighbourhood(problem, timing, index, inc, 10, 2, np.random.default_rng(seed))
        assert hood is not None
        if hood.pools[0] == 0:
            assert hood.pools.tolist() == [0, 1]


def test_a_holder_moves_to_the_pool_drawn_with_its_own() -> None:
    # The search frees stage 0 onto pool 1 so that stage 1 leaves the unlimited option.
    problem, timing, x = _three_pools()
    better = improve(problem, timing, x, np.zeros(4, dtype=np.int64), OPTIONS, QUICK)
    assert better.x.tolist() == [0, 1, 1, 0, 1, 0, 1]
    assert not violations(problem, better.x)
    assert not schedule_violations(problem, timing, better.x, better.start)
