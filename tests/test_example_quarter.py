"""The quarter-deadlines example: a dated horizon, a maintenance outage, gangs, a go-live
and a soft deadline; the on-prem pod is saturated over the quarter, so the job with a
go-live goes to the cloud while its sensitive test stays on-prem."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from example_plans import CATALOGS, EXAMPLES, plan_json

from planner import api
from planner.models.plan import Plan
from planner.solvers.base import Deadline

POD = "offer:onprem:frankfurt-dc/dgx-a100"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan.model_validate_json(plan_json("quarter-deadlines"))  # verified when made


def _at(plan: Plan, workload: str, stage: str) -> list:  # type: ignore[type-arg]
    return [p for p in plan.placements if (p.workload, p.stage) == (workload, stage)]


def test_every_workload_is_planned_and_the_pod_never_overflows(plan: Plan) -> None:
    assert plan.status.value == "optimal" and not plan.dropped
    pod = next(s for s in plan.schedule if s.resource == POD)
    assert pod.capacity == 2 and pod.peak <= 2
    assert [(w.start, w.end, w.amount) for w in pod.outages] == [
        (Decimal(840), Decimal(1008), 1)]


def test_the_claims_gang_runs_after_the_maintenance_and_meets_its_deadline(plan: Plan) -> None:
    (train,) = _at(plan, "claims-de", "training")
    assert train.site == "onprem:frankfurt-dc" and train.nodes_per_replica == 2
    assert train.start is not None and train.start >= 1008  # the week-6 outage ends at 1008
    assert train.end_at is not None and train.end_at <= datetime(2027, 3, 26, tzinfo=UTC)


def test_radiology_trains_in_the_cloud_tests_on_prem_and_goes_live_on_1_march(
        plan: Plan) -> None:
    (train,) = _at(plan, "radiology-screen", "training")
    (test,) = _at(plan, "radiology-screen", "testing")
    live = _at(plan, "radiology-screen", "inference")
    assert train.provider != "onprem" and test.site == "onprem:frankfurt-dc"
    assert train.end is not None and test.start is not None and test.start >= train.end
    assert all(p.start_at == datetime(2027, 3, 1, tzinfo=UTC) for p in live)
    assert test.end is not None and test.end <= live[0].start  # tested before go-live
    assert all(p.hours == Decimal(840) for p in live)  # billed from go-live to the end


def test_every_start_says_why_then(plan: Plan) -> None:
    assert all(p.why[-1].startswith("when:") for p in plan.placements)
    (test,) = _at(plan, "radiology-screen", "testing")
    assert "full until then" in test.why[-1]



def test_a_limit_spent_before_the_solve_still_writes_the_scheduled_start() -> None:
    """With ``--time-limit 1`` the command's start-up took the whole second and the exact
    path ended with no plan (exit 7): the greedy placement does not run as placed, and its
    repair had no time. It now gets a short grace, and the plan says it is the start (the
    verifier has passed it: ``api.plan`` raises otherwise)."""
    portfolio = api.load_portfolio(EXAMPLES["quarter-deadlines"])
    got = api.plan(portfolio, api.load_catalogs(CATALOGS), deadline=Deadline.after(0.0))
    assert got.feasible and len(got.placements) == 7
    assert "the greedy start, scheduled" in (got.solver.detail or "")
