"""Placements may say when they run (``start``/``end``, hours from the period start); the
verifier then checks capacity at every instant, not only per period.

The example of the issue: 4 nodes; one stage holds 3 for the whole period, another 2 for
half of it. Per period that fits (300 + 100 ≤ 400 node-hours) and the solver places
both; at any time the second one runs, 5 nodes are needed at once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.models.plan import Placement, Plan
from planner.plans.build import build_plan
from planner.solvers.base import SolveOptions
from planner.solvers.cpsat import CpSatBackend
from planner.verify.base import Checked
from planner.verify.capacity import _peak
from planner.verify.check import Violation, verify
from tests.builders import NOW, portfolio, small_catalog, solve, training, workload

NODE = {"id": "onprem:dc", "country": "DE", "offers": [{
    "id": "gpu", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 128,
    "memory_gib": 1024, "nodes": 4, "price_per_hour": "1"}]}


def _pair(onprem: list[dict[str, Any]] | None = None, **cloud: Any) -> Any:
    """Stage ``big`` holds 3 nodes (24 GPUs) for 100 h, ``half`` 2 nodes for 50 h."""
    home = "onprem:dc" if onprem else "aws:us-east-1"
    sites = ["onprem:dc"] if onprem else ["aws:us-east-1"]
    return portfolio(
        [workload("big", [training(hours=100, gpus=24, nodes=3)], home=home, sites=sites),
         workload("half", [training(hours=50, gpus=16, nodes=2)], home=home, sites=sites)],
        settings={"period_hours": 100}, onprem=onprem or [], **cloud)


def timed(plan: Plan, times: dict[str, tuple[str, str] | None]) -> Plan:
    """The plan with each workload's placement given the (start, end) in ``times``."""
    def at(p: Placement) -> Placement:
        t = times.get(p.workload)
        if t is None:
            return p
        return p.model_copy(update={"start": Decimal(t[0]), "end": Decimal(t[1])})
    return plan.model_copy(update={"placements": [at(p) for p in plan.placements]})


def check(p: Any, plan: Plan) -> list[Violation]:
    """The verifier on a plan of the placement alone (no horizon: only the times some
    placements carry are claims)."""
    return verify(p, build_world(p, [small_catalog()], now=NOW), plan, allow_untimed=True)


def placed_per_period(p: Any) -> Plan:
    """The plan of the placement alone (capacity per period, no timeline): what the
    planner made before plans had a schedule."""
    world = build_world(p, [small_catalog()], now=NOW)
    cands = generate(p, world)
    problem = build_problem(cands, world)
    options = SolveOptions(time_limit_s=10, workers=1, deterministic=True)
    return build_plan(p, world, cands, problem, CpSatBackend().solve(problem, options),
                      options, reproducible=True)


@pytest.fixture(scope="module")
def onprem() -> tuple[Any, Plan]:
    p = _pair([NODE])
    plan = placed_per_period(p)  # per period it fits, and the verifier agrees
    assert {pl.site for pl in plan.placements} == {"onprem:dc"}
    assert [pl.instances for pl in plan.placements] == [3, 2]
    return p, plan


def test_nodes_in_use_at_once_over_inventory(onprem: tuple[Any, Plan]) -> None:
    p, plan = onprem
    found = check(p, timed(plan, {"big": ("0", "100"), "half": ("50", "100")}))
    assert [(v.rule, v.where, v.message) for v in found] == [
        ("capacity.concurrency", "offer:onprem:dc/gpu at hour 50",
         "5 instances in use at once; 4 exist")]


def test_back_to_back_fits(onprem: tuple[Any, Plan]) -> None:
    p, plan = onprem
    # big runs [0, 100), half [100, 150): the instant 100 belongs to half only
    assert check(p, timed(plan, {"big": ("0", "100"), "half": ("100", "150")})) == []


def test_untimed_placement_counts_as_running_throughout(onprem: tuple[Any, Plan]) -> None:
    p, plan = onprem
    found = check(p, timed(plan, {"half": ("100", "150")}))  # big has no times
    assert [(v.rule, v.where) for v in found] == [
        ("capacity.concurrency", "offer:onprem:dc/gpu at hour 100")]
    assert check(p, plan) == []  # no times at all: no claim, per-period check only


def test_duration_must_match_the_run_hours(onprem: tuple[Any, Plan]) -> None:
    p, plan = onprem
    found = check(p, timed(plan, {"big": ("0", "100"), "half": ("100", "120")}))
    assert [(v.rule, v.where) for v in found] == [
        ("schedule.duration", "placements[1] (half/training)")]
    assert "runs 20 h from 100 to 120; the stage needs 50 h" in found[0].message


def test_gpu_quota_at_once() -> None:
    quota = {"cloud": {"providers": ["aws"], "quotas": [
        {"site": "aws:us-east-1", "gpu_model": "A100-80GB", "gpus": 40}]}}
    p = _pair(**quota)
    plan = placed_per_period(p)  # no timeline: the times below are the only claim
    assert sum(pl.instances * pl.gpus_per_instance for pl in plan.placements) == 40
    assert check(p, timed(plan, {"big": ("0", "100"), "half": ("20", "70")})) == []
    tight = _pair(cloud={"providers": ["aws"], "quotas": [
        {"site": "aws:us-east-1", "gpu_model": "A100-80GB", "gpus": 32}]})
    # 24 + 16 GPUs at hour 20 > 32; per period 2400 + 800 ≤ 3200 GPU-hours fits
    plan = plan.model_copy(update={"inputs": None})
    found = check(tight, timed(plan, {"big": ("0", "100"), "half": ("20", "70")}))
    assert {v.rule for v in found} == {"capacity.concurrency", "resources"}  # quota changed
    assert [(v.rule, v.where, v.message) for v in found if v.rule != "resources"] == [
        ("capacity.concurrency", "gpu:aws:us-east-1/A100-80GB at hour 20",
         "40 GPUs in use at once; 32 exist")]


@pytest.mark.parametrize(("start", "end", "error"), [
    ("10", None, "start and end must be given together"),
    ("10", "10", "must be after start"),
    ("-1", "5", "greater than or equal to 0")])
def test_bad_times_do_not_load(onprem: tuple[Any, Plan], start: str, end: str | None,
                               error: str) -> None:
    _, plan = onprem
    data = plan.model_dump(mode="json")
    data["placements"][0].update(start=start, end=end)
    with pytest.raises(ValidationError, match=error):
        Plan.model_validate(data)


def _placement(start: int | None, length: int, instances: int) -> Placement:
    data = {"workload": "w", "stage": "training", "kind": "training", "team": "t",
            "site": "onprem:dc", "provider": "onprem", "region": "dc", "country": "DE",
            "offer": "gpu", "purchase": "owned", "gpu_model": None, "gpus_per_instance": "0",
            "replicas": 1, "instances": instances, "hours": str(length),
            "cost": {"compute_usd": "0", "egress_usd": "0", "total_usd": "0"}, "why": [],
            "start": None if start is None else str(start),
            "end": None if start is None else str(start + length)}
    return Placement.model_validate(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 20)), st.integers(1, 10),
                          st.integers(1, 5)), min_size=1, max_size=8))
def test_peak_matches_brute_force(jobs: list[tuple[int | None, int, int]]) -> None:
    uses = [(Checked(i, _placement(s, d, n), None, None, None, None),  # type: ignore[arg-type]
             Decimal(n)) for i, (s, d, n) in enumerate(jobs)]
    always = sum(n for s, _, n in jobs if s is None)
    starts = sorted({s for s, _, _ in jobs if s is not None})
    loads = [(t, always + sum(n for s, d, n in jobs if s is not None and s <= t < s + d))
             for t in starts]
    peak = _peak(uses)
    if not starts:
        assert peak is None
        return
    top = max(load for _, load in loads)
    assert peak == (next(t for t, load in loads if load == top), top)


def test_the_planner_no_longer_places_what_never_fits_at_once() -> None:
    """The defect of the issue: 3 nodes for the whole period and 2 for half of it fit per
    period on 4 nodes but never at once; the planner now plans one of them only."""
    plan = solve(_pair([NODE]))
    assert plan.status.value == "partial"
    assert len(plan.placements) == 1 and len(plan.dropped) == 1
    assert plan.schedule and plan.schedule[0].peak <= plan.schedule[0].capacity
