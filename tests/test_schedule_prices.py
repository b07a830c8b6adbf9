"""The placement LP's prices as the time-aware search's guide
(planner.solvers.schedule_prices): the split of a plan's cost above the Lagrangian value
into stages' reduced-cost regret and idle priced capacity is exact, the search guided by
prices keeps every plan valid and never dearer, and the placement leaves its prices."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_schedule_model import brute_schedule, timed

from planner.models.problem import Problem
from planner.models.timing import Timing
from planner.solvers import schedule_lns
from planner.solvers.base import SolveOptions
from planner.solvers.decompose import opt_stage
from planner.solvers.feasibility import violations
from planner.solvers.lp_strategy import LpBackend
from planner.solvers.schedule_check import schedule_violations
from planner.solvers.schedule_cpsat import solve_schedule
from planner.solvers.schedule_lns import LnsSettings, improve
from planner.solvers.schedule_prices import Prices
from planner.solvers.time_cuts import with_time_cuts

OPTIONS = SolveOptions(time_limit_s=5, workers=1, deterministic=True)


def _lagrangian(problem: Problem, lam: np.ndarray) -> float:
    """Σ_s units · min_o (obj + λ·use) − λ·cap, computed option by option."""
    total = -float(lam @ problem.res_cap)
    for s in range(problem.n_stages):
        r = problem.options_of(s)
        if r.stop == r.start:
            continue
        rc = [float(problem.opt_obj[o]) + sum(
            float(lam[problem.use_res[k]] * problem.use_amt[k])
            for k in np.flatnonzero(problem.use_opt == o)) for o in r]
        total += float(problem.units[s]) * min(rc)
    return total


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed(), st.data())
def test_a_plan_costs_the_lagrangian_value_plus_regret_plus_idle_capacity(
        case: tuple[Problem, Timing], data: st.DataObject) -> None:
    problem, _ = case
    lam = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.5, 3.0, 40.0]),
                                      min_size=len(problem.res_cap),
                                      max_size=len(problem.res_cap))))
    assume((lam > 0).any())
    prices = Prices.of(problem, problem, lam)
    assert prices is not None
    x = np.zeros(problem.n_options, dtype=np.int64)
    for s in range(problem.n_stages):  # every stage on its first option, within capacity
        r = problem.options_of(s)
        if r.stop > r.start:
            x[r.start] = problem.units[s]
    used = np.bincount(problem.use_res, weights=problem.use_amt * x[problem.use_opt],
                       minlength=len(problem.res_cap))
    assume((used <= problem.res_cap).all())
    stage = opt_stage(problem)
    _, regret = prices.per_stage(problem, stage, x)
    idle = prices.idle(len(problem.res_cap), x)
    assert (regret >= -1e-9).all() and (idle >= -1e-9).all()
    split = _lagrangian(problem, lam) + regret.sum() + idle.sum()
    cost = float(problem.opt_obj @ x)  # options' costs: egress and rewards are not priced
    assert abs(cost - split) <= 1e-6 * max(1.0, abs(split))


def test_prices_that_do_not_fit_or_price_nothing_are_none() -> None:
    problem, _ = _one_case()
    n = len(problem.res_cap)
    assert Prices.of(problem, problem, np.zeros(n)) is None
    assert Prices.of(problem, problem, np.ones(n + 1)) is None
    assert Prices.of(problem, problem, np.full(n, np.nan)) is None


def _one_case() -> tuple[Problem, Timing]:
    from test_schedule_model import _pool
    return _pool([1, 1, 1], [2, 1, 1], 2, 6, [3, 3, 2], [False, False, False])


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed(), st.data())
def test_the_search_guided_by_prices_keeps_plans_valid_and_never_dearer(
        monkeypatch: pytest.MonkeyPatch, case: tuple[Problem, Timing], data: st.DataObject
) -> None:
    monkeypatch.setattr(schedule_lns, "PRICES_WITH_PRECEDENCE", True)  # guided everywhere
    problem, timing = case
    dear = dataclasses.replace(problem, opt_obj=problem.opt_obj.max() - problem.opt_obj)
    got = solve_schedule(dear, timing, OPTIONS)
    assume(got.solution.objective is not None)
    x, start = got.solution.x, got.start
    lam = np.array(data.draw(st.lists(st.floats(0.0, 50.0), min_size=len(problem.res_cap),
                                      max_size=len(problem.res_cap))))
    prices = Prices.of(problem, problem, lam)
    before = timing.cost(problem, x, start)
    better = improve(problem, timing, x, start, OPTIONS, LnsSettings(stall=4, sub_time_s=1.0),
                     prices=prices)
    assert not violations(problem, better.x)
    assert not schedule_violations(problem, timing, better.x, better.start)
    assert timing.cost(problem, better.x, better.start) == better.value <= before
    optimum = brute_schedule(problem, timing)
    assert optimum is not None and better.value >= optimum


def test_the_lp_placement_leaves_prices_for_every_row_of_its_problem() -> None:
    problem, timing = _one_case()
    cut = with_time_cuts(problem, timing)
    backend = LpBackend()
    sol = backend.solve(cut, SolveOptions(time_limit_s=5, workers=1, seed=0))
    assert sol.objective is not None
    assert backend.prices is not None and backend.prices.shape == cut.res_cap.shape
    assert (backend.prices >= 0).all()
