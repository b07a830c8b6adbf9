"""Solver correctness (issue "Plans you can stake money on"): co-location chains through
every backend, the shared feasibility check, bounded CP-SAT coefficients, honest bounds,
and the wall-clock deadline."""

from __future__ import annotations

import dataclasses
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bruteforce import brute_force, feasible
from builders import NOW, portfolio, small_catalog, solve, training, workload
from ortools.sat.python import cp_model

from planner import api
from planner.errors import InputError
from planner.models.problem import PColoc, PEdge, Problem
from planner.models.status import SolveStatus
from planner.parallel import SerialExecutor
from planner.solvers.base import (
    Deadline,
    Solution,
    SolveOptions,
    SolverError,
    default_workers,
    process_age_s,
)
from planner.solvers.cpsat import CpSatBackend, validated
from planner.solvers.feasibility import finish, violations
from planner.solvers.greedy import GreedyBackend, greedy_assign
from planner.solvers.lns import LnsBackend, LnsConfig
from planner.solvers.magnitude import LIMIT, round_down, share_fraction

REPO = Path(__file__).resolve().parent.parent

# 1. co-location chains -------------------------------------------------------------------


def chain_portfolio() -> Any:
    """training → testing (same site) → inference (same site as testing); inference is
    allowed at two sites and is cheaper at the one training may not use."""
    stages = [
        training(residency={"sites": ["aws:eu-central-1"]}),
        {"kind": "testing", "vcpus": 8, "memory_gib": 32, "hours": 100,
         "colocate": {"stage": "training", "level": "site"}},
        {"kind": "inference", "vcpus": 8, "memory_gib": 32, "hours": 100,
         "colocate": {"stage": "testing", "level": "site"},
         "residency": {"sites": ["aws:eu-central-1", "aws:us-east-1"]}},
    ]
    return portfolio([workload("w", stages)])


def _sites(plan: Any) -> dict[str, str]:
    return {p.stage: p.site for p in plan.placements}


@pytest.mark.parametrize("solver", ["greedy", "cpsat", "lns"])
def test_colocation_chain_holds_for_every_backend(solver: str) -> None:
    plan = solve(chain_portfolio(), solver=solver, time_limit_s=10)  # runs the verifier
    assert plan.feasible
    assert set(_sites(plan).values()) == {"aws:eu-central-1"}


def test_colocation_chain_on_the_lns_large_component_path(monkeypatch: Any) -> None:
    backend = LnsBackend(LnsConfig(executor="serial", small_options=0, sub_time_s=0.5),
                         executor=SerialExecutor())
    monkeypatch.setattr(api, "get_backend", lambda *_a, **_k: backend)
    plan = solve(chain_portfolio(), solver="lns", time_limit_s=3)
    assert plan.feasible and set(_sites(plan).values()) == {"aws:eu-central-1"}
    assert plan.solver.gap is not None and plan.solver.gap >= 0


def _arr(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def _chain_problem() -> Problem:
    """Stage 2 runs with stage 1, stage 1 with stage 0 (site level); stage 2 has fewer
    options than stage 1, so ordering by options alone would place it first."""
    sites = _arr(0, 0, 1, 2, 1, 0)  # stage 0: site 0; stage 1: 0, 1, 2; stage 2: 1, 0
    return Problem(
        n_stages=3, stage_ptr=_arr(0, 1, 4, 6), units=_arr(1, 1, 1),
        opt_cost=_arr(5, 3, 2, 1, 1, 9), opt_obj=_arr(5, 3, 2, 1, 1, 9),
        opt_compute=_arr(5, 3, 2, 1, 1, 9), opt_ub=_arr(1, 1, 1, 1, 1, 1), opt_site=sites,
        opt_moved=np.zeros(6, dtype=np.bool_), use_opt=_arr(), use_res=_arr(),
        use_amt=_arr(), res_cap=_arr(), res_names=(),
        site_names=("aws:a", "aws:b", "aws:c"), site_provider=("aws",) * 3,
        site_cloud=(True,) * 3, min_sites=_arr(1, 1, 1),
        colocations=(PColoc(1, 2, _arr(0, 1, 2), "colocation:w/s2"),
                     PColoc(0, 1, _arr(0, 1, 2), "colocation:w/s1")),
        stage_keys=("w/s0", "w/s1", "w/s2"))


def test_greedy_places_stages_in_dependency_order() -> None:
    p = _chain_problem()
    x, complete = greedy_assign(p)
    assert complete and violations(p, x) == []
    assert x.tolist() == [1, 1, 0, 0, 0, 1]
    sol = GreedyBackend().solve(p, SolveOptions())
    assert sol.status is SolveStatus.OPTIMAL or sol.objective == brute_force(p)


def test_feasibility_check_names_every_broken_rule() -> None:
    p = dataclasses.replace(_chain_problem(), min_sites=_arr(1, 2, 1), max_moves=0,
                            opt_moved=np.ones(6, dtype=np.bool_))
    broken = violations(p, _arr(1, 0, 0, 1, 1, 0))  # stage 1 at c, stage 2 at b
    text = " | ".join(broken)
    for rule in ("colocation:w/s1", "colocation:w/s2", "spread:w/s1", "moves"):
        assert rule in text
    assert violations(p, _arr(1, 1, 0, 0, 0, 0))[0].startswith("w/s2 places 0 of 1")


def test_a_backend_never_returns_a_broken_plan() -> None:
    p = _chain_problem()
    broken = Solution("x", SolveStatus.FEASIBLE, _arr(1, 0, 0, 1, 1, 0), 3, 0, 0.0)
    with pytest.raises(SolverError, match="breaks"):
        finish(p, broken)


# 2. bounded coefficients -------------------------------------------------------------------


def _priced(n_stages: int, cost: int, providers: tuple[str, ...]) -> Problem:
    """``n_stages`` one-unit stages, one option per provider's site each, at ``cost``."""
    k = len(providers)
    n = n_stages * k
    return Problem(
        n_stages=n_stages, stage_ptr=np.arange(0, n + 1, k, dtype=np.int64),
        units=np.ones(n_stages, dtype=np.int64),
        opt_cost=np.full(n, cost, dtype=np.int64), opt_obj=np.full(n, cost, dtype=np.int64),
        opt_compute=np.full(n, cost, dtype=np.int64), opt_ub=np.ones(n, dtype=np.int64),
        opt_site=np.tile(np.arange(k, dtype=np.int64), n_stages),
        opt_moved=np.zeros(n, dtype=np.bool_), use_opt=_arr(), use_res=_arr(),
        use_amt=_arr(), res_cap=_arr(), res_names=(),
        site_names=tuple(f"{q}:s{j}" for j, q in enumerate(providers)),
        site_provider=providers, site_cloud=tuple(q != "onprem" for q in providers),
        min_sites=np.ones(n_stages, dtype=np.int64),
        stage_keys=tuple(f"w/s{s}" for s in range(n_stages)))


@pytest.mark.parametrize("share", [Fraction(600001, 1000000), Fraction(1, 3)])
def test_share_cap_with_large_costs_plans(share: Fraction) -> None:
    # Σ compute × ub is 9e14 here: times the share's denominator 1e6 it overflowed
    # CP-SAT (MODEL_INVALID, reported as "no plan found within the time limit").
    p = dataclasses.replace(_priced(300, 10**12, ("aws", "azure", "onprem")),
                            max_share=share)
    sol = CpSatBackend().solve(p, SolveOptions(time_limit_s=20, workers=1))
    assert sol.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert violations(p, sol.x) == [] and feasible(p, sol.x)
    used = share_fraction(p)
    assert used <= share and used.denominator * int(p.opt_compute.max()) * 300 < LIMIT


def test_share_fraction_rounds_down_never_up() -> None:
    assert round_down(Fraction(1, 3), 1000) == Fraction(1, 3)
    assert round_down(Fraction(600001, 1000000), 1000) == Fraction(3, 5)
    x = Fraction(2**53 + 1, 2**54)
    for den in (7, 100, 999, 10**6):
        r = round_down(x, den)
        assert r <= x and r.denominator <= den and x - r < Fraction(1, den)


def test_costs_too_large_for_the_solver_are_an_input_error() -> None:
    p = _priced(3, 2**62, ("aws",))
    with pytest.raises(InputError, match="total cost"):
        CpSatBackend().solve(p, SolveOptions(time_limit_s=1, workers=1))
    share = dataclasses.replace(_priced(300, 10**14, ("aws", "azure")), max_share=Fraction(1, 2))
    with pytest.raises(InputError, match="max_provider_share"):
        CpSatBackend().solve(share, SolveOptions(time_limit_s=1, workers=1))
    q = dataclasses.replace(_priced(3, 1, ("aws",)), use_opt=_arr(0), use_res=_arr(0),
                            use_amt=_arr(2**62), res_cap=_arr(2**62), res_names=("gpu:x",))
    with pytest.raises(InputError, match="capacity:gpu:x"):
        CpSatBackend().solve(q, SolveOptions(time_limit_s=1, workers=1))


def test_an_invalid_model_is_a_planner_error_not_a_timeout() -> None:
    model = cp_model.CpModel()
    a, b = model.new_int_var(0, 2**40, "a"), model.new_int_var(0, 2**40, "b")
    model.add(2**40 * a + 2**40 * b <= 5)
    with pytest.raises(SolverError, match="rejects"):
        validated(model)


def test_cpsat_edge_egress_at_large_coefficients() -> None:
    # Found by the brute-force property test: CP-SAT 9.15's presolve declared 2e9 optimal
    # here with the enforced-linear egress form (y_ai ⇒ e ≥ Σ_j P_ij y_bj).
    g, z = 10**9, [0] * 12
    p = Problem(
        n_stages=5, stage_ptr=_arr(0, 1, 5, 9, 11, 14), units=_arr(1, 1, 1, 1, 1),
        opt_cost=_arr(*z, 2 * g, g), opt_obj=_arr(*z, 2 * g, g),
        opt_compute=_arr(*z, 2 * g, g), opt_ub=np.ones(14, dtype=np.int64),
        opt_site=_arr(0, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 1, 0, 2),
        opt_moved=np.zeros(14, dtype=np.bool_), use_opt=_arr(), use_res=_arr(),
        use_amt=_arr(), res_cap=_arr(0), res_names=("r0",),
        site_names=("aws:s0", "aws:s1", "aws:s2"), site_provider=("aws",) * 3,
        site_cloud=(True,) * 3, min_sites=_arr(1, 1, 1, 1, 1),
        edges=(PEdge(0, 1, {}), PEdge(0, 2, {}),
               PEdge(2, 4, {(0, 1): 2 * g, (0, 2): g, (2, 1): g})),
        colocations=(PColoc(0, 3, _arr(0, 1, 2), "colocation:w/s3"),),
        stage_keys=tuple(f"w/s{s}" for s in range(5)))
    sol = CpSatBackend().solve(p, SolveOptions(time_limit_s=5, workers=1))
    assert sol.status is SolveStatus.OPTIMAL and sol.objective == brute_force(p) == g


# 4. honest bounds ------------------------------------------------------------------------


def test_bound_is_the_best_valid_one_and_never_clipped() -> None:
    p = _priced(4, 10, ("aws", "azure"))
    x = _arr(1, 0, 1, 0, 1, 0, 1, 0)
    low = finish(p, Solution("t", SolveStatus.FEASIBLE, x, 40, -4_860_000, 0.0))
    assert low.bound == p.trivial_bound() == 40 and low.status is SolveStatus.OPTIMAL
    with pytest.raises(SolverError, match="bound"):
        finish(p, Solution("t", SolveStatus.FEASIBLE, x, 40, 41, 0.0))


def test_lns_raises_on_a_bound_above_its_objective(monkeypatch: Any) -> None:
    from planner.solvers import lns
    from planner.solvers.bound import BoundResult

    def too_high(p: Problem, **_kw: Any) -> BoundResult:
        n = p.res_cap.size
        return BoundResult(10**15, "lagrangian", 1, 0.0, np.zeros(n),
                           p.opt_obj.astype(np.float64))

    monkeypatch.setattr(lns, "lagrangian_bound", too_high)
    backend = LnsBackend(LnsConfig(executor="serial", lp_max_options=0, small_options=0),
                         executor=SerialExecutor())
    with pytest.raises(SolverError, match="exceeds"):
        backend.solve(_priced(4, 10, ("aws", "azure")), SolveOptions(time_limit_s=1, workers=1))


# 3. the deadline -------------------------------------------------------------------------


def test_deadline_arithmetic() -> None:
    d = Deadline.after(10)
    assert 9 < d.remaining() <= 10 and not d.expired()
    assert d.earlier(4).remaining() <= 6
    assert d.within(1).remaining() <= 1 and d.within(100).at == d.at
    assert Deadline(time.monotonic() - 1).expired() and Deadline(0).remaining() == 0
    opts = SolveOptions(time_limit_s=5)
    assert opts.deadline is None and opts.started().deadline is not None
    assert opts.workers == default_workers() >= 1 and not opts.deterministic


def test_out_of_time_returns_the_verified_start_plan() -> None:
    p = _priced(50, 10, ("aws", "azure"))
    gone = SolveOptions(time_limit_s=0.01, workers=1, deadline=Deadline(time.monotonic() - 1))
    sol = CpSatBackend().solve(p, gone)
    assert sol.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert violations(p, sol.x) == []


def test_plan_reports_the_time_mode() -> None:
    wall = solve(chain_portfolio(), time_limit_s=5)
    assert "wall-clock" in wall.solver.detail
    exact = api.plan(chain_portfolio(), [small_catalog()], time_limit_s=5, now=NOW,
                     deterministic=True)
    assert "deterministic" in exact.solver.detail
    assert exact.placements == wall.placements
    lns = api.plan(chain_portfolio(), [small_catalog()], solver="lns", time_limit_s=5,
                   now=NOW, deterministic=True)
    assert "lns has no deterministic mode" in lns.solver.detail


def test_cli_deterministic_flag_and_default_workers(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from planner.cli.main import cli
    from planner.models.plan import Plan

    out = tmp_path / "plan.json"
    example = str(REPO / "examples" / "carmaker.yaml")
    result = CliRunner().invoke(cli, ["plan", example, "--catalogs", str(REPO / "catalogs"),
                                      "-o", str(out), "--time-limit", "10", "--deterministic"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    plan = Plan.model_validate_json(out.read_text())
    assert "deterministic" in plan.solver.detail and plan.solver.workers == default_workers()
    assert "solver: " in result.stderr and "deterministic" in result.stderr


def test_process_age_counts_start_up() -> None:
    assert 0 < process_age_s() < 24 * 3600
