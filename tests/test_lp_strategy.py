"""The LP-guided strategy (``lp``) and its bounds against brute force on small random
instances with every side constraint (edges, co-location, spread, budgets, provider share
caps, move caps), and the ``auto`` policy.

* every ``lp`` plan passes the shared feasibility check and brute force's own check, costs
  at least the optimum, never more than greedy's plan, and its bound is ≤ the optimum —
  on the exact path (CP-SAT on the reduced problem) and on the LNS path;
* the LP bound (:func:`planner.solvers.lp_model.solve_lp`) and the dual-ascent bound
  (:mod:`planner.solvers.lp_dual`) are ≤ the optimum, and the LP bound holds for *any*
  multipliers (:func:`dual_bound` does not trust the LP solver);
* the rounding returns complete plans that meet every rule or nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
from bruteforce import brute_force, feasible, problems
from builders import solve
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bruteforce import portfolios

from planner.errors import InputError
from planner.models.problem import IntArray, Problem
from planner.models.status import SolveStatus
from planner.solvers import (
    AUTO_EXACT_OPTIONS,
    BACKENDS,
    choose_backend,
    get_backend,
    lp_strategy,
)
from planner.solvers.base import Deadline, SolveOptions
from planner.solvers.capabilities import Feature
from planner.solvers.feasibility import violations
from planner.solvers.greedy import GreedyBackend
from planner.solvers.lp_dual import applies, dual_ascent, sampled_ascent
from planner.solvers.lp_model import dual_bound, lp_rows, solve_lp
from planner.solvers.lp_round import lp_fill, regret_fill, repair
from planner.solvers.lp_strategy import LpBackend, LpConfig

FOUND = (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


def _check(problem: Problem, config: LpConfig, limit: float) -> None:
    expected = brute_force(problem)
    sol = LpBackend(config).solve(problem, SolveOptions(time_limit_s=limit, workers=1))
    greedy = GreedyBackend().solve(problem, SolveOptions())
    if sol.status in FOUND:
        assert expected is not None and sol.objective is not None
        assert violations(problem, sol.x) == [] and feasible(problem, sol.x)
        assert sol.objective == problem.objective(sol.x) >= expected
        assert sol.bound is not None and sol.bound <= expected
        if greedy.objective is not None:
            assert sol.objective <= greedy.objective
    elif sol.status is SolveStatus.INFEASIBLE:
        assert expected is None
    else:
        assert sol.status is SolveStatus.UNKNOWN and not sol.x.any()
        assert greedy.objective is None
        assert expected is None or sol.bound is None or sol.bound <= expected


@settings(max_examples=80, deadline=None, derandomize=True)
@given(problems())
def test_lp_exact_path_never_wrong(problem: Problem) -> None:
    _check(problem, LpConfig(), 5.0)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(problems(max_stages=6, max_options=3))
def test_lp_lns_path_never_wrong(problem: Problem) -> None:
    _check(problem, LpConfig(exact_options=0, polish_options=0), 1.0)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(problems(max_stages=6, max_options=3))
def test_lp_lns_then_exact_path_never_wrong(problem: Problem) -> None:
    """The search stalls after one neighbourhood, exact CP-SAT takes over."""
    _check(problem, LpConfig(exact_options=0, stall=1), 2.0)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(problems(max_stages=6, max_options=3))
def test_lp_dual_ascent_path_never_wrong(problem: Problem) -> None:
    """The path of large problems: no simplex, the bound by dual ascent (when it applies)."""
    _check(problem, LpConfig(exact_options=0, lp_max_options=0), 1.0)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(problems(max_stages=6, max_options=3))
def test_lp_sampled_ascent_path_never_wrong(problem: Problem) -> None:
    """The path of the largest problems: the multipliers from a sample of the stages."""
    _check(problem, LpConfig(exact_options=0, lp_max_options=0, polish_max_options=0,
                             sample_options=max(1, problem.n_options // 2)), 1.0)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(problems(max_stages=6, max_options=3))
def test_lp_started_from_a_roomier_problems_multipliers_never_wrong(problem: Problem) -> None:
    """The second placement of the schedule path: the same rows with less room, dual
    ascent from the first problem's multipliers (the path of large problems)."""
    config = LpConfig(exact_options=0, lp_max_options=0)
    tight = dataclasses.replace(problem, res_cap=problem.res_cap * 3 // 4)
    second = LpBackend(config)
    if applies(problem):
        second.warm = dual_ascent(problem, Deadline.after(1.0)).lam
    expected = brute_force(tight)
    sol = second.solve(tight, SolveOptions(time_limit_s=1.0, workers=1))
    if sol.objective is not None:
        assert expected is not None and sol.objective >= expected
        assert not violations(tight, sol.x)
    if expected is not None and sol.bound is not None:
        assert sol.bound <= expected


@settings(max_examples=150, deadline=None, derandomize=True)
@given(problems())
def test_lp_bound_at_most_optimum(problem: Problem) -> None:
    expected = brute_force(problem)
    lp = solve_lp(problem, 5.0)
    if expected is not None and lp.bound is not None:
        assert lp.bound <= expected
    if expected is None:
        return
    if applies(problem):
        dual = dual_ascent(problem, Deadline.after(2.0))
        assert dual.bound is not None and dual.bound <= expected
        sampled = sampled_ascent(problem, Deadline.after(2.0), problem.n_options // 2)
        assert sampled.bound is not None and sampled.bound <= expected


def _tiny_capacity_problem() -> Problem:
    """Stage 0's cheap option uses resources 0 and 1, stage 1's uses resource 1 (one unit
    each): only one of them gets it, so the optimum and the LP are 100 + 300 = 400."""
    n = 4
    return Problem(
        n_stages=2, stage_ptr=np.array([0, 2, 4]), units=np.ones(2, dtype=np.int64),
        opt_cost=np.array([100, 300, 100, 300]), opt_obj=np.array([100, 300, 100, 300]),
        opt_compute=np.array([100, 300, 100, 300]), opt_ub=np.ones(n, dtype=np.int64),
        opt_site=np.zeros(n, dtype=np.int64), opt_moved=np.zeros(n, dtype=bool),
        use_opt=np.array([0, 0, 2]), use_res=np.array([0, 1, 1]),
        use_amt=np.array([1, 1, 1]), res_cap=np.array([1, 1]), res_names=("r0", "r1"),
        site_names=("s",), site_provider=("aws",), site_cloud=(True,),
        stage_keys=("w/a", "w/b"))


def _rigid_and_flexible_problem() -> Problem:
    """One unit of capacity on r0. Stage 0 (cheap, 100) has only r0; stage 1 (dear, 900
    there) has r0 too and an unlimited option at 1,000. The optimum is 100 + 1,000."""
    return Problem(
        n_stages=2, stage_ptr=np.array([0, 1, 3]), units=np.ones(2, dtype=np.int64),
        opt_cost=np.array([100, 900, 1_000]), opt_obj=np.array([100, 900, 1_000]),
        opt_compute=np.array([100, 900, 1_000]), opt_ub=np.ones(3, dtype=np.int64),
        opt_site=np.zeros(3, dtype=np.int64), opt_moved=np.zeros(3, dtype=bool),
        use_opt=np.array([0, 1]), use_res=np.array([0, 0]), use_amt=np.array([1, 1]),
        res_cap=np.array([1]), res_names=("r0",), site_names=("s",),
        site_provider=("aws",), site_cloud=(True,), stage_keys=("w/a", "w/b"))


def test_the_regret_fill_places_the_stages_without_a_fallback_first() -> None:
    """At multipliers that tie stage 1's options, a fill by LP cost takes stage 1 first
    (it costs more) onto the only capacity stage 0 can use; the regret fill takes stage 0
    first (it has no option that always has room) and finds the optimum."""
    problem = _rigid_and_flexible_problem()
    assert brute_force(problem) == 1_100
    rc = problem.opt_obj.astype(np.float64) + np.array([100.0, 100.0, 0.0])  # λ = 100
    x = regret_fill(problem, rc)
    assert x is not None and x.tolist() == [1, 0, 1] and not violations(problem, x)
    by_cost = lp_fill(problem, np.array([1.0, 0.5, 0.5]), rc, rescue=False)
    assert by_cost is None  # stuck: stage 1 took r0 first


def test_dual_ascent_counts_options_on_several_resources() -> None:
    # A time-aware placement's options use their pool and its energy windows
    # (_tiny_capacity_problem): the bound without the shared row would be 200.
    problem = _tiny_capacity_problem()
    assert applies(problem) and brute_force(problem) == 400
    dual = dual_ascent(problem, Deadline.after(2.0))
    assert dual.bound is not None and 396 <= dual.bound <= 400


def _scaled_rows_problem(seed: int, n_s: int = 300) -> Problem:
    """``n_s`` stages × 8 options on 16 rows, half of them in units ten million times smaller
    (a GPU count beside the node-hours of an energy cut): every cheap option uses one row
    of each kind."""
    rng = np.random.default_rng(seed)
    k, n_r = 8, 16
    n = n_s * k
    cost = rng.integers(1_000, 5_000, n)
    gpu_row = rng.integers(0, n_r // 2, n)
    hour_row = rng.integers(n_r // 2, n_r, n)
    gpus = rng.integers(1, 9, n)
    hours = rng.integers(1, 9, n) * 10_000_000
    cheap = cost < 3_000  # the cheap options compete for the rows
    use_opt = np.r_[np.flatnonzero(cheap), np.flatnonzero(cheap)]
    use_res = np.r_[gpu_row[cheap], hour_row[cheap]]
    use_amt = np.r_[gpus[cheap], hours[cheap]]
    room = 60 * n_s // 300
    cap = np.r_[np.full(n_r // 2, room), np.full(n_r // 2, room * 10_000_000)]
    return Problem(
        n_stages=n_s, stage_ptr=np.arange(0, n + 1, k), units=np.ones(n_s, dtype=np.int64),
        opt_cost=cost, opt_obj=cost, opt_compute=cost, opt_ub=np.ones(n, dtype=np.int64),
        opt_site=np.zeros(n, dtype=np.int64), opt_moved=np.zeros(n, dtype=bool),
        use_opt=use_opt, use_res=use_res, use_amt=use_amt, res_cap=cap,
        res_names=tuple(f"r{r}" for r in range(n_r)), site_names=("s",),
        site_provider=("aws",), site_cloud=(True,),
        stage_keys=tuple(f"w/{i}" for i in range(n_s)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dual_ascent_reaches_the_lp_on_rows_of_very_different_scales(seed: int) -> None:
    """The ascent runs on multipliers in units of each row's capacity: on the raw ones it
    stalled 0.6–0.9 % below the LP on the benchmark's rows (1,000 to 4.7e8), and 0.2–1.5 %
    below it here."""
    problem = _scaled_rows_problem(seed)
    lp = solve_lp(problem, 10.0)
    assert lp.status == "optimal" and lp.bound is not None
    dual = dual_ascent(problem, Deadline.after(20.0))
    assert dual.bound is not None and dual.bound <= lp.bound
    assert dual.bound >= lp.value - 1e-4 * abs(lp.value), (dual.bound, lp.value)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_samples_prices_bound_the_whole_problem_near_its_lp(seed: int) -> None:
    """A price is per unit of capacity: a quarter of the stages with a quarter of every
    capacity prices the rows as the whole problem does. The bound at the sample's prices
    is the whole problem's L(λ), valid, and near the LP; its reduced costs and its
    fractional assignment are the whole problem's."""
    problem = _scaled_rows_problem(seed, n_s=2_400)
    lp = solve_lp(problem, 20.0)
    assert lp.status == "optimal" and lp.bound is not None
    sampled = sampled_ascent(problem, Deadline.after(20.0), problem.n_options // 4)
    assert sampled.bound is not None and sampled.bound <= lp.bound
    assert sampled.bound >= lp.value - 0.01 * abs(lp.value), (sampled.bound, lp.value)
    assert sampled.reduced.shape == sampled.x.shape == (problem.n_options,)
    per_stage = np.add.reduceat(sampled.x, problem.stage_ptr[:-1])
    assert np.allclose(per_stage, 1.0)
    for rc in sampled.earlier:
        assert rc.shape == (problem.n_options,) and (rc >= problem.opt_obj - 1e-6).all()


def test_the_strategy_also_rounds_from_the_ascents_earlier_multipliers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Near the LP's optimum many options tie on reduced cost and the fill's order decides
    among them: at hard l the first temperature's multipliers rounded to 1.6 % above the
    LP where the final ones, with a higher bound, rounded to 2.9-5.6 %. The ascent keeps
    the reduced costs it had when each temperature ended, and the strategy rounds from
    them too, keeping the cheapest plan that breaks no rule."""
    problem = _scaled_rows_problem(0)
    dual = dual_ascent(problem, Deadline.after(10.0))
    assert dual.earlier, "the ascent went past its first temperature"
    for rc in dual.earlier:  # reduced costs at multipliers λ ≥ 0: never below the cost
        assert rc.shape == (problem.n_options,) and (rc >= problem.opt_obj - 1e-6).all()
    seen: list[np.ndarray] = []
    real = lp_strategy.lp_fill

    def spy(p: Problem, x: np.ndarray, rc: np.ndarray, fractional_first: bool = True
            ) -> np.ndarray | None:
        seen.append(rc)
        return real(p, x, rc, fractional_first)

    monkeypatch.setattr(lp_strategy, "lp_fill", spy)
    config = LpConfig(exact_options=0, lp_max_options=0)
    sol = LpBackend(config).solve(problem, SolveOptions(time_limit_s=8.0, workers=1))
    assert sol.objective is not None and not violations(problem, sol.x)
    distinct = {rc.tobytes() for rc in seen}
    assert len(distinct) >= 2, "the final reduced costs and at least one earlier set"


@settings(max_examples=100, deadline=None, derandomize=True)
@given(problems(), st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=40))
def test_dual_bound_valid_for_any_multipliers(problem: Problem, raw: list[float]) -> None:
    """L(λ) is a lower bound for every λ ≥ 0 (and negative λ are projected), so the bound
    never depends on the accuracy of the LP solver's duals."""
    expected = brute_force(problem)
    if expected is None:
        return
    rows = lp_rows(problem)
    lam = np.resize(np.array(raw) - 1e5, rows.b.size)
    bound, _rc = dual_bound(problem, rows, lam)
    assert bound is not None and bound <= expected


@settings(max_examples=100, deadline=None, derandomize=True)
@given(problems())
def test_rounding_complete_and_rule_abiding_or_nothing(problem: Problem) -> None:
    lp = solve_lp(problem, 5.0)
    if lp.bound is None:
        return
    x = lp_fill(problem, lp.x, lp.reduced)
    if x is not None:  # the fill knows only capacity: the strategy checks the rest
        assert np.array_equal(np.bincount(np.repeat(np.arange(problem.n_stages),
                                                    np.diff(problem.stage_ptr)),
                                          weights=x, minlength=problem.n_stages),
                              problem.units)
    fixed = repair(problem, lp.x, lp.reduced, SolveOptions(workers=1), Deadline.after(2.0))
    if fixed is not None:
        assert violations(problem, fixed) == [] and feasible(problem, fixed)


def test_lp_refuses_partial_plans() -> None:
    caps = LpBackend.capabilities
    assert Feature.FUNDING not in caps.honours and not caps.proves_optimality
    assert caps.proves_bound and not caps.deterministic
    assert BACKENDS["lp"] is LpBackend and isinstance(get_backend("lp"), LpBackend)


def test_auto_policy() -> None:
    assert choose_backend("auto", 10) == "cpsat"
    assert choose_backend("auto", AUTO_EXACT_OPTIONS) == "cpsat"
    assert choose_backend("auto", AUTO_EXACT_OPTIONS + 1) == "lp"
    assert choose_backend("auto", AUTO_EXACT_OPTIONS, funding=True) == "cpsat"
    assert choose_backend("auto", 10**9, funding=True) == "greedy"  # lp cannot fund
    for name in BACKENDS:
        assert choose_backend(name, 10**9) == name


def test_lp_stops_at_the_deadline() -> None:
    """No time at all: the strategy still answers with a plan meeting every rule (greedy's
    at worst), never a broken one."""
    p = _contended()
    sol = LpBackend().solve(p, SolveOptions(time_limit_s=0.0, workers=1))
    assert sol.objective is not None and violations(p, sol.x) == []
    assert sol.objective <= 1_600


def test_lp_on_a_contended_instance_beats_greedy() -> None:
    """Two stages, one cheap slot: greedy puts the first stage in it; the LP-guided plan
    gives it to the stage that saves most (the optimum)."""
    p = _contended()
    greedy = GreedyBackend().solve(p, SolveOptions())
    sol = LpBackend(LpConfig(exact_options=0)).solve(p, SolveOptions(time_limit_s=5,
                                                                      workers=1))
    assert sol.objective == brute_force(p) == 200 + 500
    assert greedy.objective is not None and greedy.objective > sol.objective
    assert sol.bound is not None and sol.bound <= sol.objective


def _contended() -> Problem:
    """Stage 0 (few options, goes first in greedy) saves 100 on the cheap slot; stage 1
    saves 1,000."""
    return Problem(
        n_stages=2,
        stage_ptr=np.array([0, 2, 4]),
        units=np.array([1, 1]),
        opt_cost=np.array([100, 200, 500, 1_500]),
        opt_obj=np.array([100, 200, 500, 1_500]),
        opt_compute=np.array([100, 200, 500, 1_500]),
        opt_ub=np.array([1, 1, 1, 1]),
        opt_site=np.array([0, 1, 0, 1]),
        opt_moved=np.zeros(4, dtype=np.bool_),
        use_opt=np.array([0, 2]),
        use_res=np.array([0, 0]),
        use_amt=np.array([1, 1]),
        res_cap=np.array([1]),
        res_names=("cheap",),
        site_names=("a", "b"),
        site_provider=("p", "q"),
        site_cloud=(False, False),
    )


@settings(max_examples=25, deadline=None, derandomize=True)
@given(portfolios())
def test_random_portfolios_through_the_api_verified(case) -> None:  # type: ignore[no-untyped-def]
    """``planner.plan(solver="lp")`` end to end: the independent verifier accepts the plan
    (``solve`` runs it), it costs no less than CP-SAT's optimum, and where no plan places
    every workload the partial-plan fallback hands over to a backend that can (lp
    cannot); where partial plans are needed from the start, ``lp`` is refused with a hint
    (like ``lns``)."""
    p, cat = case
    exact = solve(p, [cat], all_or_nothing=True)
    mine = solve(p, [cat], solver="lp", all_or_nothing=True, time_limit_s=5)
    if exact.status is SolveStatus.OPTIMAL and mine.placements:
        assert mine.totals.total_usd >= exact.totals.total_usd
    try:  # partial plans allowed: verified too, or refused like lns when they are needed
        solve(p, [cat], solver="lp", time_limit_s=5)
    except InputError as err:
        assert "cannot make partial plans" in str(err)


def test_starts_past_the_deadline_stop_once_one_fits() -> None:
    # Past the deadline a start that breaks a rule (both stages on the one-unit resource)
    # does not stop the search; once one fits, later starts that take time are not made,
    # but one that takes none (greedy's plan, made before the LP) still is: with no time
    # left the LP's fill was returned and greedy's cheaper plan never looked at.
    from planner.solvers.lp_strategy import _best_in_time

    problem = _tiny_capacity_problem()
    made: list[str] = []

    def start(name: str, x: list[int], seconds: float = 0.0
              ) -> tuple[Callable[[], IntArray], float]:
        def make() -> IntArray:
            made.append(name)
            return np.array(x)
        return make, seconds

    starts = [start("broken", [1, 0, 1, 0]), start("fits", [1, 0, 0, 1]),
              start("as cheap", [0, 1, 1, 0], 5.0), start("made already", [0, 1, 0, 1])]
    assert violations(problem, np.array([1, 0, 1, 0]))
    late = Deadline.after(0.0)
    got = _best_in_time(problem, starts, late)
    assert got is not None and problem.objective(got) <= problem.objective(np.array([1, 0, 0, 1]))
    assert made == ["broken", "fits", "made already"]
    made.clear()  # without a deadline (deterministic mode) every start is made
    assert _best_in_time(problem, starts, None).tolist() == [1, 0, 0, 1]  # type: ignore[union-attr]
    assert made == ["broken", "fits", "as cheap", "made already"]
    made.clear()  # a minute left: a start of an hour is not made once one fits, nor any
    # start that takes time after it
    slow = [start("broken", [1, 0, 1, 0], 3600.0), start("fits", [1, 0, 0, 1], 3600.0),
            start("slow", [0, 1, 1, 0], 3600.0), start("quick", [0, 1, 1, 0], 1.0)]
    assert _best_in_time(problem, slow, Deadline.after(60.0)) is not None
    assert made == ["broken", "fits"]


def test_starts_that_break_a_rule_are_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the deadline, each start is checked against the rules once: keeping the broken
    ones and checking them all again before each next start was k²/2 checks of 0.7 s at
    hard l."""
    from planner.solvers import lp_strategy

    problem = _tiny_capacity_problem()
    checked: list[int] = []
    real = lp_strategy.violations

    def counted(p: Problem, x: IntArray) -> list[str]:
        checked.append(1)
        return real(p, x)

    monkeypatch.setattr(lp_strategy, "violations", counted)
    broken = [(lambda: np.array([1, 0, 1, 0]), 1.0) for _ in range(8)]
    assert lp_strategy._best_in_time(problem, broken, Deadline.after(0.0)) is None
    assert len(checked) <= 8


@pytest.mark.parametrize("polishes", [True, False])
def test_above_the_polish_s_size_a_sample_s_ascent_has_the_bound_s_whole_time(
        monkeypatch: pytest.MonkeyPatch, polishes: bool) -> None:
    """Above ``lp_max_options`` the bound is dual ascent's, then the exact LP on the options
    near their stage's best; above ``polish_max_options`` (hard xl) that LP is not tried
    and the ascent on a sample of the stages gets its time."""
    problem = _scaled_rows_problem(0)
    shares: list[tuple[str, float]] = []
    tried: list[bool] = []
    real_ascent, real_polish = lp_strategy.dual_ascent, lp_strategy.polish
    real_sampled = lp_strategy.sampled_ascent

    def ascent(p: Problem, deadline: Deadline, lam0: np.ndarray | None = None) -> object:
        shares.append(("whole", deadline.remaining() / 4.0))
        return real_ascent(p, deadline, lam0)

    def sampled(p: Problem, deadline: Deadline, options: int) -> object:
        shares.append(("sample", deadline.remaining() / 4.0))
        assert options == config.sample_options
        return real_sampled(p, deadline, options)

    def polish(*args: object) -> object:
        tried.append(True)
        return real_polish(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(lp_strategy, "dual_ascent", ascent)
    monkeypatch.setattr(lp_strategy, "sampled_ascent", sampled)
    monkeypatch.setattr(lp_strategy, "polish", polish)
    config = LpConfig(polish_max_options=problem.n_options if polishes else 0,
                      sample_options=problem.n_options // 4)
    lp = lp_strategy._large_lp(problem, Deadline.after(4.0), config, None, 0.0)
    assert len(shares) == 1 and lp.bound is not None
    if polishes:
        assert shares[0][0] == "whole" and tried
        assert shares[0][1] == pytest.approx(config.ascent_share, abs=0.02)
    else:
        assert shares[0][0] == "sample" and not tried
        assert shares[0][1] == pytest.approx(1.0, abs=0.02)
        # a warm start (the second placement) goes on from the multipliers it is given
        shares.clear()
        lp_strategy._large_lp(problem, Deadline.after(4.0), config, lp.lam, 0.0)
        assert [kind for kind, _share in shares] == ["whole"]
