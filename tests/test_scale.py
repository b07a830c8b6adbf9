"""Large-portfolio machinery at smoke size: the benchmark generator, lower bounds against
brute force, the exact reduction, components, the ``lns`` strategy through the verifier,
and the executors (local processes; Ray when installed)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from bruteforce import brute_force, problems
from hypothesis import given, settings

from benchmarks.generate import SIZES, Size, generate_portfolio
from planner import api
from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.models.problem import Problem
from planner.models.status import SolveStatus
from planner.parallel import LocalExecutor, SerialExecutor, make_executor
from planner.plans.build import build_plan
from planner.solvers import BACKENDS
from planner.solvers.base import SolveOptions
from planner.solvers.bound import lagrangian_bound, lp_bound
from planner.solvers.decompose import (
    binding_resources,
    components,
    opt_stage,
    reduce_dominated,
    restrict,
    subset_stages,
)
from planner.solvers.lns import LnsBackend, LnsConfig
from planner.verify.check import verify

TIGHT = Size("tight", 120, 26)  # 22 cloud regions + 4 small on-prem sites: contended


@pytest.fixture(scope="module")
def catalogs():  # type: ignore[no-untyped-def]
    return api.load_catalogs("catalogs")


def test_generator_is_deterministic(catalogs) -> None:  # type: ignore[no-untyped-def]
    a = generate_portfolio("smoke", 7, catalogs)
    b = generate_portfolio("smoke", 7, catalogs)
    assert a.model_dump_json() == b.model_dump_json()
    assert generate_portfolio("smoke", 8, catalogs).model_dump_json() != a.model_dump_json()
    stages = sum(len(w.stages) for w in a.workloads)
    assert stages == SIZES["smoke"].stages
    classes = {(tuple(w.residency.jurisdictions), bool(w.residency.countries))
               for w in a.workloads}
    assert len(classes) >= 3  # global, EU-only, country / US-locked


@settings(max_examples=60, deadline=None, derandomize=True)
@given(problems(max_stages=6, max_options=3, max_units=2, split_stages=6,
                random_caps=True))
def test_bounds_never_exceed_the_optimum(problem: Problem) -> None:
    expected = brute_force(problem)
    lag = lagrangian_bound(problem, iterations=60)
    lp = lp_bound(problem)
    if expected is None:
        return  # infeasible: any bound is fine
    assert lag.bound is not None and lag.bound <= expected
    assert lp is not None and lp <= expected
    assert lag.bound <= lp + 1  # the Lagrangian dual never beats the LP relaxation


@settings(max_examples=60, deadline=None, derandomize=True)
@given(problems(max_stages=6, max_options=3, max_units=2, split_stages=6,
                random_caps=True))
def test_dominance_reduction_keeps_the_optimum(problem: Problem) -> None:
    keep = reduce_dominated(problem)
    reduced = restrict(problem, keep)
    assert (np.diff(reduced.stage_ptr) > 0).all() or (np.diff(problem.stage_ptr) == 0).any()
    assert brute_force(reduced) == brute_force(problem)


def _problem(size: Size | str, seed: int, catalogs):  # type: ignore[no-untyped-def]
    portfolio = generate_portfolio(size, seed, catalogs)
    world = build_world(portfolio, catalogs)
    cands = generate(portfolio, world, keep_pruned_options=False)
    return portfolio, world, cands, build_problem(cands, world)


def test_components_share_no_binding_resource(catalogs) -> None:  # type: ignore[no-untyped-def]
    _p, _w, _c, problem = _problem(TIGHT, 0, catalogs)
    red = restrict(problem, reduce_dominated(problem))
    n, comp = components(red)
    assert n > 1
    binding = binding_resources(red)
    st = opt_stage(red)
    for r in np.flatnonzero(binding):
        users = comp[st[red.use_opt[red.use_res == r]]]
        assert len(set(users.tolist())) <= 1  # one resource, one component
    # A union of components is a closed sub-problem with the same options.
    stages = np.flatnonzero(comp == comp[0])
    sub, idx = subset_stages(red, stages)
    assert sub.n_stages == stages.size and sub.n_options == idx.size
    assert (sub.opt_obj == red.opt_obj[idx]).all()


def test_components_of_disjoint_resources() -> None:
    # Stages 0,1 share resource 0; stage 2 uses resource 1 alone; both resources bind.
    ptr = np.array([0, 2, 4, 6], dtype=np.int64)
    ones = np.ones(6, dtype=np.int64)
    p = Problem(n_stages=3, stage_ptr=ptr, units=np.ones(3, dtype=np.int64),
                opt_cost=np.array([1, 5, 1, 5, 1, 5]), opt_obj=np.array([1, 5, 1, 5, 1, 5]),
                opt_compute=ones, opt_ub=ones, opt_site=np.arange(6, dtype=np.int64),
                opt_moved=np.zeros(6, dtype=np.bool_),
                use_opt=np.array([0, 2, 4], dtype=np.int64),
                use_res=np.array([0, 0, 1], dtype=np.int64),
                use_amt=np.array([10, 10, 10], dtype=np.int64),
                res_cap=np.array([15, 5], dtype=np.int64), res_names=("r0", "r1"),
                site_names=tuple(f"aws:s{i}" for i in range(6)))
    n, comp = components(p)
    assert n == 2 and comp[0] == comp[1] != comp[2]


@pytest.mark.parametrize("config", [
    LnsConfig(executor="serial"),                                    # exact batches
    LnsConfig(executor="serial", small_options=0, sub_time_s=1.0),   # LP + repair + LNS
    LnsConfig(executor="serial", small_options=0, lp_max_options=0),  # Lagrangian + LNS
])
def test_lns_plans_pass_the_verifier(catalogs, config: LnsConfig) -> None:  # type: ignore[no-untyped-def]
    portfolio, world, cands, problem = _problem(TIGHT, 1, catalogs)
    options = SolveOptions(time_limit_s=4, workers=1, seed=0, deterministic=False)
    sol = LnsBackend(config).solve(problem, options)
    assert sol.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert sol.bound is not None and sol.objective is not None
    assert sol.bound <= sol.objective
    assert sol.bound >= problem.trivial_bound()
    plan = build_plan(portfolio, world, cands, problem, sol, options)
    assert verify(portfolio, world, plan, allow_untimed=True) == []
    exact = BACKENDS["cpsat"]().solve(problem, dataclasses.replace(options, time_limit_s=10))
    if exact.status is SolveStatus.OPTIMAL:
        assert sol.bound <= exact.objective <= sol.objective


def test_lns_is_a_backend_of_the_api(catalogs) -> None:  # type: ignore[no-untyped-def]
    portfolio = generate_portfolio("smoke", 2, catalogs)
    plan = api.plan(portfolio, catalogs, solver="lns", time_limit_s=5, workers=1, explain=False)
    assert plan.feasible and plan.solver.backend == "lns"
    assert plan.solver.gap is not None and plan.solver.gap <= 0.01


def _square(v: int) -> int:
    return v * v


def test_local_executor_runs_in_processes() -> None:
    ex = LocalExecutor(2)
    try:
        assert ex.map(abs, [-3, 2, -1]) == [3, 2, 1]
        assert ex._pool is not None  # really went through the process pool
    finally:
        ex.close()
    assert SerialExecutor().map(_square, [1, 2, 3]) == [1, 4, 9]


def test_lns_batches_on_local_processes(catalogs) -> None:  # type: ignore[no-untyped-def]
    portfolio, world, cands, problem = _problem("smoke", 3, catalogs)
    options = SolveOptions(time_limit_s=4, workers=2, seed=0, deterministic=False)
    backend = LnsBackend(LnsConfig(executor="local", small_options=20))
    sol = backend.solve(problem, options)
    assert sol.stats["batches"] >= 2  # really went through the process pool
    assert sol.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    plan = build_plan(portfolio, world, cands, problem, sol, options)
    assert verify(portfolio, world, plan, allow_untimed=True) == []


@pytest.mark.allow_loopback
def test_ray_executor_on_a_local_ray(catalogs, repo) -> None:  # type: ignore[no-untyped-def]
    ray = pytest.importorskip("ray", reason="Ray not installed: pip install 'planner[ray]'")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(repo)}})
    try:
        ex = make_executor("ray")
        assert ex.name == "ray"
        assert ex.map(abs, [-1, -2, 3]) == [1, 2, 3]
        # The strategy's exact batches as Ray tasks, end to end through the verifier.
        portfolio, world, cands, problem = _problem("smoke", 3, catalogs)
        options = SolveOptions(time_limit_s=4, workers=1, seed=0, deterministic=False)
        backend = LnsBackend(LnsConfig(executor="ray", small_options=20), executor=ex)
        sol = backend.solve(problem, options)
        plan = build_plan(portfolio, world, cands, problem, sol, options)
        assert plan.feasible and verify(portfolio, world, plan, allow_untimed=True) == []
    finally:
        ray.shutdown()
