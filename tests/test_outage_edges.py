"""Outages at the horizon's edges: a maintenance that began before the horizon or ends
after it counts for the part inside (solver, plan and verifier alike); one wholly
outside the horizon is refused at its path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from builders import NOW, portfolio, small_catalog, solve, training, workload

from planner.compile.resolve import build_world
from planner.errors import InputError
from planner.models.portfolio import Portfolio
from planner.whatif import Scenario, apply_scenario

HORIZON = {"horizon": {"start": "2027-01-01", "end": "2027-04-01"}}
SITE = "onprem:frankfurt"


def _fraud(outages: list[dict[str, Any]]) -> Portfolio:
    """Training needs 4 nodes × 130 h at once at Frankfurt (its data may not leave)."""
    offer = {"id": "dgx-a100", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 128,
             "memory_gib": 1024, "price_per_hour": 20, "nodes": 4, "outages": outages}
    w = workload("fraud-eu", [training(hours=130, gpus=32, nodes=4)], home=SITE,
                 sites=[SITE])
    return portfolio([w], settings=HORIZON,
                     onprem=[{"id": SITE, "country": "DE", "offers": [offer]}])


def test_an_outage_from_before_the_horizon_holds_the_gang_until_it_ends() -> None:
    p = _fraud([{"from": "2026-12-20", "to": "2027-01-10", "nodes": 1}])
    plan = solve(p)  # the verifier counts the outage cut to the horizon too
    [run] = plan.placements
    assert run.start is not None and run.start >= 9 * 24
    [pool] = plan.schedule
    assert [(o.start, o.end, o.amount) for o in pool.outages] == [
        (Decimal(0), Decimal(9 * 24), 1)]


def test_an_outage_past_the_horizon_end_counts_up_to_the_end() -> None:
    end = (31 + 28 + 31) * 24
    p = _fraud([{"from": "2027-01-01", "to": "2027-03-20", "nodes": 1},
                {"from": "2027-03-27", "to": "2027-05-01", "nodes": 1}])
    plan = solve(p)  # 130 h between 20 and 27 March
    [run] = plan.placements
    assert run.start is not None and 78 * 24 <= run.start <= 85 * 24 - 130
    [pool] = plan.schedule
    assert (pool.outages[-1].start, pool.outages[-1].end) == (Decimal(85 * 24), Decimal(end))


@pytest.mark.parametrize(("span", "field"), [
    ({"from": "2027-04-01", "to": "2027-04-05"}, "from"),
    ({"from": "2026-11-01", "to": "2027-01-01"}, "from"),
])
def test_an_outage_wholly_outside_the_horizon_is_refused(span: dict[str, str],
                                                         field: str) -> None:
    with pytest.raises(ValueError) as err:
        _fraud([{**span, "nodes": 1}])
    text = str(err.value)
    assert f"onprem.0.offers.0.outages.0.{field}" in text and "outside the horizon" in text


def test_a_scenario_outage_across_the_horizon_end_is_cut_not_refused() -> None:
    p = _fraud([])
    world = build_world(p, [small_catalog()], now=NOW)
    changed, _ = apply_scenario(p, world, Scenario(name="x", outages=[
        {"site": SITE, "offer": "dgx-a100", "from": "2027-03-25", "to": "2027-05-01",
         "nodes": 1}]), 0)
    assert len(changed.onprem[0].offers[0].outages) == 1
    with pytest.raises(InputError) as err:
        apply_scenario(p, world, Scenario(name="x", outages=[
            {"site": SITE, "offer": "dgx-a100", "from": "2027-04-02", "to": "2027-05-01",
             "nodes": 1}]), 0)
    assert err.value.path == "scenarios[0].outages[0].from"
    assert "outside the horizon" in str(err.value)


def test_outages_that_overlap_before_the_horizon_are_named_at_its_start() -> None:
    with pytest.raises(ValueError) as err:
        _fraud([{"from": "2026-12-20", "to": "2027-01-10", "nodes": 3},
                {"from": "2026-12-25", "to": "2027-01-05", "nodes": 2}])
    text = str(err.value)
    assert "overlap at the horizon start (2026-12-2" in text and "00:00:00" not in text
