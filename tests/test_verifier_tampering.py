"""The verifier trusts nothing a plan says about itself.

Each test starts from a real plan of examples/hospital-group.yaml, changes one thing
the plan says (a label, a resource row, a total, the solver report, the status) and
asserts the specific violation. On main before this change every one of them passed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from planner import api
from planner.catalog.load import LoadedCatalog
from planner.compile.resolve import build_world
from planner.inputs.digest import input_digest
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio
from planner.models.world import World
from planner.verify.check import Violation, verify

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def inputs() -> tuple[Portfolio, list[LoadedCatalog], World]:
    portfolio = api.load_portfolio(REPO / "examples" / "hospital-group.yaml")
    catalogs = api.load_catalogs(REPO / "catalogs")
    return portfolio, catalogs, build_world(portfolio, catalogs, now=NOW)


@pytest.fixture(scope="module")
def real(inputs: tuple[Portfolio, list[LoadedCatalog], World]) -> Plan:
    portfolio, catalogs, _ = inputs
    plan = api.plan(portfolio, catalogs, solver="cpsat", time_limit_s=20, now=NOW,
                    reproducible=True)
    assert plan.feasible and len(plan.placements) >= 10
    return plan


def tampered(plan: Plan, change: Callable[[dict[str, Any]], None]) -> Plan:
    """The plan as JSON, changed by ``change``, validated again (as `planner verify` reads it)."""
    data = plan.model_dump(mode="json")
    change(data)
    return Plan.model_validate(data)


def rules(violations: list[Violation]) -> set[tuple[str, str]]:
    return {(v.rule, v.where) for v in violations}


def index_of(plan: Plan, provider: str) -> int:
    return next(i for i, p in enumerate(plan.placements) if p.provider == provider)


def test_real_plan_verifies(inputs: tuple[Portfolio, list[LoadedCatalog], World],
                            real: Plan) -> None:
    portfolio, _, world = inputs
    assert verify(portfolio, world, real) == []
    assert real.inputs is not None and real.resources


def test_relabelling_aws_as_onprem_cannot_hide_a_concentration_breach(
        inputs: tuple[Portfolio, list[LoadedCatalog], World], real: Plan) -> None:
    portfolio, _, world = inputs
    aws = sum((p.cost.compute_usd for p in real.placements if p.provider == "aws"), Decimal(0))
    share = (aws / real.totals.compute_usd * Decimal("0.9")).quantize(Decimal("0.01"))
    tight = portfolio.model_copy(update={"settings": portfolio.settings.model_copy(
        update={"max_provider_share": share})})
    digest = input_digest(tight, world).model_dump()

    def hide(data: dict[str, Any]) -> None:
        data["inputs"] = digest  # a tamperer can recompute the digest too
        by_provider = data["totals"]["by_provider"]
        for p in data["placements"]:
            if p["provider"] == "aws":
                p["provider"] = "onprem"
        by_provider["onprem"] = str(Decimal(by_provider["onprem"])
                                    + Decimal(by_provider.pop("aws")))

    honest = tampered(real, lambda d: d.update(inputs=digest))
    assert {v.rule for v in verify(tight, world, honest)} == {"concentration"}
    found = verify(tight, world, tampered(real, hide))
    i = index_of(real, "aws")
    assert ("concentration", "aws") in rules(found)
    assert ("label", f"placements[{i}] ({real.placements[i].workload}/"
                     f"{real.placements[i].stage}).provider") in rules(found)
    assert ("totals", "totals.by_provider") in rules(found)


@pytest.mark.parametrize(("field", "value"), [
    ("country", "US"), ("region", "us-east-1"), ("team", "someone-else"),
    ("kind", "testing"), ("gpu_model", "T4"), ("gpus_per_instance", "1")])
def test_changed_placement_label_is_a_violation(
        inputs: tuple[Portfolio, list[LoadedCatalog], World], real: Plan, field: str,
        value: str) -> None:
    portfolio, _, world = inputs
    i = next(i for i, p in enumerate(real.placements) if p.gpu_model and p.kind.value ==
             "training")
    plan = tampered(real, lambda d: d["placements"][i].update({field: value}))
    found = verify(portfolio, world, plan)
    p = real.placements[i]
    assert ("label", f"placements[{i}] ({p.workload}/{p.stage}).{field}") in rules(found)


def test_near_zero_resource_use_is_a_violation(
        inputs: tuple[Portfolio, list[LoadedCatalog], World], real: Plan) -> None:
    portfolio, _, world = inputs
    k = max(range(len(real.resources)), key=lambda k: real.resources[k].utilization)
    assert real.resources[k].utilization > 0.1

    def shrink(data: dict[str, Any]) -> None:
        data["resources"][k].update(used_unit_hours="0.001", utilization=0.000001)

    found = rules(verify(portfolio, world, tampered(real, shrink)))
    where = f"resources[{k}] ({real.resources[k].resource})"
    assert found == {("resources", f"{where}.used_unit_hours"),
                     ("resources", f"{where}.utilization")}


def test_resource_rows_must_match_capacity_and_be_complete(
        inputs: tuple[Portfolio, list[LoadedCatalog], World], real: Plan) -> None:
    portfolio, _, world = inputs
    first = real.resources[0].resource
    bigger = tampered(real, lambda d: d["resources"][0].update(capacity_unit_hours="999999.000"))
    assert ("resources", f"resources[0] ({first}).capacity_unit_hours") in rules(
        verify(portfolio, world, bigger))
    dropped = tampered(real, lambda d: d["resources"].pop(0))
    found = verify(portfolio, world, dropped)
    assert [v.rule for v in found] == ["resources"] and first in found[0].message
    extra = tampered(real, lambda d: d["resources"].append(
        {**d["resources"][0], "resource": "offer:onprem:berlin-dc/nope"}))
    assert any("no placement uses" in v.message for v in verify(portfolio, world, extra))


def test_gap_must_follow_from_objective_and_bound(
        inputs: tuple[Portfolio, list[LoadedCatalog], World], real: Plan) -> None:
    portfolio, _, world = inputs
    assert real.solver.objective_usd is not None

    def lower_bound(data: dict[str, Any]) -> None:
        data["solver"]["bound_usd"] = str(Decimal(data["solver"]["objective_usd"]) * 9 / 10)

    found = rules(verify(portfolio, world, tampered(real, lower_bound)))
    assert found == {("solver.gap", "solver.gap"), ("solver.gap", "status")}
    found = rules(verify(portfolio, world, tampered(
        real, lambda d: d["solver"].update(gap=0.25))))
    assert found == {("solver.gap", "solver.gap")}


def test_status_and_placements_must_agree(
        inputs: tuple[Portfolio, list[LoadedCatalog], World], real: Plan) -> None:
    portfolio, _, world = inputs
    flipped = tampered(real, lambda d: d.update(status="infeasible"))
    found = rules(verify(portfolio, world, flipped))
    assert ("status", "status") in found and ("status", "solver.status") in found
    missing = tampered(real, lambda d: d["placements"].pop(0))
    p = real.placements[0]
    assert ("coverage", f"{p.workload}/{p.stage}") in rules(verify(portfolio, world, missing))


def test_flipping_to_infeasible_with_no_placements_is_refuted(
        inputs: tuple[Portfolio, list[LoadedCatalog], World], real: Plan) -> None:
    """A consistent "no plan exists" claim passes the pure checks; re-solving refutes it."""
    portfolio, catalogs, world = inputs

    def give_up(data: dict[str, Any]) -> None:
        zero = "0"
        data.update(status="infeasible", placements=[], resources=[], schedule=[],
                    moves=[])
        data["solver"].update(status="infeasible", objective_usd=None, bound_usd=None, gap=None)
        data["totals"].update(compute_usd=zero, egress_usd=zero, migration_usd=zero,
                              total_usd=zero, spot_risk_usd=zero, preference_usd=zero,
                              by_provider={}, by_site={}, by_team={}, by_kind={})

    claim = tampered(real, give_up)
    assert verify(portfolio, world, claim) == []
    result = api.verify_report(portfolio, claim, catalogs, time_limit_s=10, workers=2)
    assert result.confirmed is None
    assert [v.rule for v in result.violations] == ["conflicts"]
    assert "a plan exists with every rule in force" in result.violations[0].message
    assert api.verify_plan(portfolio, claim, catalogs) == result.violations


def test_totals_by_team_use_the_portfolio(
        inputs: tuple[Portfolio, list[LoadedCatalog], World], real: Plan) -> None:
    portfolio, _, world = inputs

    def move_cost(data: dict[str, Any]) -> None:
        teams = data["totals"]["by_team"]
        a, b = sorted(teams)[:2]
        teams[a], teams[b] = teams[b], teams[a]

    assert ("totals", "totals.by_team") in rules(verify(portfolio, world,
                                                        tampered(real, move_cost)))
