"""Logic-based Benders cuts (planner/solvers/pool_cores.py): each core names runs that no
schedule fits on one pool, so the cuts keep every placement that some schedule runs
(brute force over start times on random tiny problems), and they lift the placement's
bound where the energy cuts could not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_schedule_model import _placements, _pool, timed
from test_time_cuts import _schedulable

from planner.models.problem import Problem
from planner.models.timing import Outage, Timing
from planner.solvers import schedule_plan
from planner.solvers.base import SolveOptions
from planner.solvers.feasibility import violations
from planner.solvers.greedy import GreedyBackend
from planner.solvers.lp_model import solve_lp
from planner.solvers.pool_cores import pool_cores, with_cores
from planner.solvers.schedule_cpsat import solve_schedule
from planner.solvers.schedule_plan import _with_cores
from planner.solvers.time_cuts import with_time_cuts

OPTIONS = SolveOptions(time_limit_s=10, workers=1, deterministic=True)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed())
def test_the_cores_keep_every_placement_that_some_schedule_runs(
        case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    placements = _placements(problem)
    cores = [core for x in placements for core in pool_cores(problem, timing, x, OPTIONS)]
    cut = with_cores(problem, cores)
    assert cut.n_options == problem.n_options
    assert np.all(np.diff(cut.use_opt) >= 0), "usage rows stay in option order"
    for core in cores:
        assert (problem.units[np.searchsorted(problem.stage_ptr, core, "right") - 1] == 1).all()
    for x in placements:
        if _schedulable(problem, timing, x) is not None:
            assert not violations(cut, x), f"a core removes a schedulable placement {x}"


def _long_and_gang() -> tuple[Problem, Timing]:
    """On a 2-node pool over 10 h: a 1-node run of the whole horizon and a 1 h gang of
    both nodes, each with a cloud option at twice the price."""
    pool, timing = _pool([1, 1], use_now=[1, 2], cap=2, horizon=10, hours=[10, 1],
                         to_end=[False, False])
    ptr = np.array([0, 2, 4])
    cost = np.array([100, 200, 100, 200])
    problem = Problem(
        n_stages=2, stage_ptr=ptr, units=np.ones(2, dtype=np.int64), opt_cost=cost,
        opt_obj=cost, opt_compute=cost, opt_ub=np.ones(4, dtype=np.int64),
        opt_site=np.array([0, 1, 0, 1]), opt_moved=np.zeros(4, dtype=bool),
        use_opt=np.array([0, 2]), use_res=np.zeros(2, dtype=np.int64), use_amt=pool.use_amt,
        res_cap=pool.res_cap, res_names=pool.res_names,
        site_names=("onprem:dc", "aws:us-east-1"), site_provider=("onprem", "aws"),
        site_cloud=(False, True), stage_keys=("w/long", "w/gang"))
    timing = Timing(**{**timing.__dict__, "opt_hours": np.array([10, 10, 1, 1])})
    return problem, timing


def test_a_gang_that_never_finds_the_pool_whole_is_a_core_and_the_bound_rises() -> None:
    # 12 of the pool's 20 node-hours, and no energy window sees a conflict (the gang may
    # start at any hour), but while the long run holds one node the gang never has
    # both. The core names the two runs; with the cut the LP bound rises from 200 to
    # 300, the optimum.
    problem, timing = _long_and_gang()
    cut = with_time_cuts(problem, timing)
    x = np.array([1, 0, 1, 0])
    assert not violations(cut, x) and _schedulable(problem, timing, x) is None
    cores = pool_cores(problem, timing, x, OPTIONS)
    assert [core.tolist() for core in cores] == [[0, 2]]
    cored = with_cores(cut, cores)
    assert violations(cored, x) == ["capacity:core:0: uses 2 of 1"]
    before, after = solve_lp(cut, 10), solve_lp(cored, 10)
    assert (before.value, after.value) == (200, 300)
    assert after.bound is not None and before.bound is not None
    assert before.bound < after.bound <= 300
    assert solve_schedule(problem, timing, OPTIONS).solution.objective == 300
    placed = GreedyBackend().solve(cored, OPTIONS)
    assert placed.objective == 300 and not violations(cored, placed.x)


def test_a_placement_that_fits_has_no_core_and_an_outage_can_make_one() -> None:
    problem, timing = _long_and_gang()
    fits = np.array([1, 0, 0, 1])  # the long run on the pool, the gang on the cloud
    assert pool_cores(problem, timing, fits, OPTIONS) == []
    # With both nodes down for 3 h, the long run no longer fits alone.
    down = Timing(**{**timing.__dict__, "outages": (Outage(0, 4, 7, 2),)})
    assert [core.tolist() for core in pool_cores(problem, down, fits, OPTIONS)] == [[0]]


def test_runs_of_stages_with_several_units_enter_no_core() -> None:
    # The gang as two units (x counts units, so a clause over it would not hold): its
    # 4 nodes never fit the pool, but no core names it.
    problem, timing = _long_and_gang()
    problem = Problem(**{**problem.__dict__, "units": np.array([1, 2]),
                         "opt_ub": np.array([1, 1, 2, 2])})
    assert pool_cores(problem, timing, np.array([1, 0, 2, 0]), OPTIONS) == []


def test_the_decomposition_adds_the_cores_and_keeps_the_higher_bound() -> None:
    problem, timing = _long_and_gang()
    cut = with_time_cuts(problem, timing)
    placement = GreedyBackend().solve(cut, OPTIONS.started())
    assert placement.x.tolist() == [1, 0, 1, 0]  # both on the pool: no schedule runs it
    said: list[str] = []
    cored, lifted = _with_cores(problem, timing, cut, placement, OPTIONS.started(), 0.0,
                                said.append)
    assert cored.res_names[-1] == "core:0" and violations(cored, placement.x)
    assert lifted.bound is not None and 200 < lifted.bound <= 300
    assert lifted.x.tolist() == placement.x.tolist()
    assert said and said[0].startswith("1 set of runs that no schedule fits")


def test_above_the_size_where_cores_lift_no_bound_none_are_sought(
        monkeypatch: pytest.MonkeyPatch) -> None:
    problem, timing = _long_and_gang()
    cut = with_time_cuts(problem, timing)
    placement = GreedyBackend().solve(cut, OPTIONS.started())
    monkeypatch.setattr(schedule_plan, "CORES_MAX_OPTIONS", problem.n_options - 1)
    said: list[str] = []
    cored, same = _with_cores(problem, timing, cut, placement, OPTIONS.started(), 0.0,
                              said.append)
    assert cored is cut and same is placement and not said
