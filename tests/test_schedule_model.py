"""The exact time-aware model against brute force, and the two defects of the time-free
model it removes (capacity counted per period; stages that never run at the same time)."""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest
from bruteforce import _edges, _splits, _whole, feasible, funded_problems, problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from planner.models.problem import Problem
from planner.models.timing import Outage, Precedence, Timing, placed
from planner.parallel import LocalExecutor
from planner.solvers import cpsat_model, schedule_cpsat
from planner.solvers.base import SolveOptions, SolveStatus
from planner.solvers.schedule_benders import solve_benders
from planner.solvers.schedule_check import schedule_violations
from planner.solvers.schedule_cpsat import solve_schedule
from planner.solvers.tuning import DETERMINISTIC_WALL_FLOOR_S


def _placements(problem: Problem) -> list[np.ndarray]:
    per_stage = []
    for s in range(problem.n_stages):
        opts = list(problem.options_of(s))
        per_stage.append(list(_splits(int(problem.units[s]), opts,
                                      [int(problem.opt_ub[o]) for o in opts]))
                         + ([{}] if problem.funding else []))
    out = []
    for combo in itertools.product(*per_stage):
        x = np.zeros(problem.n_options, dtype=np.int64)
        for part in combo:
            for o, k in part.items():
                x[o] = k
        if _whole(problem, x)[0] and feasible(problem, x):
            out.append(x)
    return out


def brute_schedule(problem: Problem, timing: Timing) -> int | None:
    """The cheapest placement and integer start times that break no rule."""
    best = None
    for x in _placements(problem):
        base = int((problem.opt_obj * x).sum()) + _edges(problem, x) - _whole(problem, x)[1]
        if best is not None and base >= best:
            continue
        for starts in itertools.product(range(timing.horizon + 1), repeat=problem.n_stages):
            start = np.array(starts, dtype=np.int64)
            if not schedule_violations(problem, timing, x, start):
                value = base + timing.late_penalty(problem, x, start)
                best = value if best is None else min(best, value)
    return best


@st.composite
def timed(draw: st.DrawFn, funding: bool = False, max_stages: int = 3,
          max_horizon: int = 5) -> tuple[Problem, Timing]:
    """Small random time-aware problems (``max_stages`` ≤ 3 for brute force over starts)."""
    problem = draw(funded_problems(max_stages=3, max_options=2) if funding else
                   problems(max_stages=max_stages, max_options=3, max_units=2,
                            split_stages=1))
    n_s, n_o, n_r = problem.n_stages, problem.n_options, len(problem.res_cap)
    horizon = draw(st.integers(3, max_horizon))
    ints = st.integers
    to_end = np.array(draw(st.lists(st.booleans(), min_size=n_s, max_size=n_s)))
    release = np.array(draw(st.lists(ints(0, 2), min_size=n_s, max_size=n_s)))
    due = np.array(draw(st.lists(ints(1, horizon), min_size=n_s, max_size=n_s)))
    late = np.array(draw(st.lists(st.sampled_from([0, 0, 5, 1_000_000]), min_size=n_s,
                                  max_size=n_s)))
    chain = draw(st.permutations(range(n_s)))
    precedence = tuple(Precedence(a, b, draw(ints(0, 1)), draw(st.sampled_from([0, 0, 1, 2])))
                       for a, b in itertools.pairwise(chain) if draw(st.booleans()))
    res_now = np.array(draw(st.lists(ints(1, 3), min_size=n_r, max_size=n_r)))
    outages = tuple(Outage(r, t, t + draw(ints(1, 2)), draw(ints(1, int(res_now[r]))))
                    for r in range(n_r) if draw(st.booleans()) for t in [draw(ints(0, 3))])
    timing = Timing(
        horizon=horizon,
        opt_hours=np.array(draw(st.lists(ints(0, 3), min_size=n_o, max_size=n_o))),
        release=release, due=due, late_cost=late, to_end=to_end,
        use_now=np.array(draw(st.lists(ints(0, 2), min_size=problem.use_opt.size,
                                       max_size=problem.use_opt.size))),
        res_now=res_now, precedence=precedence, outages=outages)
    return problem, timing


OPTS = SolveOptions(time_limit_s=20, workers=1, deterministic=True)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed())
def test_exact_schedule_model_matches_brute_force(case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    expected = brute_schedule(problem, timing)
    got = solve_schedule(problem, timing, OPTS)
    if expected is None:
        assert got.solution.status is SolveStatus.INFEASIBLE
        return
    assert got.solution.status is SolveStatus.OPTIMAL
    assert got.solution.objective == expected
    assert got.solution.bound is not None and got.solution.bound <= expected
    assert not schedule_violations(problem, timing, got.solution.x, got.start)


def _pool(units: list[int], use_now: list[int], cap: int, horizon: int,
          hours: list[int], to_end: list[bool], precedence: tuple[Precedence, ...] = (),
          outages: tuple[Outage, ...] = (), pools: int = 1) -> tuple[Problem, Timing]:
    """Stages with one option each on on-prem pools of ``cap`` nodes (stage i on pool
    i mod ``pools``); the per-period capacity (node-hours) is what a pool holds over the
    horizon."""
    n = len(units)
    res = np.arange(n) % pools
    per_unit = [u * h * 1000 for u, h in zip(use_now, hours, strict=True)]
    problem = Problem(
        n_stages=n, stage_ptr=np.arange(n + 1), units=np.ones(n, dtype=np.int64),
        opt_cost=np.full(n, 100), opt_obj=np.full(n, 100), opt_compute=np.full(n, 100),
        opt_ub=np.ones(n, dtype=np.int64), opt_site=np.zeros(n, dtype=np.int64),
        opt_moved=np.zeros(n, dtype=bool), use_opt=np.arange(n), use_res=res,
        use_amt=np.array(per_unit), res_cap=np.full(pools, cap * horizon * 1000),
        res_names=tuple(f"offer:onprem:dc/pool{r}" for r in range(pools)),
        site_names=("onprem:dc",),
        site_provider=("onprem",), site_cloud=(False,),
        stage_keys=tuple(f"w/s{i}" for i in range(n)))
    timing = Timing(horizon=horizon, opt_hours=np.array(hours), release=np.zeros(n, dtype=int),
                    due=np.full(n, horizon), late_cost=np.zeros(n, dtype=int),
                    to_end=np.array(to_end), use_now=np.array(use_now), res_now=np.full(pools, cap),
                    precedence=precedence, outages=outages)
    return problem, timing


def test_node_hours_that_fit_the_period_but_never_at_once_are_refused() -> None:
    # 4 nodes: 3 for the whole period and 2 for half of it. 3·730 + 2·365 node-hours fit
    # the period (2,920), but 5 nodes are never free at once.
    problem, timing = _pool([1, 1], use_now=[3, 2], cap=4, horizon=730,
                            hours=[730, 365], to_end=[False, False])
    got = solve_schedule(problem, timing, OPTS)
    assert got.solution.status is SolveStatus.INFEASIBLE
    x = np.ones(2, dtype=np.int64)
    assert schedule_violations(problem, timing, x, np.array([0, 0]))
    assert schedule_violations(problem, timing, x, np.array([0, 365]))


def test_a_service_goes_live_when_the_nodes_are_free() -> None:
    # The 3-node service runs to the horizon end; it goes live once the 2-node job is done.
    problem, timing = _pool([1, 1], use_now=[3, 2], cap=4, horizon=730,
                            hours=[0, 365], to_end=[True, False])
    got = solve_schedule(problem, timing, OPTS)
    assert got.solution.status is SolveStatus.OPTIMAL
    assert got.start.tolist() == [365, 0] and got.end.tolist() == [730, 365]


def test_jobs_that_fit_one_after_the_other_are_scheduled_in_sequence() -> None:
    # Two 3-node jobs of 300 h on a 4-node pool: never together, but in sequence.
    problem, timing = _pool([1, 1], use_now=[3, 3], cap=4, horizon=730,
                            hours=[300, 300], to_end=[False, False])
    got = solve_schedule(problem, timing, OPTS)
    assert got.solution.status is SolveStatus.OPTIMAL
    starts = sorted(got.start.tolist())
    assert starts[1] >= starts[0] + 300
    assert not schedule_violations(problem, timing, got.solution.x, got.start)


def test_deterministic_seconds_do_not_shrink_with_the_wall_time_of_building(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The exact model's deterministic limit was read off a wall deadline started before
    # the model was built: the build's wall time came off it, so a loaded machine gave
    # another limit (0.010 against 0.059 deterministic seconds) and another plan.
    problem, timing = _pool([1, 1], use_now=[3, 3], cap=4, horizon=730,
                            hours=[300, 300], to_end=[False, False])
    build, limits = schedule_cpsat.ScheduleBuilder.build, []

    def slow(self: schedule_cpsat.ScheduleBuilder) -> object:
        time.sleep(0.3)
        return build(self)

    def configure(solver: cp_model.CpSolver, options: SolveOptions) -> None:
        cpsat_model.configure(solver, options)
        limits.append(solver.parameters.max_deterministic_time)

    monkeypatch.setattr(schedule_cpsat.ScheduleBuilder, "build", slow)
    monkeypatch.setattr(schedule_cpsat, "configure", configure)
    got = solve_schedule(problem, timing, dataclasses.replace(OPTS, time_limit_s=0.5))
    assert limits == [0.5]
    assert got.solution.status is SolveStatus.OPTIMAL
    assert not schedule_violations(problem, timing, got.solution.x, got.start)


def test_a_short_deterministic_limit_keeps_a_wall_cap_a_loaded_machine_does_not_reach() -> None:
    # 10 × 0.06 deterministic seconds was a 0.6 s wall cap: reached in one run on a
    # loaded machine and not in the next, so the same command gave two plans.
    solver = cp_model.CpSolver()
    cpsat_model.configure(solver, SolveOptions(time_limit_s=0.06, workers=2,
                                               deterministic=True))
    assert solver.parameters.max_deterministic_time == pytest.approx(0.06)
    assert solver.parameters.max_time_in_seconds >= DETERMINISTIC_WALL_FLOOR_S
    cpsat_model.configure(solver, SolveOptions(time_limit_s=30, deterministic=True))
    assert solver.parameters.max_time_in_seconds == pytest.approx(300)


def test_maintenance_outage_and_precedence_shape_the_schedule() -> None:
    # Training (4 nodes, 100 h) then testing (1 node, 10 h, after a 5 h transfer); the pool
    # is down to 2 nodes during [0, 50): training must wait for the pool to be back.
    problem, timing = _pool([1, 1], use_now=[4, 1], cap=4, horizon=200, hours=[100, 10],
                            to_end=[False, False], precedence=(Precedence(0, 1, 5),),
                            outages=(Outage(0, 0, 50, 2),))
    got = solve_schedule(problem, timing, OPTS)
    assert got.solution.status is SolveStatus.OPTIMAL
    assert got.start[0] >= 50
    assert got.start[1] >= got.end[0] + 5
    assert placed(problem, got.solution.x, 1)


def test_a_hard_deadline_that_cannot_be_met_is_infeasible_and_a_soft_one_costs() -> None:
    problem, timing = _pool([1, 1], use_now=[4, 4], cap=4, horizon=100, hours=[60, 30],
                            to_end=[False, False], precedence=(Precedence(0, 1, 0),))
    hard = Timing(**{**timing.__dict__, "due": np.array([100, 80])})
    assert solve_schedule(problem, hard, OPTS).solution.status is SolveStatus.INFEASIBLE
    soft = Timing(**{**hard.__dict__, "late_cost": np.array([0, 7])})
    got = solve_schedule(problem, soft, OPTS)
    assert got.solution.status is SolveStatus.OPTIMAL
    assert got.end[1] == 90
    assert got.solution.objective == 200 + 7 * 10


def test_timing_shapes_are_checked() -> None:
    problem, timing = _pool([1], use_now=[1], cap=1, horizon=10, hours=[5], to_end=[False])
    with pytest.raises(ValueError, match="opt_hours"):
        Timing(**{**timing.__dict__, "opt_hours": np.array([1, 2])}).check_shapes(problem)
    too_much = (Outage(0, 0, 5, 1), Outage(0, 2, 4, 1))
    with pytest.raises(ValueError, match="more than its 1"):
        Timing(**{**timing.__dict__, "outages": too_much}).check_shapes(problem)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed(funding=True))
def test_partial_plans_in_time_match_brute_force(case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    expected = brute_schedule(problem, timing)
    for got in (solve_schedule(problem, timing, OPTS), solve_benders(problem, timing, OPTS)):
        assert got.solution.objective == expected
        assert got.solution.status is SolveStatus.OPTIMAL
        assert not schedule_violations(problem, timing, got.solution.x, got.start)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed())
def test_benders_reaches_the_exact_optimum(case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    exact = solve_schedule(problem, timing, OPTS)
    got = solve_benders(problem, timing, OPTS)
    assert got.solution.status is exact.solution.status
    if exact.solution.status is SolveStatus.INFEASIBLE:
        return
    assert got.solution.objective == exact.solution.objective
    assert got.solution.bound == got.solution.objective
    assert not schedule_violations(problem, timing, got.solution.x, got.start)


def test_benders_cuts_a_placement_that_cannot_run_at_once() -> None:
    problem, timing = _pool([1, 1], use_now=[3, 2], cap=4, horizon=730,
                            hours=[730, 365], to_end=[False, False])
    got = solve_benders(problem, timing, OPTS)
    assert got.solution.status is SolveStatus.INFEASIBLE
    assert got.solution.stats["cuts"] >= 1


def test_benders_subproblems_run_in_worker_processes() -> None:
    # Two pools, each with two 3-node jobs of 40 h that must run one after the other: two
    # components, scheduled in two worker processes.
    problem, timing = _pool([1] * 4, use_now=[3] * 4, cap=4, horizon=100, hours=[40] * 4,
                            to_end=[False] * 4, pools=2)
    executor = LocalExecutor(workers=2)
    try:
        got = solve_benders(problem, timing, dataclasses.replace(OPTS, workers=2), executor)
    finally:
        executor.close()
    assert got.solution.status is SolveStatus.OPTIMAL
    assert abs(int(got.start[0]) - int(got.start[2])) >= 40
    assert abs(int(got.start[1]) - int(got.start[3])) >= 40
    assert not schedule_violations(problem, timing, got.solution.x, got.start)


def test_a_model_cp_sat_rejects_while_solving_is_a_solver_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # validate() passes but CP-SAT answers MODEL_INVALID (e.g. an overflow its presolve
    # finds): a planner bug, exit 8, never "no plan in time".
    from ortools.sat.python import cp_model

    from planner.solvers.base import SolverError

    problem, timing = _pool([1], use_now=[1], cap=1, horizon=10, hours=[5], to_end=[False])
    monkeypatch.setattr(cp_model.CpSolver, "solve",
                        lambda self, model, callback=None: cp_model.MODEL_INVALID)
    with pytest.raises(SolverError, match="rejects the schedule model"):
        solve_schedule(problem, timing, OPTS)
