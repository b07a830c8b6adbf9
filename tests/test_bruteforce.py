"""CP-SAT against brute-force enumeration on small random instances (≤ 8 stages, ≤ 4
options each), and random portfolios end to end through the verifier."""

from __future__ import annotations

from bruteforce import brute_force, problems
from builders import catalog, portfolio, row, solve, training, workload
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.models.status import SolveStatus
from planner.solvers.base import Problem, SolveOptions
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.greedy import GreedyBackend


@settings(max_examples=150, deadline=None, derandomize=True)
@given(problems())
def test_cpsat_matches_brute_force(problem: Problem) -> None:
    expected = brute_force(problem)
    sol = CpSatBackend().solve(problem, SolveOptions(time_limit_s=5, workers=1))
    if expected is None:
        assert sol.status is SolveStatus.INFEASIBLE
        return
    assert sol.status is SolveStatus.OPTIMAL
    assert sol.objective == expected
    assert int((problem.opt_cost * sol.x).sum()) == expected


@settings(max_examples=150, deadline=None, derandomize=True)
@given(problems())
def test_greedy_is_feasible_or_gives_up_never_wrong(problem: Problem) -> None:
    expected = brute_force(problem)
    sol = GreedyBackend().solve(problem, SolveOptions())
    if sol.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        assert expected is not None and sol.objective is not None
        assert sol.objective >= expected
        assert sol.bound is not None and sol.bound <= expected
    if sol.status is SolveStatus.INFEASIBLE:
        assert expected is None


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


@settings(max_examples=60, deadline=None, derandomize=True)
@given(portfolios())
def test_random_portfolios_verified_and_agree(case) -> None:  # type: ignore[no-untyped-def]
    p, cat = case
    exact = solve(p, [cat])  # solve() runs the independent verifier
    greedy = solve(p, [cat], solver="greedy")
    if exact.status is SolveStatus.INFEASIBLE:
        assert not exact.placements
        assert greedy.status in (SolveStatus.INFEASIBLE, SolveStatus.UNKNOWN)
    else:
        assert exact.status is SolveStatus.OPTIMAL
        if greedy.placements:
            assert greedy.totals.total_usd >= exact.totals.total_usd
