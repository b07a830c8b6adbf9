"""The Azure price parser on real Retail Prices API records (``../shared/reference``).

Five European regions as the API returned them on 2026-08-22, mess included:
Spot and Low Priority meters beside on-demand, Cloud Services and Dedicated Host
meters, one VM under two sku spellings, rows without ``savingsPlanPrice``.
The data is read in place, never copied into the repository; the tests skip
(with the reason) only when the folder is absent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from planner.catalog.schema import CatalogRow, RowSource
from planner.providers.azure.items import RegionPrices, select_prices
from planner.providers.azure.rows import keyless_region_rows
from planner.providers.azure.sizes import load_size_table
from planner.providers.azure.skus import load_gpu_families

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "azure-retail-2026-08"
REGIONS = ("belgiumcentral", "francecentral", "northeurope", "swedencentral", "westeurope")

pytestmark = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"real Azure retail records not found at {REFERENCE} (../shared/reference "
           "relative to the repository root)")


@cache
def items(region: str) -> tuple[dict[str, Any], ...]:
    data = json.loads((REFERENCE / f"{region}.json").read_text("utf-8"))
    return tuple(data["Items"])


@cache
def prices(region: str) -> RegionPrices:
    return select_prices(region, items(region), rename=load_size_table().name)


@cache
def rows(region: str) -> dict[str, CatalogRow]:
    source = RowSource(kind="import", ref="reference", fetched_at=datetime(2026, 8, 22, tzinfo=UTC))
    result = keyless_region_rows(region, "SE", prices(region), load_gpu_families(),
                                 load_size_table(), source)
    names = [r.instance_type for r in result.rows]
    assert len(names) == len(set(names)), "one row per VM size"
    return {r.instance_type: r for r in result.rows}


@pytest.mark.parametrize("region", REGIONS)
def test_every_region_parses(region: str) -> None:
    got = prices(region)
    assert got.items == len(items(region)) > 1000
    assert len(got.on_demand) > 500 and len(got.spot) > 500
    assert all(p > 0 for p in got.on_demand.values())
    # savings plans are cheaper than pay-as-you-go, where both exist
    assert got.commit_1y and all(got.commit_1y[s] <= got.on_demand[s] for s in got.commit_1y)
    assert rows(region)


def test_on_demand_and_spot_of_gpu_sizes() -> None:
    nd = rows("swedencentral")["Standard_ND96isr_H100_v5"]  # compact spelling ND96isrH100v5
    assert (nd.price_per_hour, nd.spot_price_per_hour) == (Decimal("127.816"), Decimal("23.620397"))
    assert (nd.gpu_model, nd.gpu_count, nd.vcpus) == ("H100", 8, 96)
    a100 = rows("swedencentral")["Standard_NC24ads_A100_v4"]
    # on-demand 4.775, spot 1.464492; the Low Priority meter (0.955) is not a spot price
    assert (a100.price_per_hour, a100.spot_price_per_hour) == (Decimal("4.775"),
                                                               Decimal("1.464492"))
    assert a100.gpu_model == "A100-80GB"


def test_low_priority_is_never_used() -> None:
    low = {Decimal(str(i["retailPrice"])) for i in items("swedencentral")
           if "Low Priority" in i["skuName"]}
    got = prices("swedencentral")
    assert got.low_priority
    for size, price in got.spot.items():
        if size in got.low_priority:
            assert price != got.low_priority[size]
    assert not low & {r.spot_price_per_hour for r in rows("swedencentral").values()} - {None}


def test_two_spellings_of_one_size_merge() -> None:
    """``Standard_ND96amsr_A100_v4`` and ``ND96amsA100v4`` price the same VM."""
    spellings = {i["skuName"] for i in items("swedencentral") if "A100v4" in i["skuName"]
                 or "ND96amsr_A100" in i["skuName"]}
    assert {"ND96amsA100v4", "Standard_ND96amsr_A100_v4"} <= spellings
    got = prices("swedencentral")
    assert [s for s in got.on_demand if "ND96ams" in s] == ["Standard_ND96amsr_A100_v4"]
    row = rows("swedencentral")["Standard_ND96amsr_A100_v4"]
    assert (row.price_per_hour, row.spot_price_per_hour) == (Decimal("40.962"),
                                                             Decimal("10.65012"))
    assert (row.gpu_model, row.gpu_count) == ("A100-80GB", 8)


def test_cloud_services_and_dedicated_hosts_are_not_vm_sizes() -> None:
    got = prices("swedencentral")
    # Dedicated Host meters ("Dsv5 Type1", product "… Dedicated Host"/"… DedicatedHost")
    assert not [n for n in got.on_demand if "Type" in n]
    # "B16als v2" is priced 0.624 as Cloud Services and 0.551 as a VM: the VM price counts
    assert got.on_demand["Standard_B16als_v2"] == Decimal("0.551")
    assert got.on_demand["Standard_B2ats_v2"] == Decimal("0.00972")


def test_savings_plan_becomes_commit_1y() -> None:
    a100 = rows("westeurope")["Standard_NC24ads_A100_v4"]
    # the "bundled 3.97" for this size is this savings-plan price, not on-demand
    assert (a100.price_per_hour, a100.commit_1y_per_hour) == (Decimal("4.775"),
                                                              Decimal("3.97471"))
    assert a100.commit_3y_per_hour is None  # the records do not give a 3-year price
    assert rows("swedencentral")["Standard_ND96isr_H100_v5"].commit_1y_per_hour is None


@pytest.mark.parametrize(("size", "model", "count"), [
    ("Standard_NC40ads_H100_v5", "H100", 1), ("Standard_NC80adis_H100_v5", "H100", 2),
    ("Standard_ND96isr_H200_v5", "H200", 8), ("Standard_ND96isr_MI300X_v5", "MI300X", 8),
    ("Standard_NC16as_T4_v3", "T4", 1), ("Standard_NV36ads_A10_v5", "A10", 1),
])
def test_gpu_families_mapped(size: str, model: str, count: int) -> None:
    row = rows("northeurope").get(size) or rows("swedencentral")[size]
    assert (row.gpu_model, row.gpu_count) == (model, count)
    assert row.gpu_memory_gib > 0 and row.gpu_vendor


def test_odd_rows_do_not_crash() -> None:
    """Every real item with one field removed or set to junk still parses."""
    sample = [i for i in items("westeurope") if "A100" in i["skuName"]][:12]
    odd: list[Any] = []
    for item in sample:
        for key in item:
            odd.append({k: v for k, v in item.items() if k != key})
            for junk in (None, "", "n/a", [], {}, -1, True):
                odd.append({**item, key: junk})
    odd += [{}, {"Items": []}, "not an item", None, 42]
    got = select_prices("westeurope", odd, rename=load_size_table().name)
    assert all(p > 0 for p in got.on_demand.values())
