"""Backends declare what they can do (planner.solvers.capabilities), callers pick by it,
and a backend asked to solve what it cannot honour declines instead of returning a
broken plan. The diagnosis is the unsat-core capability of CP-SAT, on a Problem."""

from __future__ import annotations

import ast
import dataclasses
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from bruteforce import brute_force, problems
from hypothesis import given, settings

from planner import api
from planner.errors import CLI_SPELLING, InputError
from planner.explain.conflicts import core_backend
from planner.models.problem import PBudget, PColoc, PEdge, Problem
from planner.models.status import SolveStatus
from planner.solvers import AUTO_EXACT_OPTIONS, BACKENDS, choose_backend, tuning
from planner.solvers.base import CoreBackend, SolveOptions
from planner.solvers.capabilities import ALL_FEATURES, Capabilities, Feature, features
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.feasibility import violations
from planner.solvers.funding import Claim, rewards, with_funding
from planner.solvers.greedy import GreedyBackend
from planner.solvers.lns import LnsBackend, LnsConfig
from planner.solvers.tuning import LnsTuning

OPTIONS = SolveOptions(time_limit_s=5, workers=1)


def _problem(groups: tuple[tuple[str, ...], ...] | None = None) -> Problem:
    """Two stages on two sites; option 1 of stage 0 is the cheapest of all."""
    zero = np.zeros(0, dtype=np.int64)
    cost = np.array([10, 1, 5, 6], dtype=np.int64)
    return Problem(n_stages=2, stage_ptr=np.array([0, 2, 4]), units=np.array([1, 1]),
                   opt_cost=cost, opt_obj=cost, opt_compute=cost,
                   opt_ub=np.ones(4, dtype=np.int64), opt_site=np.array([0, 1, 0, 1]),
                   opt_moved=np.zeros(4, dtype=np.bool_), use_opt=zero, use_res=zero,
                   use_amt=zero, res_cap=zero, res_names=(), site_names=("aws:a", "azure:b"),
                   site_provider=("aws", "azure"), site_cloud=(True, True),
                   min_sites=np.ones(2, dtype=np.int64), opt_groups=groups,
                   stage_keys=("w/s0", "w/s1"))


FORBIDDEN = ((), ("residency.sites:w",), (), ())
"""Option 1 (the cheapest) is pruned by a residency rule: only a diagnosis re-admits it."""


def test_features_lists_what_a_problem_uses() -> None:
    p = _problem()
    assert features(p) == frozenset()
    assert features(_problem(((),) * 4)) == frozenset()  # no option is forbidden
    assert features(_problem(FORBIDDEN)) == {Feature.GUARDED_OPTIONS}
    every = dataclasses.replace(
        p, edges=(PEdge(0, 1, {(0, 1): 3}),),
        colocations=(PColoc(0, 1, np.array([0, 1]), "colocation:w/s1"),),
        min_sites=np.array([1, 2]), budgets=(PBudget("budget:total", np.array([0, 1]), 99),),
        max_share=Fraction(1, 2), max_moves=1)
    assert features(every) == ALL_FEATURES - {Feature.FUNDING, Feature.GUARDED_OPTIONS}
    funded = with_funding(p, [0, 0], ["w"], rewards(p, [Claim("w")]))
    assert features(funded) == {Feature.FUNDING}


def test_every_backend_declares_its_capabilities() -> None:
    for name, cls in BACKENDS.items():
        assert isinstance(cls.capabilities, Capabilities), name
        assert cls.capabilities.honours <= ALL_FEATURES
    cpsat, greedy, lns = (BACKENDS[n].capabilities for n in ("cpsat", "greedy", "lns"))
    assert cpsat.honours == ALL_FEATURES and cpsat.proves_optimality and cpsat.unsat_core
    assert not greedy.proves_bound and not greedy.unsat_core and greedy.deterministic
    assert lns.proves_bound and not lns.deterministic and Feature.FUNDING not in lns.honours
    assert [n for n, c in BACKENDS.items() if c.capabilities.unsat_core] == ["cpsat"]
    finder = core_backend()
    assert isinstance(finder, CoreBackend) and finder.capabilities.unsat_core


@pytest.mark.parametrize("backend", [GreedyBackend(), LnsBackend(LnsConfig(executor="serial"))],
                         ids=["greedy", "lns"])
def test_a_backend_declines_rules_it_cannot_honour(backend: GreedyBackend | LnsBackend) -> None:
    # On main greedy returned a "feasible" plan on the forbidden option (cost 1 + 5).
    sol = backend.solve(_problem(FORBIDDEN), OPTIONS)
    assert sol.status is SolveStatus.UNKNOWN and sol.objective is None and not sol.x.any()
    assert sol.detail.startswith(f"declined: the {backend.name} solver cannot keep options "
                                 "out that relaxable rules forbid")


def test_cpsat_honours_the_forbidden_options() -> None:
    sol = CpSatBackend().solve(_problem(FORBIDDEN), OPTIONS)
    assert sol.status is SolveStatus.OPTIMAL and sol.objective == 15
    assert sol.x.tolist() == [1, 0, 1, 0]


def test_the_api_refuses_a_backend_by_capability() -> None:
    p = _problem()
    funded = with_funding(p, [0, 0], ["w"], rewards(p, [Claim("w")]))
    with pytest.raises(InputError) as err:
        api._pick("lns", funded, CLI_SPELLING)
    assert str(err.value).startswith("the lns solver cannot make partial plans")
    assert err.value.hint == "use --solver cpsat or greedy, or --all-or-nothing"
    with pytest.raises(InputError) as err:      # the Python API names its parameters
        api._pick("lns", funded)
    assert err.value.hint == "use solver='cpsat' or 'greedy', or all_or_nothing=True"
    assert api._pick("greedy", funded) == "greedy" and api._pick("auto", funded) == "cpsat"
    deterministic = SolveOptions(deterministic=True)
    assert api._mode("lns", deterministic) == \
        "wall-clock time limit (lns has no deterministic mode)"
    assert api._mode("cpsat", deterministic) == deterministic.mode


@settings(max_examples=40, deadline=None, derandomize=True)
@given(problems(max_stages=5, max_options=3))
def test_the_core_backend_finds_a_conflict_exactly_when_none_is_feasible(
        problem: Problem) -> None:
    core = core_backend().find_core(problem, OPTIONS)
    if brute_force(problem) is not None:
        assert core.rules is None
        assert core_backend().check_conflict(problem, [], OPTIONS).holds is False
        return
    assert core.rules is not None
    if core.rules:  # rule-group names, minimal, and the claim re-checks
        assert core.minimal and set(core.alone) == set(core.rules)
        check = core_backend().check_conflict(problem, list(core.rules), OPTIONS)
        assert check.holds is True, check.message
    else:
        assert core_backend().check_conflict(problem, [], OPTIONS).holds is True


def test_the_auto_threshold_is_the_tuning_setting() -> None:
    assert AUTO_EXACT_OPTIONS is tuning.AUTO_EXACT_OPTIONS
    assert choose_backend("auto", tuning.AUTO_EXACT_OPTIONS) == "cpsat"
    assert choose_backend("auto", tuning.AUTO_EXACT_OPTIONS + 1) == "lp"
    cfg = LnsConfig()
    assert all(getattr(cfg, f.name) == f.default for f in dataclasses.fields(LnsTuning))


def test_every_tuning_setting_is_documented() -> None:
    source = (Path(tuning.__file__)).read_text(encoding="utf-8")
    body = ast.parse(source).body
    cls = next(n for n in body if isinstance(n, ast.ClassDef) and n.name == "LnsTuning")
    for block in (body, cls.body):
        for i, node in enumerate(block):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                nxt = block[i + 1] if i + 1 < len(block) else None
                assert isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) \
                    and isinstance(nxt.value.value, str), f"document line {node.lineno}"


def test_the_shared_check_refuses_a_unit_on_a_forbidden_option() -> None:
    problem = _problem(FORBIDDEN)
    plan = np.array([1, 0, 1, 0], dtype=np.int64)
    assert not violations(problem, plan)
    forbidden_option = next(o for o, groups in enumerate(FORBIDDEN) if groups)
    broken = plan.copy()
    stage = next(s for s in range(problem.n_stages) if forbidden_option in problem.options_of(s))
    broken[list(problem.options_of(stage))] = 0
    broken[forbidden_option] = 1
    assert any("forbidden by" in v for v in violations(problem, broken))
