"""Every backend against brute-force enumeration on small random instances (≤ 8 stages,
≤ 4 options each, every side constraint drawn: edges, co-location, spread, budgets,
provider share caps, move caps; shared sites of cloud and on-prem providers; costs up
to ~1e12 micro-dollars), and random portfolios end to end through the verifier.

For every backend: a plan passes the shared feasibility check and brute force's own
check; CP-SAT equals brute force; greedy and ``lns`` (exact-batch path on a serial
executor, and the large-component path) cost at least the optimum or decline with
``unknown``; every bound is at most the optimum. The diagnosis finds a conflicting set
exactly when brute force finds no plan."""

from __future__ import annotations

from bruteforce import brute_force, feasible, problems
from builders import catalog, portfolio, row, solve, training, workload
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.models.problem import Problem
from planner.models.status import SolveStatus
from planner.parallel import SerialExecutor
from planner.solvers.base import Backend, Solution, SolveOptions
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.diagnosis import _core, _deletion_filter, _feasible, _guarded_model
from planner.solvers.feasibility import violations
from planner.solvers.greedy import GreedyBackend
from planner.solvers.lns import LnsBackend, LnsConfig

FOUND = (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


def _check_heuristic(problem: Problem, sol: Solution, expected: int | None) -> None:
    """A heuristic's answer: a verified plan no cheaper than the optimum, or a decline."""
    if sol.status in FOUND:
        assert expected is not None and sol.objective is not None
        assert violations(problem, sol.x) == []
        assert feasible(problem, sol.x)
        assert sol.objective == problem.objective(sol.x) >= expected
        assert sol.bound is not None and sol.bound <= expected
        if sol.status is SolveStatus.OPTIMAL:
            assert sol.objective == expected
    elif sol.status is SolveStatus.INFEASIBLE:
        assert expected is None
    else:
        assert sol.status is SolveStatus.UNKNOWN and sol.objective is None
        assert not sol.x.any()
        assert expected is None or sol.bound is None or sol.bound <= expected


@settings(max_examples=150, deadline=None, derandomize=True)
@given(problems())
def test_cpsat_matches_brute_force(problem: Problem) -> None:
    expected = brute_force(problem)
    sol = CpSatBackend().solve(problem, SolveOptions(time_limit_s=5, workers=1))
    if expected is None:
        assert sol.status is SolveStatus.INFEASIBLE
        return
    assert sol.status is SolveStatus.OPTIMAL
    assert sol.objective == sol.bound == expected
    assert feasible(problem, sol.x) and violations(problem, sol.x) == []


@settings(max_examples=150, deadline=None, derandomize=True)
@given(problems())
def test_greedy_is_feasible_or_gives_up_never_wrong(problem: Problem) -> None:
    _check_heuristic(problem, GreedyBackend().solve(problem, SolveOptions()),
                     brute_force(problem))


def _lns(config: LnsConfig, problem: Problem, limit: float) -> Solution:
    backend: Backend = LnsBackend(config, executor=SerialExecutor())
    return backend.solve(problem, SolveOptions(time_limit_s=limit, workers=1))


@settings(max_examples=80, deadline=None, derandomize=True)
@given(problems())
def test_lns_exact_batches_never_wrong(problem: Problem) -> None:
    _check_heuristic(problem, _lns(LnsConfig(executor="serial"), problem, 5.0),
                     brute_force(problem))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(problems(max_stages=6, max_options=3))
def test_lns_large_component_path_never_wrong(problem: Problem) -> None:
    config = LnsConfig(executor="serial", small_options=0, sub_time_s=0.2)
    _check_heuristic(problem, _lns(config, problem, 0.7), brute_force(problem))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(problems(max_stages=5, max_options=3))
def test_diagnosis_conflicts_exactly_when_brute_force_finds_nothing(problem: Problem) -> None:
    expected = brute_force(problem)
    guarded = _guarded_model(problem)
    options = SolveOptions(time_limit_s=5, workers=1)
    rules = sorted(guarded.literals)
    if expected is not None:
        assert _feasible(guarded, rules, options) is True
        return
    core = _core(guarded, options)
    assert core is not None
    if not core:  # infeasible without any relaxable rule (e.g. too few units of room)
        assert _feasible(guarded, [], options) is False
        return
    minimal, complete = _deletion_filter(guarded, core, options)
    assert complete and _feasible(guarded, minimal, options) is False
    for name in minimal:
        assert _feasible(guarded, [n for n in minimal if n != name], options) is True


REGIONS = [("eu-central-1", "DE"), ("eu-west-1", "IE"), ("us-east-1", "US"),
           ("ap-northeast-1", "JP")]


@st.composite
def portfolios(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    rows = []
    for region, country in REGIONS:
        for model, gpus in (("A100-80GB", 8), ("L4", 1), ("H100", 8)):
            if draw(st.booleans()):
                price = draw(st.integers(1, 90))
                spot = str(max(1, price // 3)) if draw(st.booleans()) else None
                rows.append(row(region, f"g.{model.lower()}.{gpus}", str(price), gpu=model,
                                gpus=gpus, vcpus=96, mem=1024, spot=spot, country=country))
    if not rows:
        rows.append(row("us-east-1", "g.l4.1", "1", gpu="L4", gpus=1, country="US"))
    cat = catalog(rows)
    sites = sorted({f"aws:{r['region']}" for r in rows})
    quotas = [{"site": s, "gpu_model": m, "gpus": draw(st.integers(0, 24))}
              for s in sites for m in ("A100-80GB", "H100") if draw(st.booleans())]
    workloads = []
    for i in range(draw(st.integers(1, 4))):
        res = draw(st.sampled_from([{}, {"jurisdictions": ["EU"]}, {"countries": ["US"]},
                                    {"jurisdictions": ["GDPR-ADEQUATE"]}]))
        models = draw(st.sampled_from([{"A100-80GB": 1.0}, {"H100": 2.0, "A100-80GB": 1.0},
                                       {"L4": 1.0}]))
        stages = [training(hours=draw(st.integers(1, 600)), gpus=draw(st.sampled_from([1, 8])),
                           models=models, spot=draw(st.booleans()))]
        workloads.append(workload(f"w{i}", stages, home=draw(st.sampled_from(sites)),
                                  size_gb=draw(st.integers(0, 5000)), **res))
    return portfolio(workloads, cloud={"providers": ["aws"], "quotas": quotas}), cat


def _partial_agrees(p, cat) -> None:  # type: ignore[no-untyped-def]
    """Partial plans (the default): verified; CP-SAT places a workload set no smaller than
    greedy's, and an infeasible verdict only when no workload can be placed."""
    exact = solve(p, [cat])
    greedy = solve(p, [cat], solver="greedy")
    placed = {q.workload for q in exact.placements}
    assert exact.status in (SolveStatus.OPTIMAL, SolveStatus.PARTIAL, SolveStatus.INFEASIBLE)
    assert len(placed) + len(exact.dropped) == len(p.workloads) or not placed
    if greedy.feasible:
        assert len({q.workload for q in greedy.placements}) <= len(placed)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(portfolios())
def test_random_portfolios_verified_and_agree(case) -> None:  # type: ignore[no-untyped-def]
    p, cat = case
    _partial_agrees(p, cat)
    exact = solve(p, [cat], all_or_nothing=True)  # solve() runs the independent verifier
    greedy = solve(p, [cat], solver="greedy", all_or_nothing=True)
    if exact.status is SolveStatus.INFEASIBLE:
        assert not exact.placements
        assert greedy.status in (SolveStatus.INFEASIBLE, SolveStatus.UNKNOWN)
    else:
        assert exact.status is SolveStatus.OPTIMAL
        if greedy.placements:
            assert greedy.totals.total_usd >= exact.totals.total_usd


@settings(max_examples=300, deadline=None, derandomize=True)
@given(problems(), st.data())
def test_the_shared_check_agrees_with_brute_force_on_any_assignment(
        problem: Problem, data: st.DataObject) -> None:
    # Random assignments, most of them broken (units, capacity, side constraints): the
    # check over the placed options' rows says a plan is one exactly when brute force's
    # own check over every row does.
    import numpy as np

    x = np.array(data.draw(st.lists(st.integers(0, 3), min_size=problem.n_options,
                                    max_size=problem.n_options)), dtype=np.int64)
    if data.draw(st.booleans()):  # every stage's units on one of its options
        x[:] = 0
        for s in range(problem.n_stages):
            r = problem.options_of(s)
            if len(r):
                x[data.draw(st.sampled_from(list(r)))] = int(problem.units[s])
    complete = not problem.funding and bool((x <= problem.opt_ub).all()) and all(
        int(x[problem.options_of(s)].sum()) == int(problem.units[s])
        for s in range(problem.n_stages))
    assert (violations(problem, x) == []) == (complete and feasible(problem, x))
