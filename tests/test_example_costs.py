"""The hospital example's costs, computed by hand from the catalog prices.

The explain snapshots (tests/snapshots/, test_views_cli.py) are regenerated with
``UPDATE_SNAPSHOTS=1`` whenever the wording changes; that must never bless a more
expensive plan. So the placements and costs they show are pinned here to numbers written
out from first principles: catalog price × hours × instances, egress GB × the source's
price per GB (from planner/data/egress.json), on-prem amortization. None of the planner's
pricing code is used.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from example_plans import CATALOGS, plan_json

from planner.models.plan import Placement, Plan

D = Decimal
PERIOD = D(730)  # settings.period_hours
EGRESS_TABLE = Path(__file__).resolve().parent.parent / "planner" / "data" / "egress.json"


@cache
def rows(provider: str) -> dict[tuple[str, str], dict[str, str]]:
    data = json.loads((CATALOGS / f"{provider}.json").read_text("utf-8"))
    return {(r["region"], r["instance_type"]): r for r in data["rows"]}


def price(provider: str, region: str, itype: str, *, spot: bool = False) -> Decimal:
    r = rows(provider)[(region, itype)]
    return D(r["spot_price_per_hour" if spot else "price_per_hour"])


def egress(provider: str) -> dict[str, Any]:
    """The provider's entry of the sourced egress table (planner/data/egress.json)."""
    data = json.loads((EGRESS_TABLE).read_text("utf-8"))
    return data["providers"][provider]  # type: ignore[no-any-return]


def internet(provider: str) -> Decimal:
    return D(egress(provider)["default"]["internet_per_gb"])


# us-east-1 → us-east-2: egress.json lists only us-east-2 → us-east-1 as a pair, so the
# default inter-region rate applies (same continent)
AWS_SAME = D(egress("aws")["default"]["same_continent_per_gb"])
BERLIN_OUT = D("0.01")  # onprem:berlin-dc egress.internet_per_gb
# dgx-a100: 250,000 $ over 5 × 8,760 h, 8.5 kW × 0.28 $/kWh, 1.5 $/h opex
DGX_PER_HOUR = D(250_000) / (5 * 8760) + D("8.5") * D("0.28") + D("1.5")

EXPECTED = {
    # sepsis-eu: EU only; the test set (120 GB) and the 4 GB model leave Berlin at 0.01 $/GB
    ("sepsis-eu", "training", "onprem:berlin-dc", "dgx-a100"): DGX_PER_HOUR * 160,
    ("sepsis-eu", "testing", "aws:eu-central-1", "g6.xlarge"):
        price("aws", "eu-central-1", "g6.xlarge") * 24 + 120 * BERLIN_OUT + 4 * BERLIN_OUT,
    # two replicas in Stockholm, one in Dublin; 60 GB of responses, 20 per replica
    ("sepsis-eu", "inference", "aws:eu-north-1", "g4dn.xlarge"):
        2 * (price("aws", "eu-north-1", "g4dn.xlarge") * PERIOD + 20 * internet("aws"))
        + 4 * BERLIN_OUT,
    ("sepsis-eu", "inference", "aws:eu-west-1", "g4dn.xlarge"):
        price("aws", "eu-west-1", "g4dn.xlarge") * PERIOD + 20 * internet("aws")
        + 4 * BERLIN_OUT,
    # sepsis-us: A100-80GB at speed 1.0 → 200 h next to its data in us-east-1 (the bundle
    # has no spot prices, so the spot-allowed stages run on demand)
    ("sepsis-us", "training", "aws:us-east-1", "p4de.24xlarge"):
        price("aws", "us-east-1", "p4de.24xlarge") * 200,
    ("sepsis-us", "testing", "aws:us-east-1", "g6.xlarge"):
        price("aws", "us-east-1", "g6.xlarge") * 30,
    # three replicas: two in us-east-1 beside the model, one in us-east-2 (4 GB model moves)
    ("sepsis-us", "inference", "aws:us-east-1", "g4dn.xlarge"):
        2 * (price("aws", "us-east-1", "g4dn.xlarge") * PERIOD + D(80) / 3 * internet("aws")),
    ("sepsis-us", "inference", "aws:us-east-2", "g4dn.xlarge"):
        price("aws", "us-east-2", "g4dn.xlarge") * PERIOD + D(80) / 3 * internet("aws")
        + 4 * AWS_SAME,
    ("radiology-triage", "training", "onprem:berlin-dc", "dgx-a100"): DGX_PER_HOUR * 300,
    ("radiology-triage", "inference", "aws:eu-north-1", "g4dn.xlarge"):
        price("aws", "eu-north-1", "g4dn.xlarge") * PERIOD + 1 * BERLIN_OUT,
    ("bed-forecast", "training", "onprem:berlin-dc", "cpu-r740"): D("0.62") * 12,
    ("bed-forecast", "inference", "aws:eu-north-1", "m6i.xlarge"):
        price("aws", "eu-north-1", "m6i.xlarge") * PERIOD,
}


def key(p: Placement) -> tuple[str, str, str, str]:
    return (p.workload, p.stage, p.site, p.offer)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan.model_validate_json(plan_json("hospital-group"))


def test_hospital_places_every_stage_where_the_hand_calculation_says(plan: Plan) -> None:
    assert sorted(map(key, plan.placements)) == sorted(EXPECTED)


@pytest.mark.parametrize("where", sorted(EXPECTED), ids="/".join)
def test_hospital_placement_cost_by_hand(plan: Plan, where: tuple[str, ...]) -> None:
    p = next(p for p in plan.placements if key(p) == where)
    assert abs(p.cost.total_usd - EXPECTED[where]) < D("0.000001") * 10, p.cost


def test_hospital_total_by_hand(plan: Plan) -> None:
    total = sum(EXPECTED.values(), D(0))
    assert abs(plan.totals.total_usd - total) < D("0.0001")
    assert f"{total:,.2f}" == "12,920.92"  # the total the explain snapshot shows
