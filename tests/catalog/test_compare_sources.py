"""catalogs/compare_sources.py checks bundled rows against their sources: the bundle matches a
verbatim excerpt of the AWS source it was transcribed from, a tampered price is flagged, and
on real Azure Retail Prices records the old bundle's estimated European prices are caught."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from planner.catalog.load import load_catalog_dir
from planner.catalog.schema import CatalogRow

REPO = Path(__file__).resolve().parents[2]
EXCERPT = REPO / "tests" / "fixtures" / "catalogs" / "skypilot-aws-v8-excerpt.csv"
REFERENCE = REPO.parent / "shared" / "reference" / "azure-retail-2026-08"


@pytest.fixture(scope="module")
def cs() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "compare_sources", REPO / "catalogs" / "compare_sources.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def _bundled(provider: str) -> list[CatalogRow]:
    (loaded,) = [c for c in load_catalog_dir(REPO / "catalogs") if c.catalog.provider == provider]
    return list(loaded.catalog.rows)


def test_bundle_matches_the_source_excerpt(cs: ModuleType) -> None:
    prices = cs.skypilot_prices(EXCERPT)
    assert prices[("us-east-1", "p5.48xlarge")] == {Decimal("55.04")}  # zones collapse
    results = cs.compare(_bundled("aws"), prices, Decimal("0.005"))
    compared = [c for c in results if c.source is not None]
    assert len(compared) == len(prices) == 11
    assert all(c.ok and c.ratio == 1 for c in compared)
    text, ok = cs.report(results)
    assert ok and "compared 11 of 274 sampled rows: 11 match, 0 differ" in text


def test_a_tampered_price_is_flagged(cs: ModuleType) -> None:
    rows = _bundled("aws")
    i = next(i for i, r in enumerate(rows) if (r.region, r.instance_type)
             == ("us-east-1", "p5.48xlarge"))
    rows[i] = rows[i].model_copy(update={"price_per_hour": Decimal("98.32")})  # pre-cut
    results = cs.compare(rows, cs.skypilot_prices(EXCERPT), Decimal("0.005"))
    (bad,) = [c for c in results if not c.ok]
    assert (bad.region, bad.instance_type, bad.source) == ("us-east-1", "p5.48xlarge",
                                                           Decimal("55.04"))
    assert cs.report(results)[1] is False


def test_main_exit_status(cs: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert cs.main(["--provider", "aws", "--skypilot", str(EXCERPT), "--sample", "0"]) == 0
    assert "11 match, 0 differ" in capsys.readouterr().out
    assert cs.main(["--provider", "aws"]) == 2


def test_sample_is_reproducible(cs: ModuleType) -> None:
    rows = _bundled("aws")
    first = cs.sample(rows, 10, seed=3)
    assert first == cs.sample(list(reversed(rows)), 10, seed=3) and len(first) == 10
    assert cs.sample(rows, 0, seed=3) == sorted(rows, key=lambda r: (r.region, r.instance_type))


def _old_estimate(region: str, size: str, price: str) -> CatalogRow:
    return CatalogRow(provider="azure", region=region, instance_type=size, family="x",
                      vcpus=2, memory_gib=8.0, price_per_hour=Decimal(price), country="SE",
                      source=None)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data absent: {REFERENCE}")
def test_old_estimated_azure_prices_are_caught_on_real_records(cs: ModuleType) -> None:
    """Rows of the previous bundle (eastus price x a guessed regional factor, commit 4e85c34)
    against the real Retail Prices API records of 2026-08: all too low by 8-17 %."""
    prices = cs.azure_retail_prices(sorted(REFERENCE.glob("*.json")))
    old = [_old_estimate("swedencentral", "Standard_NC24ads_A100_v4", "3.9668"),
           _old_estimate("westeurope", "Standard_NC24ads_A100_v4", "4.224"),
           _old_estimate("northeurope", "Standard_NC4as_T4_v3", "0.5733")]
    results = cs.compare(old, prices, Decimal("0.005"))
    assert [c.source for c in results] == [Decimal("4.775"), Decimal("4.775"), Decimal("0.587")]
    assert not any(c.ok for c in results)
    assert all(Decimal("0.8") < c.ratio < Decimal("0.98") for c in results)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data absent: {REFERENCE}")
def test_retail_parser_skips_spot_low_priority_and_cloud_services(cs: ModuleType) -> None:
    prices = cs.azure_retail_prices(sorted(REFERENCE.glob("*.json")))
    # swedencentral NC24ads_A100_v4 has on-demand 4.775, Low Priority 0.955 and Spot meters
    assert prices[("swedencentral", "Standard_NC24ads_A100_v4")] == {Decimal("4.775")}
    # D2ads_v5 is also sold as a Cloud Services product at another price
    assert prices[("westeurope", "Standard_D2ads_v5")] == {Decimal("0.125")}


def test_the_bundle_prices_no_region_of_the_reference(cs: ModuleType) -> None:
    """The Azure bundle holds US regions only; the European reference cannot overlap it, so
    a comparison reports rows as not in the source rather than as matches."""
    regions = {r.region for r in _bundled("azure")}
    assert regions.isdisjoint({"westeurope", "northeurope", "swedencentral", "francecentral",
                               "belgiumcentral"})
    assert datetime(2026, 8, 22, tzinfo=UTC) < min(
        r.source.fetched_at for r in _bundled("azure") if r.source)
