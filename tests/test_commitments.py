"""Commitment prices (1-/3-year savings plans or reserved instances) as purchase options.

Only always-on inference (hours ≥ the planning period) may use them, only when
``settings.allow_commitments`` is set, and only where the catalog row has the price. They are
priced per hour over the planning period (the commitment outlives it). Every plan here goes
through the independent verifier (``builders.solve``)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from builders import NOW, catalog, portfolio, row, solve, training, workload

from planner.api import commitments_left
from planner.catalog.load import LoadedCatalog
from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.models.plan import Plan
from planner.models.world import Purchase
from planner.verify.check import verify
from planner.whatif import Scenario, apply_scenario


def _row(itype: str, price: str, c1: str | None = None, c3: str | None = None,
         **kw: Any) -> dict[str, Any]:
    r = row("us-east-1", itype, price, gpu="T4", gpus=1, vcpus=4, mem=16, country="US", **kw)
    r.update(commit_1y_per_hour=c1, commit_3y_per_hour=c3)
    return r


def _catalog(*rows: dict[str, Any]) -> LoadedCatalog:
    return catalog([*rows, row("us-east-1", "m.cpu", "0.40", vcpus=8, mem=32, country="US")])


ONE_YEAR = _catalog(_row("g.t4", "1.00", c1="0.62"))


def _inference(hours: float = 730, replicas: int = 1, **kw: Any) -> dict[str, Any]:
    return {"kind": "inference", "gpu": {"models": {"T4": 1.0}, "count": 1}, "vcpus": 4,
            "memory_gib": 16, "hours": hours, "replicas": replicas, **kw}


def _portfolio(*stages: dict[str, Any], allow: bool = True) -> Any:
    return portfolio([workload("w", list(stages))],
                     settings={"allow_commitments": allow, "period_hours": 730})


def test_commit_1y_is_chosen_for_always_on_inference_only_when_allowed() -> None:
    off = solve(_portfolio(_inference(), allow=False), [ONE_YEAR])
    on = solve(_portfolio(_inference(), allow=True), [ONE_YEAR])
    assert [p.purchase for p in off.placements] == [Purchase.ON_DEMAND]
    assert [p.purchase for p in on.placements] == [Purchase.COMMIT_1Y]
    # priced per hour over the period: 0.62 $/h × 730 h, against 1.00 × 730 on demand
    assert off.placements[0].cost.compute_usd == Decimal("730")
    assert on.placements[0].cost.compute_usd == Decimal("0.62") * 730
    assert on.totals.total_usd < off.totals.total_usd
    assert any("commit_1y" in w and "outlives" in w for w in on.placements[0].why)


def test_the_cheaper_term_wins_and_replicas_are_priced_per_replica() -> None:
    cat = _catalog(_row("g.t4", "1.00", c1="0.62", c3="0.41"))
    plan = solve(_portfolio(_inference(replicas=3)), [cat])
    assert {p.purchase for p in plan.placements} == {Purchase.COMMIT_3Y}
    assert plan.totals.compute_usd == Decimal("0.41") * 730 * 3


@pytest.mark.parametrize("stage", [
    _inference(hours=400),  # not always-on
    training(hours=730, gpus=1, models={"T4": 1.0}, vcpus=4, memory_gib=16),  # not inference
], ids=["part-time-inference", "training"])
def test_no_commitment_for_stages_that_do_not_run_the_whole_period(stage: dict[str, Any]
                                                                   ) -> None:
    plan = solve(_portfolio(stage), [ONE_YEAR])
    assert [p.purchase for p in plan.placements] == [Purchase.ON_DEMAND]


def test_no_commitment_without_the_catalog_price() -> None:
    plan = solve(_portfolio(_inference()), [_catalog(_row("g.t4", "1.00"))])
    assert [p.purchase for p in plan.placements] == [Purchase.ON_DEMAND]


def test_a_commitment_cheaper_per_hour_still_loses_to_a_cheaper_on_demand_offer() -> None:
    cat = _catalog(_row("g.t4", "1.00", c1="0.62"), _row("g.t4b", "0.55"))
    plan = solve(_portfolio(_inference()), [cat])
    assert [(p.offer, p.purchase) for p in plan.placements] == [("g.t4b", Purchase.ON_DEMAND)]


@pytest.mark.parametrize(("allow", "hours"), [(False, 730), (True, 400)],
                         ids=["not-allowed", "not-always-on"])
def test_verifier_rejects_a_commitment_the_inputs_do_not_admit(allow: bool, hours: int
                                                               ) -> None:
    """A plan that claims commit_1y where the portfolio does not allow it (or the stage is
    not always-on) is caught, even with the cost rewritten to match the claim."""
    p = _portfolio(_inference(hours=hours), allow=allow)
    plan = solve(p, [ONE_YEAR])
    data = plan.model_dump(mode="json")
    placement = data["placements"][0]
    assert placement["purchase"] == "on_demand"
    placement["purchase"] = "commit_1y"
    tampered = Plan.model_validate(data)
    world = build_world(p, [ONE_YEAR], now=NOW)
    assert "purchase.commitment" in {v.rule for v in verify(p, world, tampered)}


def test_verifier_recomputes_the_commitment_cost() -> None:
    p = _portfolio(_inference())
    plan = solve(p, [ONE_YEAR])
    data = plan.model_dump(mode="json")
    data["placements"][0]["cost"]["compute_usd"] = "730.000000"  # the on-demand price
    tampered = Plan.model_validate(data)
    world = build_world(p, [ONE_YEAR], now=NOW)
    assert "cost.compute" in {v.rule for v in verify(p, world, tampered)}


def test_commitments_priced_alike_with_and_without_pruned_options() -> None:
    cat = _catalog(_row("g.t4", "1.00", c1="0.62", c3="0.41"), _row("g.t4b", "0.90", c1="0.70"))
    p = portfolio([workload("a", [_inference(replicas=2, min_sites=1, split=True)]),
                   workload("b", [_inference(hours=300)]),
                   workload("c", [_inference()])],
                  settings={"allow_commitments": True})
    world = build_world(p, [cat], now=NOW)
    full = generate(p, world)
    fast = generate(p, world, keep_pruned_options=False)
    assert list(fast.options) == list(full.options)
    purchases = {o.purchase for o in full.options}
    assert {Purchase.COMMIT_1Y, Purchase.COMMIT_3Y, Purchase.ON_DEMAND} <= purchases
    a, b = build_problem(full, world), build_problem(fast, world)
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray):
            assert np.array_equal(va, vb), f.name


def test_whatif_price_change_scales_commitment_prices() -> None:
    p = _portfolio(_inference())
    world = build_world(p, [ONE_YEAR], now=NOW)
    sc = Scenario.model_validate({"name": "up", "price_multipliers": [
        {"provider": "aws", "gpu_model": "T4", "factor": 2}]})
    _, changed = apply_scenario(p, world, sc)
    offer = changed.offer("aws:us-east-1", "g.t4")
    assert offer is not None and offer.commit_1y_per_hour == Decimal("1.24")


def test_a_re_plan_that_drops_a_commitment_warns() -> None:
    """A re-plan switched every commit_3y of the previous plan to on-demand and said
    nothing, though a commitment's term outlives the period."""
    plan = solve(portfolio([workload("w", [training()])]))
    p = plan.placements[0]
    before = plan.model_copy(update={"placements": [
        p.model_copy(update={"purchase": Purchase.COMMIT_3Y})]})
    (warning,) = commitments_left(before, plan)
    assert warning.startswith(f"w/training: the previous plan's commit_3y on {p.site}/")
    assert "still owed" in warning
    assert commitments_left(before, before) == []
    more = before.model_copy(update={"placements": [before.placements[0].model_copy(
        update={"instances": p.instances + 2})]})
    (partly,) = commitments_left(more, before)  # 3 committed instances, 1 kept
    assert f"keeps {p.instances} of its {p.instances + 2} instances" in partly
