"""The hard benchmark family (``benchmarks/hard.py``) at smoke size: deterministic, always
plannable in full (verified), capacity really binds, and greedy is really suboptimal."""

from __future__ import annotations

import pytest

from benchmarks.generate import SIZES, generate_portfolio
from benchmarks.hard import HARD_QUOTA_MODELS
from benchmarks.run import result_name
from planner import api
from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.solvers import BACKENDS
from planner.solvers.base import SolveOptions
from planner.verify.check import verify


@pytest.fixture(scope="module")
def catalogs():  # type: ignore[no-untyped-def]
    return api.load_catalogs("catalogs")


def test_hard_family_is_deterministic(catalogs) -> None:  # type: ignore[no-untyped-def]
    a = generate_portfolio("smoke", 3, catalogs, family="hard")
    assert a.model_dump_json() == generate_portfolio("smoke", 3, catalogs,
                                                     family="hard").model_dump_json()
    assert generate_portfolio("smoke", 4, catalogs, family="hard").model_dump_json() \
        != a.model_dump_json()
    realistic = generate_portfolio("smoke", 3, catalogs)
    assert realistic.model_dump_json() != a.model_dump_json()
    assert sum(len(w.stages) for w in a.workloads) == SIZES["smoke"].stages


def test_hard_family_has_its_ingredients(catalogs) -> None:  # type: ignore[no-untyped-def]
    p = generate_portfolio("s", 0, catalogs, family="hard")
    locked = [w for w in p.workloads if len(w.residency.countries) == 1]
    assert len(locked) >= 0.3 * len(p.workloads)  # narrow residency
    stages = [st for w in p.workloads for st in w.stages]
    assert any(st.gpu and st.gpu.count > 8 for st in stages)  # multi-node (8-GPU nodes)
    assert {q.gpu_model for q in p.cloud.quotas} <= set(HARD_QUOTA_MODELS)
    assert len(p.cloud.quotas) >= 10  # tight quotas on the fast models


def test_unknown_family_is_one_clear_error(catalogs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown benchmark family 'easy'"):
        generate_portfolio("smoke", 0, catalogs, family="easy")


def test_hard_family_plans_in_full_and_greedy_is_beaten(catalogs) -> None:  # type: ignore[no-untyped-def]
    portfolio = generate_portfolio("smoke", 0, catalogs, family="hard")
    world = build_world(portfolio, catalogs)
    plan = api.plan_world(portfolio, world, solver="cpsat", time_limit_s=8, workers=2,
                          explain=False)
    assert plan.feasible and not plan.dropped  # every workload placed
    assert len(plan.placements) == SIZES["smoke"].stages
    assert verify(portfolio, world, plan) == []
    # Capacity binds (the plan costs more than every stage on its cheapest option), and a
    # greedy pass ends above the optimum (0.6 % at smoke seed 0; ≥ 3 % at s and m).
    problem = build_problem(generate(portfolio, world, keep_pruned_options=False), world)
    assert plan.solver.objective_usd is not None
    assert float(plan.solver.objective_usd) > 1.01 * problem.trivial_bound() / 1e6
    greedy = BACKENDS["greedy"]().solve(problem, SolveOptions(time_limit_s=5, workers=1))
    assert greedy.objective is not None  # placed per period only: a bound, not a plan
    timed = api.plan_world(portfolio, world, solver="greedy", time_limit_s=8, workers=2,
                           explain=False)  # placed, then scheduled (and repaired)
    assert timed.solver.objective_usd is not None
    assert float(timed.solver.objective_usd) >= float(plan.solver.objective_usd)
    assert greedy.objective / 1e6 < float(plan.solver.objective_usd)  # time costs money


def test_result_files_keep_the_realistic_names() -> None:
    assert result_name("m") == "m"
    assert result_name("m", "realistic") == "m"
    assert result_name("m", "hard") == "hard-m"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_seed_plans_in_full(catalogs, seed: int) -> None:  # type: ignore[no-untyped-def]
    """The family is tight per period; with capacity at every instant a seed may leave a
    workload out, but only one proven not to fit with the others (seed 3 at smoke)."""
    portfolio = generate_portfolio("smoke", seed, catalogs, family="hard")
    plan = api.plan(portfolio, catalogs, solver="cpsat", time_limit_s=5, workers=1,
                    explain=False)  # runs the verifier
    assert plan.feasible
    assert all("proven" in " ".join(d.reasons) for d in plan.dropped)
    assert verify(portfolio, build_world(portfolio, catalogs), plan) == []


def test_runner_defaults_to_the_realistic_family() -> None:
    from types import SimpleNamespace

    from benchmarks.run import family_of

    assert family_of(SimpleNamespace(size="s")) == "realistic"  # as `planner bench` calls it
    assert family_of(SimpleNamespace(family="hard")) == "hard"
