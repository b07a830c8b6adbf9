"""The bundled catalog snapshots in catalogs/ load, span US/EU/Asia, use the GPU vocabulary,
cover the required GPU families and are sorted without duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.catalog.load import LoadedCatalog, load_catalog_dir
from planner.catalog.schema import SCHEMA_VERSION
from planner.gpus import GPU_MODELS
from planner.jurisdictions import region_country

REQUIRED_GPUS = {
    "aws": {"H100", "A100-40GB", "A100-80GB", "L4", "A10G", "T4", "V100", "V100-32GB"},
    "azure": {"H100", "A100-40GB", "A100-80GB", "A10", "T4", "V100", "V100-32GB"},
}
ASIA = {"JP", "SG", "IN", "KR", "HK", "AU"}
EU = {"DE", "IE", "NL", "SE", "FR", "GB"}


@pytest.fixture(scope="module")
def catalogs() -> dict[str, LoadedCatalog]:
    repo = Path(__file__).resolve().parents[2]
    loaded = load_catalog_dir(repo / "catalogs")
    return {c.catalog.provider: c for c in loaded}


def test_both_providers_load(catalogs: dict[str, LoadedCatalog]) -> None:
    assert set(catalogs) == {"aws", "azure"}
    for c in catalogs.values():
        assert c.catalog.schema_version == SCHEMA_VERSION
        assert c.catalog.fetched_at.tzinfo is not None
        assert c.catalog.source.apis and c.catalog.source.note
        assert 150 <= len(c.catalog.rows) <= 400


@pytest.mark.parametrize("provider", ["aws", "azure"])
def test_regions_span_us_eu_asia(catalogs: dict[str, LoadedCatalog], provider: str) -> None:
    cat = catalogs[provider].catalog
    assert len(cat.regions) >= 8
    assert {r.region for r in cat.rows} == set(cat.regions)
    countries = {r.country for r in cat.rows}
    assert "US" in countries and countries & EU and countries & ASIA
    for row in cat.rows:
        assert row.country == region_country(provider, row.region), row.instance_type


@pytest.mark.parametrize("provider", ["aws", "azure"])
def test_gpu_names_and_families(catalogs: dict[str, LoadedCatalog], provider: str) -> None:
    rows = catalogs[provider].catalog.rows
    models = {r.gpu_model for r in rows if r.gpu_model}
    assert models <= set(GPU_MODELS), models - set(GPU_MODELS)
    assert REQUIRED_GPUS[provider] <= models, REQUIRED_GPUS[provider] - models
    for r in rows:
        if r.gpu_model:
            assert r.gpu_count > 0 and r.gpu_vendor == "nvidia"
            per_gpu = GPU_MODELS[r.gpu_model].memory_gib
            assert r.gpu_memory_gib == pytest.approx(per_gpu * r.gpu_count, abs=0.1)
        else:
            assert r.gpu_count == 0 and r.gpu_memory_gib == 0


@pytest.mark.parametrize("provider", ["aws", "azure"])
def test_rows_sorted_and_unique(catalogs: dict[str, LoadedCatalog], provider: str) -> None:
    keys = [(r.region, r.instance_type) for r in catalogs[provider].catalog.rows]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("provider", ["aws", "azure"])
def test_prices_are_plausible(catalogs: dict[str, LoadedCatalog], provider: str) -> None:
    for r in catalogs[provider].catalog.rows:
        assert r.price_per_hour is not None and r.price_per_hour > 0
        if r.spot_price_per_hour is not None:
            assert r.spot_price_per_hour < r.price_per_hour, r.instance_type


def test_regional_price_differences(catalogs: dict[str, LoadedCatalog]) -> None:
    prices = {(r.region, r.instance_type): r.price_per_hour for r in catalogs["aws"].catalog.rows}
    base = prices[("us-east-1", "g5.xlarge")]
    assert base is not None
    frankfurt = prices[("eu-central-1", "g5.xlarge")]
    tokyo = prices[("ap-northeast-1", "g5.xlarge")]
    assert frankfurt is not None and tokyo is not None
    assert base < frankfurt < tokyo
    assert prices[("us-east-1", "p5.48xlarge")] == prices[("us-west-2", "p5.48xlarge")]


def test_egress_defaults(catalogs: dict[str, LoadedCatalog]) -> None:
    assert str(catalogs["aws"].catalog.egress.internet_per_gb) == "0.09"
    assert str(catalogs["azure"].catalog.egress.internet_per_gb) == "0.087"
    for c in catalogs.values():
        assert str(c.catalog.egress.same_provider_per_gb) == "0.02"
