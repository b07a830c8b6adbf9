"""Offline tests of the Azure catalog fetcher.

The real azure-core pipelines run (ARM pipeline of ``ComputeManagementClient``
with its bearer-token policy, and the Retail Prices ``PipelineClient`` with its
``RetryPolicy``); only the last step is canned: a ``RequestsTransport`` whose
requests session has an in-process adapter answering from
``tests/fixtures/azure`` (recorded responses, trimmed). No socket is opened.
"""

from __future__ import annotations

import io
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import urllib3
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import RequestsTransport
from azure.mgmt.compute import ComputeManagementClient
from requests.adapters import BaseAdapter, HTTPAdapter

import planner.providers.azure.fetch as azure_mod
from planner.catalog.load import parse_catalog
from planner.catalog.schema import SCHEMA_VERSION, CatalogFile, CatalogRow
from planner.errors import CatalogFetchError
from planner.providers.azure.fetch import fetch_azure
from planner.providers.azure.prices import PriceKind, classify, select_prices
from planner.providers.azure.sizes import load_size_table
from planner.providers.azure.skus import (
    GpuFamilyTable,
    load_gpu_families,
    parse_gpu_families,
    resolve_gpu,
    vm_sku_from_model,
)
from planner.vocab.gpus import GPU_MODELS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "azure"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TOKEN = "fake-token-value-not-a-secret"
NOW = "2026-11-01T06:00:00+00:00"
Canned = tuple[int, dict[str, str], Any]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


# ---------------------------------------------------------------- fakes


class FakeCredential:
    """A TokenCredential: returns a fixed token, or raises the given error."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls = 0

    def get_token(self, *scopes: str, **_kwargs: Any) -> AccessToken:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return AccessToken(TOKEN, int(time.time()) + 3600)


def route_key(url: str) -> str:
    """``skus/<region>/<skiptoken>`` or ``prices/<region>/<skip>`` for a request URL."""
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    flt = query.get("$filter", "")
    if parts.hostname == "management.azure.com" and parts.path.endswith("/Microsoft.Compute/skus"):
        region = flt.removeprefix("location eq '").removesuffix("'")
        return f"skus/{region}/{query.get('$skiptoken', 'first')}"
    if parts.hostname == "prices.azure.com":
        region = flt.split("armRegionName eq '")[1].split("'")[0] if "armRegionName" in flt else "?"
        return f"prices/{region}/{query.get('$skip', '0')}"
    return f"unknown/{url}"


class CannedAdapter(BaseAdapter):
    """A requests adapter answering from queues of canned responses, by route key.

    A queue's last response is repeated; an unknown route answers 404.
    """

    def __init__(self, routes: dict[str, list[Canned]]) -> None:
        super().__init__()
        self.routes = {k: list(v) for k, v in routes.items()}
        self.urls: list[str] = []
        self.headers: list[dict[str, str]] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        url = str(request.url)
        self.urls.append(url)
        self.headers.append({k: str(v) for k, v in request.headers.items()})
        queue = self.routes.get(route_key(url))
        if queue:
            status, headers, body = queue.pop(0) if len(queue) > 1 else queue[0]
        else:
            status, headers, body = 404, {}, {"error": {"code": "NotFound", "message": url}}
        data = json.dumps(body).encode()
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(data), status=status, preload_content=False, decode_content=False,
            headers={"Content-Type": "application/json; charset=utf-8",
                     "Content-Length": str(len(data)), **headers})
        return HTTPAdapter().build_response(request, raw)

    def close(self) -> None:
        """Nothing to release."""

    def keys(self) -> list[str]:
        return [route_key(u) for u in self.urls]


class CannedTransport(RequestsTransport):
    """azure-core's requests transport over a session that only knows the canned adapter."""

    def __init__(self, routes: dict[str, list[Canned]]) -> None:
        self.adapter = CannedAdapter(routes)
        session = requests.Session()
        session.trust_env = False
        session.mount("https://", self.adapter)
        session.mount("http://", self.adapter)
        super().__init__(session=session, session_owner=False)


def ok(name: str) -> Canned:
    return (200, {}, fixture(name))


def sku_routes() -> dict[str, list[Canned]]:
    token = parse_qs(urlparse(fixture("skus_eastus_page1.json")["nextLink"]).query)["$skiptoken"][0]
    return {
        "skus/eastus/first": [ok("skus_eastus_page1.json")],
        f"skus/eastus/{token}": [ok("skus_eastus_page2.json")],
        "skus/westeurope/first": [ok("skus_westeurope.json")],
        "skus/germanywestcentral/first": [ok("skus_germanywestcentral.json")],
    }


def price_routes() -> dict[str, list[Canned]]:
    errors = fixture("errors.json")
    return {
        # Throttled once, then served: the RetryPolicy must honour Retry-After.
        "prices/eastus/0": [(429, {"Retry-After": "0"}, errors["throttled"]),
                            ok("prices_eastus_page1.json")],
        "prices/eastus/1000": [ok("prices_eastus_page2.json")],
        "prices/westeurope/0": [(503, {"Retry-After": "0"}, errors["throttled"]),
                                ok("prices_westeurope.json")],
        "prices/germanywestcentral/0": [(400, {}, errors["bad_request"])],
    }


class World:
    """Canned ARM + Retail Prices endpoints and a fetch function wired to them."""

    def __init__(self, arm: dict[str, list[Canned]] | None = None,
                 prices: dict[str, list[Canned]] | None = None,
                 credential: FakeCredential | None = None) -> None:
        self.credential = credential or FakeCredential()
        self.arm = CannedTransport(sku_routes() if arm is None else arm)
        self.prices = CannedTransport(price_routes() if prices is None else prices)
        self.compute = ComputeManagementClient(self.credential, SUBSCRIPTION, transport=self.arm)
        self.progress: list[tuple[str, str]] = []

    def fetch(self, regions: list[str], **kwargs: Any) -> CatalogFile:
        return fetch_azure(regions, compute_client=self.compute, prices_transport=self.prices,
                           progress=lambda r, m: self.progress.append((r, m)),
                           now=kwargs.pop("now", _now()), **kwargs)


def _now() -> Any:
    from datetime import datetime

    return datetime.fromisoformat(NOW)


ALL = ["eastus", "westeurope", "germanywestcentral", "atlantisnorth"]


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def catalog(world: World) -> CatalogFile:
    return world.fetch(ALL)


def row(cat: CatalogFile, region: str, name: str) -> CatalogRow:
    matches = [r for r in cat.rows if r.region == region and r.instance_type == name]
    assert len(matches) == 1, f"{region}/{name}: {len(matches)} rows"
    return matches[0]


# ---------------------------------------------------------------- envelope


def test_envelope(catalog: CatalogFile) -> None:
    assert catalog.schema_version == SCHEMA_VERSION
    assert catalog.provider == "azure"
    assert catalog.currency == "USD"
    assert catalog.fetched_at.isoformat() == NOW
    assert catalog.regions == ["eastus", "westeurope"]
    assert catalog.egress is None  # egress prices live in planner/data/egress.json
    params = catalog.source.parameters
    assert params["retail_prices"]["api-version"] == "2023-01-01-preview"
    assert params["retail_prices"]["currencyCode"] == "USD"
    assert "priceType eq 'Consumption'" in params["retail_prices"]["$filter"]
    assert params["resource_skus"]["filter"] == "location eq '{region}'"
    assert "https://prices.azure.com/api/retail/prices" in catalog.source.endpoints


def test_failed_regions_recorded_and_fetch_continues(catalog: CatalogFile) -> None:
    failed = {f.region: f.error for f in catalog.failed_regions}
    assert sorted(failed) == ["atlantisnorth", "germanywestcentral"]
    assert "unknown Azure region 'atlantisnorth'" in failed["atlantisnorth"]
    assert failed["germanywestcentral"].startswith("HTTP 400")
    assert "\n" not in failed["germanywestcentral"]
    assert not [r for r in catalog.rows if r.region in failed]


def test_snapshot_round_trips_through_the_loader(catalog: CatalogFile, tmp_path: Path) -> None:
    raw = catalog.model_dump_json(indent=1).encode()
    assert parse_catalog(raw, tmp_path / "azure.json") == catalog


# ---------------------------------------------------------------- rows


def test_join_keeps_priced_vm_sizes_only(catalog: CatalogFile) -> None:
    names = {(r.region, r.instance_type) for r in catalog.rows}
    assert ("eastus", "Standard_E2s_v5") not in names  # priced, no SKU
    assert ("eastus", "Standard_NP10s") not in names  # SKU, only a zero price
    assert not {n for _, n in names} & {"Aligned", "Premium_LRS"}  # not virtualMachines
    assert len([n for r, n in names if r == "eastus"]) == 14
    assert len([n for r, n in names if r == "westeurope"]) == 6


def test_cpu_row_facts(catalog: CatalogFile) -> None:
    d2 = row(catalog, "eastus", "Standard_D2s_v5")
    assert (d2.vcpus, d2.memory_gib, d2.family) == (2, 8.0, "standardDSv5Family")
    assert d2.architecture == "x86_64" and d2.country == "US"
    assert d2.gpu_model is None and d2.gpu_count == 0 and d2.gpu_memory_gib == 0
    assert row(catalog, "eastus", "Standard_D4ps_v5").architecture == "arm64"
    assert row(catalog, "westeurope", "Standard_D2s_v5").country == "NL"


def test_price_classification(catalog: CatalogFile) -> None:
    d2 = row(catalog, "eastus", "Standard_D2s_v5")
    # the primary meter (0.096) wins over a non-primary duplicate; Windows (0.188) is skipped
    assert d2.price_per_hour == Decimal("0.096")
    assert d2.spot_price_per_hour == Decimal("0.01914")
    t4 = row(catalog, "eastus", "Standard_NC4as_T4_v3")
    assert t4.price_per_hour == Decimal("0.526")
    assert t4.spot_price_per_hour == Decimal("0.1578")  # not the low-priority 0.1052
    v100 = row(catalog, "eastus", "Standard_NC6s_v3")
    assert (v100.price_per_hour, v100.spot_price_per_hour) == (Decimal("3.06"), Decimal("0.3672"))
    h100 = row(catalog, "eastus", "Standard_NC40ads_H100_v5")
    assert h100.price_per_hour == Decimal("6.98")  # not the "… Srs Win" item
    assert h100.spot_price_per_hour is None
    assert row(catalog, "westeurope", "Standard_NC6s_v3").price_per_hour == Decimal("3.823")


@pytest.mark.parametrize(
    ("region", "name", "model", "vendor", "count", "memory"),
    [
        ("eastus", "Standard_NC24ads_A100_v4", "A100-80GB", "nvidia", 1, 80),
        ("eastus", "Standard_ND96asr_v4", "A100-40GB", "nvidia", 8, 320),
        ("eastus", "Standard_ND96amsr_A100_v4", "A100-80GB", "nvidia", 8, 640),
        ("eastus", "Standard_NC64as_T4_v3", "T4", "nvidia", 4, 64),
        ("eastus", "Standard_NC6s_v3", "V100", "nvidia", 1, 16),
        ("eastus", "Standard_ND40rs_v2", "V100-32GB", "nvidia", 8, 256),
        ("eastus", "Standard_ND96isr_H100_v5", "H100", "nvidia", 8, 640),
        ("eastus", "Standard_NC40ads_H100_v5", "H100", "nvidia", 1, 94),
        ("eastus", "Standard_NV36ads_A10_v5", "A10", "nvidia", 1, 24),
        ("eastus", "Standard_NV6ads_A10_v5", "A10", "nvidia", 1 / 6, 4),
        ("westeurope", "Standard_NV12ads_A10_v5", "A10", "nvidia", 1 / 3, 8),
        ("eastus", "Standard_NV4as_v4", "MI25", "amd", 1 / 8, 2),
    ],
)
def test_gpu_rows(catalog: CatalogFile, region: str, name: str, model: str, vendor: str,
                  count: float, memory: float) -> None:
    r = row(catalog, region, name)
    assert (r.gpu_model, r.gpu_vendor) == (model, vendor)
    assert r.gpu_count == pytest.approx(count)
    assert r.gpu_memory_gib == pytest.approx(memory)


def test_restrictions(catalog: CatalogFile) -> None:
    nd = row(catalog, "eastus", "Standard_ND96isr_H100_v5")
    assert nd.availability == "restricted"
    assert "NotAvailableForSubscription: location eastus" in nd.restrictions
    assert "NotAvailableForSubscription: zones 1, 2, 3 in eastus" in nd.restrictions
    nc_h100 = row(catalog, "westeurope", "Standard_NC40ads_H100_v5")
    assert nc_h100.availability == "restricted"
    # a zone-only restriction leaves the size usable in the region's other zones
    a100 = row(catalog, "westeurope", "Standard_NC24ads_A100_v4")
    assert a100.availability == "available"
    assert a100.restrictions == ["NotAvailableForSubscription: zones 2 in westeurope"]
    assert row(catalog, "eastus", "Standard_D2s_v5").restrictions == []


# ---------------------------------------------------------------- HTTP behaviour


def test_requests_paging_and_retry(world: World) -> None:
    world.fetch(["eastus"])
    arm_keys = world.arm.adapter.keys()
    assert arm_keys[0] == "skus/eastus/first"
    assert len(arm_keys) == 2 and arm_keys[1].startswith("skus/eastus/eyJ")  # nextLink followed
    # 429 → retried (Retry-After: 0) → page 1 → NextPageLink → page 2
    assert world.prices.adapter.keys() == ["prices/eastus/0", "prices/eastus/0",
                                           "prices/eastus/1000"]


def test_request_parameters_and_auth_headers(world: World) -> None:
    world.fetch(["westeurope"])
    first_price = parse_qs(urlparse(world.prices.adapter.urls[0]).query)
    assert first_price["api-version"] == ["2023-01-01-preview"]
    assert first_price["currencyCode"] == ["'USD'"]
    assert first_price["$filter"] == ["serviceName eq 'Virtual Machines' and armRegionName eq "
                                      "'westeurope' and priceType eq 'Consumption'"]
    assert all("Authorization" not in h for h in world.prices.adapter.headers)  # public API
    arm = parse_qs(urlparse(world.arm.adapter.urls[0]).query)
    assert arm["$filter"] == ["location eq 'westeurope'"]
    assert world.arm.adapter.headers[0]["Authorization"] == f"Bearer {TOKEN}"


def test_progress_per_region(world: World) -> None:
    world.fetch(ALL)
    regions = {r for r, _ in world.progress}
    assert regions == set(ALL)
    messages = [m for r, m in world.progress if r == "eastus"]
    assert messages[-1] == "14 rows"
    assert any(m.startswith("failed: HTTP 400") for r, m in world.progress
               if r == "germanywestcentral")
    assert not any(TOKEN in m for _, m in world.progress)


def test_output_is_deterministic() -> None:
    first = World().fetch(ALL).model_dump_json()
    second = World().fetch(list(reversed(ALL))).model_dump_json()
    assert first == second
    cat = CatalogFile.model_validate_json(first)
    keys = [(r.region, r.instance_type) for r in cat.rows]
    assert keys == sorted(keys)


def test_naive_now_is_taken_as_utc(world: World) -> None:
    cat = world.fetch(["eastus"], now=_now().replace(tzinfo=None))
    assert cat.fetched_at.isoformat() == NOW


# ---------------------------------------------------------------- failures


def test_credential_failure_stops_the_fetch() -> None:
    cred = FakeCredential(ClientAuthenticationError(
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n\tEnvironmentCredential: incomplete"))
    world = World(credential=cred)
    with pytest.raises(CatalogFetchError) as info:
        world.fetch(["eastus", "westeurope"])
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("Azure authentication failed: DefaultAzureCredential failed")
    assert "az login" in text and "AZURE_CLIENT_ID" in text and "Reader role" in text
    assert info.value.exit_code == 4
    assert world.prices.adapter.urls == []  # stopped before any price request


def test_arm_401_is_an_authentication_failure() -> None:
    errors = fixture("errors.json")
    world = World(arm={"skus/eastus/first": [(401, {}, errors["arm_unauthorized"])]})
    with pytest.raises(CatalogFetchError, match="Azure authentication failed") as info:
        world.fetch(["eastus"])
    assert TOKEN not in str(info.value)


def test_arm_403_is_an_authorization_failure() -> None:
    errors = fixture("errors.json")
    world = World(arm={"skus/eastus/first": [(403, {}, errors["arm_forbidden"])]})
    with pytest.raises(CatalogFetchError, match="Azure authorization failed") as info:
        world.fetch(["eastus"])
    assert "Reader role" in str(info.value)


def test_every_region_failed() -> None:
    world = World(prices={})  # every price request → 404
    with pytest.raises(CatalogFetchError, match="every Azure region failed") as info:
        world.fetch(["eastus", "atlantisnorth"])
    assert "eastus: HTTP 404" in str(info.value)
    assert "atlantisnorth: unknown Azure region" in str(info.value)


def test_unknown_regions_only_need_no_client() -> None:
    with pytest.raises(CatalogFetchError, match="every Azure region failed"):
        fetch_azure(["atlantisnorth"], subscription_id=SUBSCRIPTION, credential=FakeCredential())


def test_no_regions() -> None:
    with pytest.raises(CatalogFetchError, match="no Azure regions"):
        fetch_azure([" "])


def test_non_usd_prices_fail_the_region(world: World) -> None:
    page = fixture("prices_westeurope.json")
    page["Items"][0]["currencyCode"] = "EUR"
    world.prices.adapter.routes["prices/westeurope/0"] = [(200, {}, page)]
    cat = world.fetch(["eastus", "westeurope"])
    assert cat.regions == ["eastus"]
    assert "EUR" in cat.failed_regions[0].error


def test_no_subscription_falls_back_to_keyless(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a subscription id the refresh still works: public prices only, said so."""
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    prices = CannedTransport(price_routes())
    log: list[tuple[str, str]] = []
    cat = fetch_azure(["westeurope"], prices_transport=prices, now=_now(),
                      progress=lambda region, message: log.append((region, message)))
    assert log[0] == ("all", azure_mod.KEYLESS_FALLBACK)
    assert "no SKU restrictions" in log[0][1] and "AZURE_SUBSCRIPTION_ID" in log[0][1]
    assert [u for u in prices.adapter.urls if "management.azure.com" in u] == []
    assert cat.source.apis == ["Azure Retail Prices API"]
    assert cat.source.note is not None and "no SKU restrictions" in cat.source.note
    assert cat.rows and all(r.source is not None and r.source.kind == "bulk"
                            and "no SKU restrictions" in r.source.ref for r in cat.rows)
    assert all(r.availability == "available" and r.restrictions == [] for r in cat.rows)
    a100 = row(cat, "westeurope", "Standard_NC24ads_A100_v4")
    assert (a100.vcpus, a100.memory_gib, a100.gpu_model, a100.gpu_count) == (
        24, 220.0, "A100-80GB", 1)


def test_subscription_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    seen: list[str] = []
    arm = CannedTransport(sku_routes())

    def client(credential: Any, subscription_id: str) -> ComputeManagementClient:
        seen.append(subscription_id)
        return ComputeManagementClient(credential, subscription_id, transport=arm)

    monkeypatch.setattr(azure_mod, "ComputeManagementClient", client)
    cat = fetch_azure(["westeurope"], credential=FakeCredential(),
                      prices_transport=CannedTransport(price_routes()))
    assert seen == [SUBSCRIPTION]
    assert cat.regions == ["westeurope"]


# ---------------------------------------------------------------- GPU family table


def _fixture_vm_skus() -> list[dict[str, Any]]:
    skus: list[dict[str, Any]] = []
    for path in sorted(FIXTURES.glob("skus_*.json")):
        skus += [s for s in fixture(path.name)["value"] if s["resourceType"] == "virtualMachines"]
    return skus


def test_family_table_covers_every_gpu_family_in_fixtures() -> None:
    table = load_gpu_families()
    gpu_skus = [s for s in _fixture_vm_skus() if s["name"].startswith("Standard_N")
                and s["family"] != "standardNPSFamily"]  # NP = FPGAs, not GPUs
    assert len({s["family"] for s in gpu_skus}) >= 10
    for sku in gpu_skus:
        assert table.lookup(sku["family"], sku["name"]) is not None, sku["family"]


def test_family_table_is_consistent() -> None:
    table = load_gpu_families()
    for entry in table.entries:
        assert GPU_MODELS[entry.gpu].vendor == entry.vendor, entry.series
        for size in entry.gpu_counts:
            assert entry.size_pattern.fullmatch(size), (entry.series, size)
    lookups = {e.series: e for e in table.entries}
    assert table.lookup("standardNVADSA10v5Family", "x") is lookups["NVadsA10_v5"]
    assert table.lookup("", "Standard_ND96amsr_A100_v4") is lookups["NDm_A100_v4"]
    assert table.lookup("standardDSv5Family", "Standard_D2s_v5") is None


def test_invalid_family_table_is_rejected() -> None:
    bad = {"families": [{"series": "X", "families": [], "size_pattern": "Standard_X",
                         "gpu": "H10", "vendor": "nvidia", "memory_gib_per_gpu": 80}]}
    with pytest.raises(CatalogFetchError, match="unknown GPU model 'H10'"):
        parse_gpu_families(bad)


def test_gpu_sizes_missing_from_the_table_are_skipped(world: World) -> None:
    full = load_gpu_families()
    table = GpuFamilyTable(entries=tuple(e for e in full.entries if e.gpu != "A10"))
    cat = world.fetch(["westeurope"], families=table)
    assert not [r for r in cat.rows if "_A10_" in r.instance_type]
    assert cat.source.note is not None and "Standard_NV12ads_A10_v5" in cat.source.note
    assert any("skipped 2 GPU sizes" in m for _, m in world.progress)


def test_resolve_gpu_from_sdk_model() -> None:
    from azure.mgmt.compute.models import ResourceSku

    raw = next(s for s in _fixture_vm_skus() if s["name"] == "Standard_NV6ads_A10_v5")
    sku = vm_sku_from_model(ResourceSku(raw), "eastus")
    assert sku is not None and sku.gpus == 1  # the API says 1 whole GPU …
    gpu = resolve_gpu(sku, load_gpu_families())
    assert gpu is not None and gpu.count == pytest.approx(1 / 6)  # … the table says 1/6


# ---------------------------------------------------------------- price items


def _item(**kw: Any) -> dict[str, Any]:
    base = {"currencyCode": "USD", "retailPrice": Decimal("1.5"), "armRegionName": "eastus",
            "armSkuName": "Standard_X", "skuName": "X", "meterName": "X",
            "productName": "Virtual Machines X Series", "unitOfMeasure": "1 Hour",
            "type": "Consumption", "isPrimaryMeterRegion": True}
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({}, PriceKind.ON_DEMAND),
        ({"productName": "Virtual Machines X Series Windows"}, PriceKind.WINDOWS),
        ({"productName": "Virtual Machines X Srs Win"}, PriceKind.WINDOWS),
        ({"skuName": "X Spot", "meterName": "X Spot"}, PriceKind.SPOT),
        ({"meterName": "X Spot"}, PriceKind.SPOT),
        ({"skuName": "X Low Priority"}, PriceKind.LOW_PRIORITY),
        ({"productName": "Virtual Machines Dv2/DSv2 Series"}, PriceKind.ON_DEMAND),
    ],
)
def test_classify(changes: dict[str, str], kind: PriceKind) -> None:
    assert classify(_item(**changes)) is kind


def test_select_prices_rules() -> None:
    items = [
        _item(retailPrice=Decimal("2.0"), effectiveStartDate="2023-01-01T00:00:00Z"),
        _item(retailPrice=Decimal("1.8"), effectiveStartDate="2024-06-01T00:00:00Z"),
        _item(retailPrice=Decimal("0.5"), isPrimaryMeterRegion=False),
        _item(armSkuName="Standard_M", unitOfMeasure="1/Month"),
        _item(armSkuName="Standard_R", type="Reservation"),
        _item(armSkuName="Standard_W", armRegionName="westus"),
        _item(armSkuName="Standard_L", skuName="L Low Priority", retailPrice=Decimal("0.3")),
    ]
    prices = select_prices("eastus", items)
    assert prices.on_demand == {"Standard_X": Decimal("1.8")}  # primary, then newest
    assert prices.low_priority == {"Standard_L": Decimal("0.3")}
    assert prices.spot == {}



def test_savings_plan_terms() -> None:
    plans = [{"unitPrice": 0.0432, "retailPrice": 0.0432, "term": "3 Years"},
             {"unitPrice": 0.0669, "retailPrice": 0.0669, "term": "1 Year"}]
    prices = select_prices("eastus", [
        _item(savingsPlan=plans),
        _item(armSkuName="Standard_F", savingsPlanPrice=0.9),  # flat, term not named: 1 year
        _item(armSkuName="Standard_S", skuName="S Spot", savingsPlan=plans),  # spot: none
        _item(armSkuName="Standard_J", savingsPlan="junk", savingsPlanPrice="n/a"),
    ])
    assert prices.commit_1y == {"Standard_X": Decimal("0.0669"), "Standard_F": Decimal("0.9")}
    assert prices.commit_3y == {"Standard_X": Decimal("0.0432")}
    assert prices.on_demand["Standard_J"] == Decimal("1.5")


@pytest.mark.parametrize(("sku_name", "arm"), [
    ("D2s v5", "Standard_D2s_v5"),
    ("ND96isrH100v5 Spot", "Standard_ND96isr_H100_v5"),
    ("NC16asT4 v3 Low Priority", "Standard_NC16as_T4_v3"),
    ("Standard_NC24ads_A100_v4", "Standard_NC24ads_A100_v4"),
    ("E32-16ds v5", "Standard_E32-16ds_v5"),
    ("M416-104s_v2", "Standard_M416-104s_v2"),
])
def test_size_spellings(sku_name: str, arm: str) -> None:
    from planner.providers.azure.sizes import canonical_size

    assert canonical_size({"skuName": sku_name}) == arm
    assert canonical_size({"skuName": sku_name, "armSkuName": "Standard_Z"}) == "Standard_Z"


def test_keyless_size_facts() -> None:
    from planner.providers.azure.sizes import architecture_of, load_size_table

    table = load_size_table()
    assert table.facts("Standard_D16s_v5") == table.facts("Standard_D16s_v5")
    d16 = table.facts("Standard_D16s_v5")
    assert d16 is not None and (d16.vcpus, d16.memory_gib) == (16, 64.0)
    e = table.facts("Standard_E32-8ds_v5")  # constrained vCPUs: the parent's memory
    assert e is not None and (e.vcpus, e.memory_gib) == (8, 256.0)
    assert table.facts("Standard_E96ds_v5") is None  # beyond the series' constant ratio
    assert table.facts("Standard_HB120rs_v3") is None  # unknown: skipped, never guessed
    assert table.name("Standard_ND96ams_A100_v4") == "Standard_ND96amsr_A100_v4"
    assert architecture_of("Standard_D4ps_v5") == "arm64"
    assert architecture_of("Standard_NC24ads_A100_v4") == "x86_64"


def test_rows_carry_provenance(catalog: CatalogFile) -> None:
    assert all(r.source is not None and r.source.kind == "api" for r in catalog.rows)
    assert all(r.source is not None and r.source.fetched_at == catalog.fetched_at
               for r in catalog.rows)
    assert catalog.source.note is None or "keyless" not in catalog.source.note


def test_keyless_flag_never_calls_the_resource_skus_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    world = World()
    cat = world.fetch(["westeurope"], keyless=True)
    assert world.arm.adapter.urls == [] and world.credential.calls == 0
    assert {r.source.kind for r in cat.rows if r.source} == {"bulk"}


# ---------------------------------------------------------------- one bad row, not a region


MIXUP_PAGE = "prices_eastus_unit_mixup.json"
"""A trimmed Retail Prices API page of eastus (``Items``, ``NextPageLink``, ``Count``):
on-demand, Spot and Windows items, ``savingsPlan`` terms, one size under two spellings
whose newer meter lists no savings plan, and one planted defect: ND96isr H100 v5 priced
71773.6 per "1 Hour" (its monthly price, a unit mix-up the catalog schema refuses)."""


def test_a_row_that_fails_validation_is_skipped_and_counted_not_the_region(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    prices = CannedTransport({"prices/eastus/0": [ok(MIXUP_PAGE)],
                              "prices/westeurope/0": [ok("prices_westeurope.json")]})
    log: list[tuple[str, str]] = []
    cat = fetch_azure(["eastus", "westeurope"], prices_transport=prices, now=_now(),
                      keyless=True, progress=lambda region, message: log.append((region, message)))
    assert cat.regions == ["eastus", "westeurope"] and cat.failed_regions == []
    eastus = sorted(r.instance_type for r in cat.rows if r.region == "eastus")
    assert eastus == ["Standard_D2s_v5", "Standard_D4s_v5", "Standard_NC24ads_A100_v4",
                      "Standard_ND96amsr_A100_v4"]
    assert cat.source.parameters["skipped_rows"]["eastus"] == {"invalid_row": 1}
    [said] = [m for r, m in log if r == "eastus" and "does not validate" in m]
    assert said.startswith("skipped 1 sizes whose row does not validate: "
                           "Standard_ND96isr_H100_v5: price_per_hour: price 71773.6 USD/h is "
                           "above the sane maximum")
    assert cat.source.note is not None and "1 sizes skipped: their row does not validate" \
        in cat.source.note


def test_commitments_come_from_any_on_demand_item_of_the_size() -> None:
    """The newer meter of ND96amsr A100 v4 (chosen for the on-demand price) lists no
    savings plan; the older spelling's plan is the size's commitment price."""
    prices = select_prices("eastus", fixture(MIXUP_PAGE)["Items"],
                           rename=load_size_table().name)
    a100 = prices.size("Standard_ND96amsr_A100_v4")
    assert (a100.on_demand, a100.commit_1y, a100.commit_3y) == (
        Decimal("32.77"), Decimal("23.9221"), Decimal("14.7465"))
    d2 = prices.size("Standard_D2s_v5")
    assert (d2.on_demand, d2.spot, d2.commit_1y, d2.commit_3y) == (
        Decimal("0.096"), Decimal("0.01914"), Decimal("0.0669"), Decimal("0.0432"))


def test_the_preferred_item_s_plan_wins_a_term_both_list() -> None:
    plan = [{"retailPrice": Decimal("1.0"), "term": "1 Year"}]
    cheap = [{"retailPrice": Decimal("0.9"), "term": "1 Year"},
             {"retailPrice": Decimal("0.6"), "term": "3 Years"}]
    prices = select_prices("eastus", [
        _item(retailPrice=Decimal("1.5"), effectiveStartDate="2025-01-01T00:00:00Z",
              savingsPlan=plan),
        _item(retailPrice=Decimal("1.4"), effectiveStartDate="2023-01-01T00:00:00Z",
              savingsPlan=cheap),
        _item(armSkuName="Standard_S", skuName="S Spot", savingsPlan=cheap),  # spot: none
    ])
    x = prices.size("Standard_X")
    assert (x.on_demand, x.commit_1y, x.commit_3y) == (Decimal("1.5"), Decimal("1.0"),
                                                       Decimal("0.6"))
    assert "Standard_S" not in prices.commit_1y


def test_a_plan_above_the_chosen_on_demand_price_is_dropped() -> None:
    """Real case (westeurope, 2026-08): "H16" under "Virtual Machines H Promo Series"
    costs 1.241 on demand without a savings plan; the regular "H Series" meter costs
    2.065 with a 1-year plan of 1.718906, which nobody would buy over the promo price."""
    prices = select_prices("eastus", [
        _item(armSkuName=None, skuName="H16", meterName="H16", retailPrice=Decimal("1.241"),
              productName="Virtual Machines H Promo Series"),
        _item(armSkuName=None, skuName="H16", meterName="H16", retailPrice=Decimal("2.065"),
              productName="Virtual Machines H Series", savingsPlanPrice=Decimal("1.718906")),
    ])
    assert prices.on_demand == {"Standard_H16": Decimal("1.241")}
    assert prices.commit_1y == {} and prices.commit_3y == {}
