"""The bundled catalog snapshots in catalogs/ load, use the GPU vocabulary, cover the
required GPU families (today's accelerators included), are sorted without duplicates, carry
per-row provenance with no estimated row, and are exactly what catalogs/build_snapshot.py
builds from the transcription tables."""

from __future__ import annotations

import csv
import importlib.util
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from planner.catalog.load import LoadedCatalog, load_catalog_dir
from planner.catalog.schema import SCHEMA_VERSION
from planner.providers.egress import egress_rules
from planner.vocab.gpus import GPU_MODELS
from planner.vocab.jurisdictions import region_country

REQUIRED_GPUS = {
    "aws": {"B200", "H200", "H100", "A100-40GB", "A100-80GB", "L40S", "L4", "A10G", "T4",
            "V100", "V100-32GB", "Trainium", "Inferentia2"},
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
        assert 50 <= len(c.catalog.rows) <= 400


def test_aws_regions_span_us_eu_asia(catalogs: dict[str, LoadedCatalog]) -> None:
    cat = catalogs["aws"].catalog
    assert len(cat.regions) >= 8
    countries = {r.country for r in cat.rows}
    assert "US" in countries and countries & EU and countries & ASIA


@pytest.mark.parametrize("provider", ["aws", "azure"])
def test_regions_and_countries(catalogs: dict[str, LoadedCatalog], provider: str) -> None:
    cat = catalogs[provider].catalog
    assert {r.region for r in cat.rows} == set(cat.regions)
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
            assert r.gpu_count > 0 and r.gpu_vendor == GPU_MODELS[r.gpu_model].vendor
            # Memory per GPU is the vocabulary's, except H100 NVL (94 GB) sizes on Azure.
            per_gpu = r.gpu_memory_gib / r.gpu_count
            assert per_gpu == pytest.approx(GPU_MODELS[r.gpu_model].memory_gib, abs=0.1) or (
                r.gpu_model == "H100" and per_gpu == pytest.approx(94)), r.instance_type
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


def test_legacy_egress_field_agrees_with_the_egress_table(
        catalogs: dict[str, LoadedCatalog]) -> None:
    """The bundled snapshots keep the old flat egress field (unpriced, see
    build_snapshot.EGRESS); it must not tell a reader something the table contradicts."""
    for provider, c in catalogs.items():
        legacy = c.catalog.egress
        assert legacy is not None
        default = egress_rules(provider).entry.default
        assert legacy.internet_per_gb == default.internet_per_gb
        assert legacy.same_provider_per_gb == default.same_continent_per_gb


@pytest.mark.parametrize("provider", ["aws", "azure"])
def test_every_row_names_its_source(catalogs: dict[str, LoadedCatalog], provider: str) -> None:
    """No row without provenance: each names how, from where and when its prices were read."""
    refs = {r["ref"] for r in _sources()}
    for r in catalogs[provider].catalog.rows:
        assert r.source is not None, r.instance_type
        assert r.source.kind == "transcribed" and r.source.ref in refs, r.instance_type


@pytest.mark.parametrize("provider", ["aws", "azure"])
def test_no_spot_or_commitment_price_without_its_source(
        catalogs: dict[str, LoadedCatalog], provider: str) -> None:
    """The transcriptions hold on-demand prices only: a spot price would need the time it was
    the lowest across the region's zones, which the transcribed source does not give."""
    for r in catalogs[provider].catalog.rows:
        assert r.spot_price_per_hour is None and r.spot_price_at is None, r.instance_type
        assert r.commit_1y_per_hour is None and r.commit_3y_per_hour is None, r.instance_type


def test_azure_bundles_no_estimated_region(catalogs: dict[str, LoadedCatalog]) -> None:
    """The old bundle priced non-US Azure regions as eastus x a guessed factor and reused
    eastus for southcentralus; only regions with transcribed prices remain, and
    southcentralus carries its own (higher) prices."""
    cat = catalogs["azure"].catalog
    assert set(cat.regions) == {"eastus", "eastus2", "southcentralus", "westus2"}
    price = {(r.region, r.instance_type): r.price_per_hour for r in cat.rows}
    assert price[("southcentralus", "Standard_NC24ads_A100_v4")] == Decimal("4.408")
    assert price[("eastus", "Standard_NC24ads_A100_v4")] == Decimal("3.673")


def test_bundle_is_what_build_snapshot_builds() -> None:
    """catalogs/*.json are reproducible from catalogs/transcribed/ (no hand edits)."""
    build = _build_module()
    for provider in ("aws", "azure"):
        built = build.serialize_catalog(build.build_catalog(provider))
        assert built == (REPO / "catalogs" / f"{provider}.json").read_bytes(), provider


def test_build_snapshot_rejects_a_source_that_disagrees_with_the_family_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = _build_module()
    table = tmp_path / "aws.csv"
    table.write_text("instance_type,accelerator,accelerator_count,vcpus,memory_gib,region,"
                     "price_per_hour,source\n"
                     "p5.48xlarge,A100,8,192,2048.0,us-east-1,55.04,sky-aws-v8\n")
    (tmp_path / "sources.csv").write_bytes(
        (REPO / "catalogs" / "transcribed" / "sources.csv").read_bytes())
    monkeypatch.setattr(build, "TRANSCRIBED", tmp_path)
    with pytest.raises(ValueError, match="family table says H100"):
        build.build_catalog("aws")


REPO = Path(__file__).resolve().parents[2]


def _sources() -> list[dict[str, str]]:
    path = REPO / "catalogs" / "transcribed" / "sources.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_snapshot", REPO / "catalogs" / "build_snapshot.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
