"""The timed benchmark family (``benchmarks/timed.py``): deterministic, has every
ingredient of issue 11's targets, and is feasible by construction — every stage on its
fastest cloud option without a quota, started as early as precedence allows, meets every
window, deadline and go-live."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from benchmarks.generate import SIZES, generate_portfolio
from benchmarks.timed import HORIZON_HOURS
from planner import api
from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.compile.timing import build_timing
from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing
from planner.solvers.base import SolveOptions, SolveStatus
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.feasibility import violations
from planner.solvers.schedule_check import schedule_violations
from planner.solvers.schedule_cpsat import solve_schedule


@pytest.fixture(scope="module")
def catalogs():  # type: ignore[no-untyped-def]
    return api.load_catalogs("catalogs")


def _arrays(portfolio, catalogs):  # type: ignore[no-untyped-def]
    world = build_world(portfolio, catalogs)
    cands = generate(portfolio, world, keep_pruned_options=False)
    problem = build_problem(cands, world)
    return problem, build_timing(portfolio, cands, problem, world.gpu_quotas)


def test_timed_family_is_deterministic(catalogs) -> None:  # type: ignore[no-untyped-def]
    a = generate_portfolio("smoke", 3, catalogs, family="timed")
    assert a.model_dump_json() == generate_portfolio("smoke", 3, catalogs,
                                                     family="timed").model_dump_json()
    assert generate_portfolio("smoke", 4, catalogs, family="timed").model_dump_json() \
        != a.model_dump_json()
    assert sum(len(w.stages) for w in a.workloads) == SIZES["smoke"].stages


def test_timed_family_has_its_ingredients(catalogs) -> None:  # type: ignore[no-untyped-def]
    p = generate_portfolio("s", 0, catalogs, family="timed")
    assert p.settings.horizon is not None and p.settings.period_hours == HORIZON_HOURS
    stages = [st for w in p.workloads for st in w.stages]
    assert len(stages) == 1000
    assert sum(st.deadline is not None for st in stages) >= 150  # deadlines / live-by
    assert sum(st.late_penalty_usd_per_hour is not None for st in stages) >= 20  # soft
    assert sum(st.earliest_start is not None for st in stages) >= 150  # windows, go-lives
    assert Counter(st.after is not None for st in stages)[True] >= 50  # explicit `after`
    gangs = Counter(st.nodes or st.max_nodes or 1 for st in stages)
    assert {1, 2, 4, 8} <= set(gangs)  # gangs of 1–8 nodes
    assert any(st.max_nodes for st in stages) and any(st.nodes for st in stages)
    outages = [o for site in p.onprem for off in site.offers for o in off.outages]
    assert len(outages) >= 5
    # Tight pools: on-prem node-hours roughly what the stages ask for, not a glut.
    nodes = sum(off.nodes for site in p.onprem for off in site.offers if off.gpu_model)
    assert 0 < nodes < 2 * len(stages)


def _fallback(problem: Problem, timing: Timing) -> tuple[IntArray, IntArray]:
    """Every stage on its fastest option without a limited pool, started as early as its
    release and predecessors allow (stages are numbered in precedence order)."""
    limited = np.zeros(problem.n_options, dtype=np.bool_)
    limited[problem.use_opt] = True
    x = np.zeros(problem.n_options, dtype=np.int64)
    start = np.zeros(problem.n_stages, dtype=np.int64)
    preds: dict[int, list[int]] = {}
    for a in timing.precedence:
        preds.setdefault(a.after, []).append(a.before)
    for s in range(problem.n_stages):
        free = [o for o in problem.options_of(s)
                if not limited[o] and problem.opt_ub[o] >= problem.units[s]]
        assert free, f"stage {problem.stage_keys[s]} has no cloud option without a quota"
        x[min(free, key=lambda o: int(timing.opt_hours[o]))] = problem.units[s]
        ready = max([int(timing.release[s])] + [timing.stage_end(problem, x, start, b)
                                                for b in preds.get(s, [])])
        start[s] = ready
    return x, start


@pytest.mark.parametrize("size", ["smoke", "s"])
def test_timed_family_is_feasible_by_construction(catalogs, size) -> None:  # type: ignore[no-untyped-def]
    problem, timing = _arrays(generate_portfolio(size, 0, catalogs, family="timed"),
                              catalogs)
    for a in timing.precedence:
        assert a.before < a.after  # pipeline order: predecessors come first
    x, start = _fallback(problem, timing)
    assert violations(problem, x) == []
    assert schedule_violations(problem, timing, x, start) == []


def test_timed_smoke_plans_exactly_and_capacity_at_once_binds(catalogs) -> None:  # type: ignore[no-untyped-def]
    problem, timing = _arrays(generate_portfolio("smoke", 0, catalogs, family="timed"),
                              catalogs)
    got = solve_schedule(problem, timing, SolveOptions(time_limit_s=20, workers=2))
    assert got.solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert not violations(problem, got.solution.x)
    assert not schedule_violations(problem, timing, got.solution.x, got.start)
    assert int(got.start.max()) > 0  # dates matter
    # Capacity at every instant binds: the time-free optimum (capacity per period) is
    # cheaper than the best schedule, so deadlines push work off the tight pools.
    free = CpSatBackend().solve(problem, SolveOptions(time_limit_s=20, workers=2))
    assert free.status is SolveStatus.OPTIMAL and got.solution.bound is not None
    assert free.objective is not None and free.objective < got.solution.bound


def test_the_harness_runs_the_default_path_and_monolithic_cpsat_side_by_side(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.run import check_names, run_one
    from benchmarks.table import TARGETS, finish

    args = type("Args", (), {"family": "timed", "size": "smoke",
                             "solvers": "schedule,plan,cpsat-schedule"})()
    assert check_names(args) is None
    assert {("timed", s) for s in ("s", "m", "l")} <= set(TARGETS)
    recs = [run_one("smoke", solver, 15.0, 0, "serial", None, 2, False, "timed")
            for solver in ("schedule", "cpsat-schedule")]
    finish(recs)
    for rec in recs:
        assert rec["verified"] and rec["stages"] == SIZES["smoke"].stages
        assert rec["objective_micro"] >= rec["ref_bound_usd"] * 1e6 - 1
        assert rec["load_start"] and rec["wall_s"] < 60
    assert recs[0]["backend"] in ("cpsat", "lp", "lns", "greedy")
