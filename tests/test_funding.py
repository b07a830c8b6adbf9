"""Funding (partial plans): every backend that supports it against brute force on small
random instances with workload groups, values and priorities; the reward rules of
:mod:`planner.solvers.funding` on hand-built cases; ``lns`` declares it cannot."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from bruteforce import brute_force, feasible, funded_problems
from hypothesis import given, settings

from planner.models.problem import Problem
from planner.models.status import SolveStatus
from planner.solvers import choose_backend
from planner.solvers.base import SolveOptions
from planner.solvers.capabilities import Feature
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.feasibility import violations
from planner.solvers.funding import Claim, rewards, with_funding
from planner.solvers.greedy import GreedyBackend
from planner.solvers.lns import LnsBackend

FOUND = (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(funded_problems())
def test_cpsat_funding_matches_brute_force(problem: Problem) -> None:
    expected = brute_force(problem)
    assert expected is not None  # leaving every workload out is always a plan
    sol = CpSatBackend().solve(problem, SolveOptions(time_limit_s=5, workers=1))
    assert sol.status is SolveStatus.OPTIMAL
    assert sol.objective == sol.bound == expected
    assert feasible(problem, sol.x) and violations(problem, sol.x) == []


@settings(max_examples=150, deadline=None, derandomize=True)
@given(funded_problems())
def test_greedy_funding_valid_with_honest_bound(problem: Problem) -> None:
    expected = brute_force(problem)
    assert expected is not None
    sol = GreedyBackend().solve(problem, SolveOptions())
    assert sol.status in FOUND
    assert feasible(problem, sol.x) and violations(problem, sol.x) == []
    assert sol.objective == problem.objective(sol.x) >= expected
    assert sol.bound is not None and sol.bound <= expected


def _two_workloads(cap: int) -> Problem:
    """w0 (stage 0) and w1 (stage 1) each need 10 units of one resource of capacity
    ``cap``; w0 costs 100, w1 costs 300 micro-dollars."""
    return Problem(
        n_stages=2, stage_ptr=np.array([0, 1, 2]), units=np.array([1, 1]),
        opt_cost=np.array([100, 300]), opt_obj=np.array([100, 300]),
        opt_compute=np.array([100, 300]), opt_ub=np.array([1, 1]),
        opt_site=np.array([0, 0]), opt_moved=np.zeros(2, dtype=np.bool_),
        use_opt=np.array([0, 1]), use_res=np.array([0, 0]), use_amt=np.array([10, 10]),
        res_cap=np.array([cap]), res_names=("r",), site_names=("aws:a",),
        site_provider=("aws",), site_cloud=(True,), stage_keys=("w0/s", "w1/s"))


def _funded(problem: Problem, claims: list[Claim]) -> list[bool]:
    p = with_funding(problem, [0, 1], [c.name for c in claims], rewards(problem, claims))
    sol = CpSatBackend().solve(p, SolveOptions(time_limit_s=5, workers=1))
    assert sol.status is SolveStatus.OPTIMAL
    return p.funded(sol.x)


def test_value_decides_which_workload_gets_the_capacity() -> None:
    p = _two_workloads(10)
    usd = Decimal("0.000001")
    assert _funded(p, [Claim("w0", 150 * usd), Claim("w1", 1000 * usd)]) == [False, True]
    assert _funded(p, [Claim("w0", 1000 * usd), Claim("w1", 1000 * usd)]) == [True, False]
    # a workload worth less than it costs is not funded even when it fits
    assert _funded(_two_workloads(20), [Claim("w0", 50 * usd), Claim("w1", 1000 * usd)]) \
        == [False, True]


def test_required_workloads_and_priority_come_first() -> None:
    p = _two_workloads(10)
    usd = Decimal("0.000001")
    # no value: required whenever it fits; beats any valued workload of its priority
    assert _funded(p, [Claim("w0", 10**9 * usd), Claim("w1")]) == [False, True]
    # without values or priorities: as many as fit, then the cheaper
    assert _funded(p, [Claim("w0"), Claim("w1")]) == [True, False]
    # priority first, then cost
    assert _funded(p, [Claim("w0"), Claim("w1", priority=1)]) == [False, True]
    assert _funded(p, [Claim("w0", 10**9 * usd), Claim("w1", 0 * usd, priority=1)]) \
        == [False, True]


def test_lns_declares_it_cannot_fund_and_auto_picks_a_funding_backend() -> None:
    p = with_funding(_two_workloads(10), [0, 1], ["w0", "w1"],
                     rewards(_two_workloads(10), [Claim("w0"), Claim("w1")]))
    assert Feature.FUNDING not in LnsBackend.capabilities.honours
    assert LnsBackend.capabilities.missing(p) == [Feature.FUNDING]
    assert Feature.FUNDING in CpSatBackend.capabilities.honours
    assert Feature.FUNDING in GreedyBackend.capabilities.honours
    assert choose_backend("auto", 10, funding=True) == "cpsat"
    assert choose_backend("auto", 10**9, funding=True) == "greedy"
    assert choose_backend("auto", 10**9) == "lp"
    # asked anyway, lns declines (no plan, no bound) instead of returning a broken plan
    sol = LnsBackend().solve(p, SolveOptions(time_limit_s=1, workers=1))
    assert sol.status is SolveStatus.UNKNOWN and sol.objective is None and not sol.x.any()
    assert "cannot make partial plans" in sol.detail


def test_funding_weights_beyond_64_bits_say_what_the_user_can_do() -> None:
    # Costs near 1e18 micro-dollars: two required workloads already need weights beyond
    # the solver's integers. Without values or priorities the message must not blame them.
    import dataclasses

    import pytest

    from planner.errors import InputError

    big = dataclasses.replace(_two_workloads(20), opt_obj=np.array([10**18, 10**18]))
    with pytest.raises(InputError, match="choosing which of 2 workloads fit") as plain:
        rewards(big, [Claim("w0"), Claim("w1")])
    assert "priority" not in str(plain.value) and "--all-or-nothing" in str(plain.value)
    with pytest.raises(InputError, match="priority levels"):
        rewards(big, [Claim("w0", priority=1), Claim("w1")])
