"""Providers as plug-ins (the registry) and egress prices from the sourced table."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from builders import NOW, catalog, portfolio, row, solve, training, workload

import planner.providers as providers_pkg
from planner.catalog.load import load_catalog_dir
from planner.compile.resolve import build_world
from planner.errors import CatalogError, InputError
from planner.models.plan import Plan
from planner.models.portfolio import SITE_PATTERN
from planner.models.world import SiteKind
from planner.providers import registry
from planner.providers.egress import ProviderEgress, egress_rules, egress_table
from planner.verify.check import verify
from planner.vocab.jurisdictions import region_table

D = Decimal
REPO = Path(__file__).resolve().parent.parent


def test_registry_finds_one_provider_per_subpackage() -> None:
    found = registry.providers()
    assert list(found) == ["aws", "azure", "onprem"]
    assert {n: p.kind for n, p in found.items()} == {
        "aws": SiteKind.CLOUD, "azure": SiteKind.CLOUD, "onprem": SiteKind.ONPREM}
    assert list(registry.cloud_providers()) == ["aws", "azure"]
    assert registry.onprem_provider().name == "onprem"
    assert found["aws"].catalog_file == "aws.json" and found["onprem"].catalog_file is None


@pytest.mark.parametrize("name", ["aws", "azure"])
def test_every_cloud_provider_has_egress_rules_regions_and_a_fetcher(name: str) -> None:
    provider = registry.cloud_providers()[name]
    assert provider.egress().provider == name
    assert set(provider.default_regions) <= set(region_table()[name])
    assert provider.fetch is not None and provider.fetch.startswith(f"planner.providers.{name}.")


def test_unknown_provider_names_the_choices() -> None:
    with pytest.raises(InputError, match="unknown provider 'gcpp'") as err:
        registry.get_provider("gcpp", path="cloud.providers[0]")
    assert "aws, azure, onprem" in (err.value.hint or "")


def test_adding_a_provider_is_one_subpackage(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "gcp"
    extra.mkdir()
    (extra / "__init__.py").write_text(
        "from planner.models.world import SiteKind\n"
        "from planner.providers.registry import Provider\n"
        "PROVIDER = Provider(name='gcp', kind=SiteKind.CLOUD, title='Google Cloud',\n"
        "                    default_regions=('us-east1',), fetch='gcp_fetch:fetch_gcp')\n")
    monkeypatch.setattr(providers_pkg, "__path__", [*providers_pkg.__path__, str(tmp_path)])
    registry.providers.cache_clear()
    try:
        assert list(registry.cloud_providers()) == ["aws", "azure", "gcp"]
        assert registry.get_provider("gcp").catalog_file == "gcp.json"
        with pytest.raises(InputError, match="no egress prices for provider 'gcp'"):
            registry.get_provider("gcp").egress()  # the one other thing to add: its egress
    finally:
        sys.modules.pop("planner.providers.gcp", None)
        registry.providers.cache_clear()


def test_site_ids_of_any_provider_pass_the_portfolio_pattern() -> None:
    import re

    assert re.match(SITE_PATTERN, "gcp:us-east1") and re.match(SITE_PATTERN, "onprem:dc-1")
    assert not re.match(SITE_PATTERN, "GCP:us-east1") and not re.match(SITE_PATTERN, "aws")


# ---------------------------------------------------------------- the egress table


def test_every_rate_names_a_public_source_and_the_day_it_was_read() -> None:
    for name, entry in egress_table().providers.items():
        assert entry.sources, name
        for source in entry.sources.values():
            assert source.url.startswith("https://") and source.read_on.year >= 2026
        assert entry.internet_tiers[0].per_gb == entry.default.internet_per_gb


def test_a_rate_citing_an_unlisted_source_is_rejected() -> None:
    data = egress_table().providers["aws"].model_dump(mode="json")
    data["regions"]["us-east-2"]["source"] = ["my-guess"]
    with pytest.raises(ValueError, match=r"\['my-guess'\] are cited but not listed"):
        ProviderEgress.model_validate(data)


@pytest.mark.parametrize(("provider", "src", "dst", "expected"), [
    ("aws", ("us-east-2", "US"), ("us-east-1", "US"), "0.01"),  # a listed pair
    ("aws", ("us-east-1", "US"), ("us-east-2", "US"), "0.02"),  # only one direction sourced
    ("aws", ("eu-central-1", "DE"), ("us-east-1", "US"), "0.02"),
    ("aws", ("eu-central-1", "DE"), ("eu-central-1", "DE"), "0"),
    ("azure", ("eastus", "US"), ("westus2", "US"), "0.02"),  # within North America
    ("azure", ("japaneast", "JP"), ("koreacentral", "KR"), "0.08"),  # within Asia
    ("azure", ("brazilsouth", "BR"), ("chilecentral", "CL"), "0.16"),  # within S. America
])
def test_between_regions(provider: str, src: tuple[str, str], dst: tuple[str, str],
                         expected: str) -> None:
    assert egress_rules(provider).between_regions(src, dst) == D(expected)


def test_internet_rates_are_the_first_paid_tier() -> None:
    assert egress_rules("aws").internet_per_gb("us-east-1", "US") == D("0.09")
    assert egress_rules("azure").internet_per_gb("eastus", "US") == D("0.087")


# ---------------------------------------------------------------- the world and plans


def _us_catalog(egress: dict[str, str] | None = None) -> list:
    cat = catalog([
        row("us-east-1", "g.a100", "30", gpu="A100-80GB", gpus=8, vcpus=96, mem=1024,
            country="US"),
        row("us-east-2", "m.cpu", "0.40", vcpus=8, mem=32, country="US"),
    ])
    if egress is not None:
        cat = type(cat)(cat.path, cat.sha256, cat.catalog.model_copy(
            update={"egress": cat.catalog.egress.model_copy(update=egress)}))
    return [cat]


def test_world_prices_egress_per_region_pair_from_the_table_not_the_catalog() -> None:
    cats = _us_catalog({"same_provider_per_gb": D("5"), "internet_per_gb": D("7")})
    world = build_world(portfolio([workload("w", [training()], home="aws:us-east-2")]), cats)
    east1, east2 = world.sites["aws:us-east-1"], world.sites["aws:us-east-2"]
    assert east2.egress_per_gb_to(east1) == D("0.01")
    assert east1.egress_per_gb_to(east2) == D("0.02")
    assert east1.egress.internet_per_gb == D("0.09")


def test_a_plan_pays_the_listed_pair_price_and_the_verifier_agrees() -> None:
    wl = workload("w", [training(hours=10)], home="aws:us-east-2", size_gb=1000)
    plan = solve(portfolio([wl]), _us_catalog())  # solve() runs the verifier
    (p,) = plan.placements
    assert p.site == "aws:us-east-1"
    assert p.cost.egress_usd == D("10.00")  # 1,000 GB × 0.01 (us-east-2 → us-east-1)


def test_the_verifier_prices_the_pair_too() -> None:
    """A plan claiming the old flat inter-region price for the listed pair is caught."""
    wl = workload("w", [training(hours=10)], home="aws:us-east-2", size_gb=1000)
    p, cats = portfolio([wl]), _us_catalog()
    plan = solve(p, cats)
    data = plan.model_dump(mode="json")
    cost = data["placements"][0]["cost"]
    cost["egress_usd"] = "20.00"  # 1,000 GB × 0.02, the flat rate of old catalogs
    cost["total_usd"] = str(D(cost["compute_usd"]) + D("20.00"))
    found = verify(p, build_world(p, cats, now=NOW), Plan.model_validate(data))
    assert "cost.egress" in {v.rule for v in found}
    (bad,) = [v for v in found if v.rule == "cost.egress"]
    assert bad.message == "plan says 20.00, inputs give 10"  # 1,000 GB × 0.01


def _two_dcs(egress_a: dict[str, str]) -> list[dict]:
    node = {"id": "dgx", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 96,
            "memory_gib": 1024, "nodes": 1, "price_per_hour": 10}
    return [{"id": "onprem:a", "country": "DE", "egress": egress_a, "offers": []},
            {"id": "onprem:b", "country": "DE", "offers": [node]}]


@pytest.mark.parametrize(("egress", "expected"), [
    ({"internet_per_gb": "0.01", "same_provider_per_gb": "0.002"}, "2.00"),  # private link
    ({"internet_per_gb": "0.01"}, "10.00"),  # omitted: the uplink (internet) price
])
def test_onprem_same_provider_price_is_used_between_the_owners_sites(
        egress: dict[str, str], expected: str) -> None:
    wl = workload("w", [training(hours=10)], home="onprem:a", size_gb=1000)
    p = portfolio([wl], onprem=_two_dcs(egress), cloud={"providers": []})
    plan = solve(p, [])
    (placement,) = plan.placements
    assert placement.site == "onprem:b" and placement.cost.egress_usd == D(expected)


def test_an_onprem_site_id_must_use_the_onprem_prefix() -> None:
    p = portfolio([workload("w", [training()], home="dc:a")],
                  onprem=[{"id": "dc:a", "country": "DE"}], cloud={"providers": []})
    with pytest.raises(InputError, match="must start with 'onprem:'") as err:
        build_world(p, [])
    assert err.value.path == "onprem[0].id"


# ---------------------------------------------------------------- catalogs and layering


def test_a_catalog_without_egress_loads_and_old_ones_still_do(tmp_path: Path) -> None:
    data = json.loads((REPO / "catalogs" / "aws.json").read_text("utf-8"))
    assert "egress" in data  # the bundled snapshot is an old-style catalog
    del data["egress"]
    (tmp_path / "aws.json").write_text(json.dumps(data))
    (loaded,) = load_catalog_dir(tmp_path)
    assert loaded.catalog.egress is None


def test_a_catalog_file_must_hold_its_own_provider(tmp_path: Path) -> None:
    (tmp_path / "azure.json").write_bytes((REPO / "catalogs" / "aws.json").read_bytes())
    with pytest.raises(CatalogError, match="holds the 'aws' catalog, not 'azure'"):
        load_catalog_dir(tmp_path)


def test_planning_imports_no_writer_and_no_cloud_sdk() -> None:
    code = ("import sys, planner; planner.load_catalogs(); "
            "print(sorted(m for m in sys.modules if m.startswith(('planner.refresh', "
            "'planner.providers.aws.', 'planner.providers.azure.', 'boto3', 'azure.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert out.strip() == "[]"
