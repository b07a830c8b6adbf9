"""Artifact transfer between sites (``stages[].transfer_hours``): a stage that runs at a site
its predecessor did not run at starts that much later after the predecessor ends.

Two on-prem sites in Germany: ``onprem:a`` with 4 GPU nodes at $4/h and ``onprem:b`` with
one node at $1/h. Training needs a gang of 2 nodes, so it runs at ``a``; testing (one node,
10 h, ``transfer_hours: 6``) is cheaper at ``b`` but can start there only 6 h after
training ends (the model is copied first).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from test_time_cuts import _two_jobs

from planner.compile.resolve import build_world
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio
from planner.models.timing import Precedence
from planner.solvers.schedule_check import schedule_violations
from planner.solvers.schedule_shift import schedule_list
from planner.verify.check import verify
from tests.builders import NOW, portfolio, small_catalog, solve, training, workload


def _node(site: str, nodes: int, price: str) -> dict[str, Any]:
    return {"id": site, "country": "DE", "offers": [{
        "id": "gpu", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 128,
        "memory_gib": 1024, "nodes": nodes, "price_per_hour": price}]}


def _portfolio(testing_deadline: int, transfer: float = 6) -> Portfolio:
    stages = [training(hours=20, gpus=16, nodes=2),
              {**training(hours=10, gpus=8), "kind": "testing", "deadline": testing_deadline,
               "transfer_hours": transfer}]
    return portfolio([workload("fraud", stages, home="onprem:a",
                               sites=["onprem:a", "onprem:b"])],
                     settings={"horizon": {"start": "2027-01-01"}, "period_hours": 100},
                     onprem=[_node("onprem:a", 4, "4"), _node("onprem:b", 1, "1")])


def _by_stage(plan: Plan) -> dict[str, Any]:
    return {p.stage: p for p in plan.placements}


@pytest.mark.parametrize("solver", ["cpsat", "greedy"])
def test_the_artifact_is_copied_before_a_stage_runs_elsewhere(solver: str) -> None:
    plan = solve(_portfolio(testing_deadline=40), solver=solver)
    got = _by_stage(plan)
    assert got["training"].site == "onprem:a" and got["testing"].site == "onprem:b"
    assert got["testing"].start >= got["training"].end + 6
    why = " ".join(got["testing"].why)
    assert "artifact is copied from onprem:a (6 h)" in why


@pytest.mark.parametrize("solver", ["cpsat", "greedy"])
def test_a_tight_deadline_keeps_the_stage_where_its_artifact_is(solver: str) -> None:
    # At b testing would end at 20 + 6 + 10 = 36 > 33: it stays at a, right after training.
    plan = solve(_portfolio(testing_deadline=33), solver=solver)
    got = _by_stage(plan)
    assert got["testing"].site == "onprem:a"
    assert got["testing"].start == got["training"].end == 20


def test_without_a_transfer_time_the_stage_moves_at_once() -> None:
    got = _by_stage(solve(_portfolio(testing_deadline=33, transfer=0)))
    assert got["testing"].site == "onprem:b" and got["testing"].start == 20


def test_the_verifier_counts_the_transfer() -> None:
    p = _portfolio(testing_deadline=40)
    plan = solve(p)
    i = next(k for k, q in enumerate(plan.placements) if q.stage == "testing")
    early = list(plan.placements)
    early[i] = early[i].model_copy(update={"start": early[i].start - 3,
                                           "end": early[i].end - 3})
    found = verify(p, build_world(p, [small_catalog()], now=NOW),
                   plan.model_copy(update={"placements": early}))
    precedence = [v for v in found if v.rule == "precedence"]
    assert len(precedence) == 1
    assert "copied to onprem:b (6 h, `transfer_hours`)" in precedence[0].message


def test_the_gap_counts_the_transfer_only_when_a_site_is_new() -> None:
    problem, timing = _two_jobs()
    arc = Precedence(0, 1, lag=1, transfer=5)
    timing = dataclasses.replace(timing, precedence=(arc,))
    two_sites = dataclasses.replace(problem, opt_site=np.array([0, 0, 1]))
    assert timing.gap(two_sites, np.array([1, 1, 0]), arc) == 1  # both at site 0
    assert timing.gap(two_sites, np.array([1, 0, 1]), arc) == 6  # the second at site 1
    assert arc.most == 6


def test_list_scheduling_waits_for_the_transfer_only_at_another_site() -> None:
    problem, timing = _two_jobs()
    problem = dataclasses.replace(problem, opt_site=np.array([0, 0, 1]))
    timing = dataclasses.replace(timing, horizon=30, due=np.array([30, 30]),
                                 precedence=(Precedence(0, 1, transfer=5),))
    same = schedule_list(problem, timing, np.array([1, 1, 0]))
    elsewhere = schedule_list(problem, timing, np.array([1, 0, 1]))
    assert same[1].tolist() == [0, 10] and elsewhere[1].tolist() == [0, 15]
    for x, start in (same, elsewhere):
        assert not schedule_violations(problem, timing, x, start)
