"""Fetch the Azure price catalog: VM sizes (azure-mgmt-compute) ∩ retail prices.

With credentials, for every requested region:

1. the region must be in ``planner/data/regions.json`` (its country is needed);
2. VM sizes and capabilities come from the Resource SKUs API
   (:mod:`planner.providers.azure.skus`), with subscription restrictions;
3. Linux on-demand and spot prices come from the public Retail Prices API
   (:mod:`planner.providers.azure.prices`);
4. a row is a size that has an on-demand price (joined on ``armSkuName``),
   with its GPU from the maintained family table (:mod:`planner.providers.azure.rows`);
   a size whose row does not validate is skipped and counted (``invalid_row`` in
   ``source.parameters.skipped_rows``), like AWS's malformed instance types.

Keyless (``keyless=True``, or no subscription id found): step 2 is skipped; every
priced size whose vCPUs and memory ``planner/data/azure_vm_sizes.json`` knows
becomes a row, without SKU restrictions (the catalog's source says so).

A region that fails is recorded in ``failed_regions`` and the fetch goes on.
An authentication or authorization failure stops the fetch with a
:class:`~planner.errors.CatalogFetchError` (it would fail every region), and
so does a fetch in which every region failed. Credentials and tokens are never
logged or reported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.transport import HttpTransport
from azure.mgmt.compute import ComputeManagementClient

from planner.catalog.schema import (
    SCHEMA_VERSION,
    CatalogFile,
    CatalogRow,
    CatalogSource,
    RegionFailure,
    RowSource,
)
from planner.errors import CatalogFetchError
from planner.providers.azure.prices import (
    CURRENCY,
    RETAIL_API_VERSION,
    RETAIL_PRICES_URL,
    fetch_region_prices,
    make_prices_client,
    price_filter,
)
from planner.providers.azure.rows import (
    INVALID_ROW,
    KEYLESS_CAVEAT,
    RegionRows,
    keyless_region_rows,
    region_rows,
)
from planner.providers.azure.sizes import SizeTable, load_size_table
from planner.providers.azure.skus import GpuFamilyTable, list_vm_skus, load_gpu_families, sku_filter
from planner.vocab.jurisdictions import region_country

Progress = Callable[[str, str], None]

SKUS_ENDPOINT = "https://management.azure.com/subscriptions/{subscriptionId}/providers/Microsoft.Compute/skus"
AUTH_HINT = ("run `az login`, or set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID "
             "for a service principal; the identity needs the Reader role on the subscription "
             "(or refresh without credentials: --keyless)")
API_REF = "Azure Retail Prices API + Resource SKUs API (azure-mgmt-compute)"
KEYLESS_REF = "Azure Retail Prices API (public, keyless; " + KEYLESS_CAVEAT.split(":")[0] + ")"
KEYLESS_FALLBACK = ("no Azure subscription id found (AZURE_SUBSCRIPTION_ID): refreshing keyless "
                    "from the public Retail Prices API only, " + KEYLESS_CAVEAT)


@dataclass(frozen=True)
class _Tables:
    """The maintained tables a fetch reads, and whether it runs keyless."""

    gpus: GpuFamilyTable
    sizes: SizeTable
    keyless: bool


def _quiet(_region: str, _message: str) -> None:
    """The default progress callback: say nothing."""


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, HttpResponseError):
        detail = exc.message or str(exc)
        status = exc.status_code
        return _one_line(f"HTTP {status}: {detail}" if status else detail)
    return _one_line(f"{type(exc).__name__}: {exc}")


def _auth_failure(exc: BaseException, *, forbidden: bool = False) -> CatalogFetchError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    what = "Azure authorization failed" if forbidden else "Azure authentication failed"
    return CatalogFetchError(f"{what}: {_one_line(first, 200)}", hint=AUTH_HINT)


def _subscription(subscription_id: str | None) -> str:
    subscription = subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID", "").strip()
    if not subscription:
        raise CatalogFetchError("no Azure subscription id",
                                hint="pass subscription_id or set AZURE_SUBSCRIPTION_ID "
                                     "(see `az account show --query id -o tsv`)")
    return subscription


def _default_credential() -> TokenCredential:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def _fetch_region(region: str, country: str, compute: ComputeManagementClient | None,
                  prices_client: PipelineClient, tables: _Tables, source: RowSource,
                  report: Progress) -> RegionRows:
    skus = None
    if compute is not None:
        report(region, "listing VM sizes (Resource SKUs API)")
        skus = list_vm_skus(compute, region)
        report(region, f"{len(skus)} VM sizes; reading retail prices")
    prices = fetch_region_prices(prices_client, region, tables.sizes.name)
    report(region, f"{prices.items} price items in {prices.pages} pages: "
                   f"{len(prices.on_demand)} on-demand, {len(prices.spot)} spot, "
                   f"{len(prices.low_priority)} low-priority (not used)")
    if skus is None:
        result = keyless_region_rows(region, country, prices, tables.gpus, tables.sizes, source)
    else:
        result = region_rows(region, country, skus, prices, tables.gpus, source)
    if result.skipped_gpu:
        report(region, f"skipped {len(result.skipped_gpu)} GPU sizes missing from the GPU "
                       f"family table: {', '.join(result.skipped_gpu)}")
    if result.invalid:
        report(region, f"skipped {len(result.invalid)} sizes whose row does not validate: "
                       + "; ".join(result.invalid))
    report(region, f"{len(result.rows)} rows")
    return result


def _unique(regions: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for region in regions:
        name = region.strip().lower()
        if name and name not in seen:
            seen.append(name)
    return seen


def _source(regions: list[str], tables: _Tables, skipped_gpu: list[str],
            skipped: dict[str, dict[str, int]]) -> CatalogSource:
    try:
        sdk = f"azure-mgmt-compute {version('azure-mgmt-compute')}"
    except PackageNotFoundError:  # pragma: no cover - the SDK is a dependency
        sdk = "azure-mgmt-compute"
    notes = [f"keyless refresh: {KEYLESS_CAVEAT}"] if tables.keyless else []
    if skipped_gpu:
        notes.append("GPU sizes skipped (family not in the GPU family table): "
                     + ", ".join(sorted(set(skipped_gpu))))
    invalid = sum(counts.get(INVALID_ROW, 0) for counts in skipped.values())
    if invalid:
        notes.append(f"{invalid} sizes skipped: their row does not validate (per region in "
                     "parameters.skipped_rows)")
    if tables.keyless:
        skus: dict[str, object] = {"mode": "keyless (Resource SKUs API not called)",
                                   "vm_sizes": tables.sizes.source}
    else:
        skus = {"sdk": sdk, "filter": sku_filter("{region}"), "resourceType": "virtualMachines"}
    return CatalogSource(
        apis=(["Azure Retail Prices API"] if tables.keyless
              else ["azure-mgmt-compute ResourceSkus.list", "Azure Retail Prices API"]),
        endpoints=[RETAIL_PRICES_URL] if tables.keyless else [SKUS_ENDPOINT, RETAIL_PRICES_URL],
        parameters={
            "regions_requested": sorted(regions),
            "resource_skus": skus,
            "retail_prices": {"api-version": RETAIL_API_VERSION, "currencyCode": CURRENCY,
                              "$filter": price_filter("{region}"),
                              "linux_on_demand": "productName without Windows/Win, "
                                                 "skuName/meterName without Spot/Low Priority",
                              "spot": "Spot in skuName or meterName",
                              "commitments": "savingsPlan 1 Year / 3 Years retailPrice",
                              "excluded": "Windows, Low Priority, Cloud Services, Dedicated "
                                          "Host, non-hourly, zero prices"},
            "gpu_families": tables.gpus.source,
            "skipped_rows": skipped,
        },
        note="; ".join(notes) or None,
    )


def _countries(wanted: list[str], failures: list[RegionFailure],
               report: Progress) -> dict[str, str]:
    """Country of every known region; unknown ones become failures."""
    countries: dict[str, str] = {}
    for region in wanted:
        country = region_country("azure", region)
        if country is None:
            error = f"unknown Azure region {region!r} (not in planner/data/regions.json)"
            failures.append(RegionFailure(region=region, error=error))
            report(region, f"failed: {error}")
        else:
            countries[region] = country
    return countries


def _is_keyless(keyless: bool, compute_client: ComputeManagementClient | None,
                subscription_id: str | None, report: Progress) -> bool:
    """Keyless when asked, or (with a message) when no subscription id can be found."""
    if keyless or compute_client is not None:
        return keyless
    if subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID", "").strip():
        return False
    report("all", KEYLESS_FALLBACK)
    return True


@dataclass
class _Gathered:
    rows: list[CatalogRow]
    done: list[str]
    skipped_gpu: list[str]
    skipped: dict[str, dict[str, int]]


def _fetch_regions(countries: dict[str, str], compute: ComputeManagementClient | None,
                   prices_client: PipelineClient, tables: _Tables, source: RowSource,
                   failures: list[RegionFailure], report: Progress) -> _Gathered:
    got = _Gathered([], [], [], {})
    for region, country in countries.items():
        try:
            result = _fetch_region(region, country, compute, prices_client, tables, source,
                                   report)
        except ClientAuthenticationError as exc:
            raise _auth_failure(exc) from exc
        except HttpResponseError as exc:
            if exc.status_code == 403:
                raise _auth_failure(exc, forbidden=True) from exc
            failures.append(RegionFailure(region=region, error=_error_text(exc)))
            report(region, f"failed: {_error_text(exc)}")
        except (AzureError, ValueError, TypeError, KeyError) as exc:
            failures.append(RegionFailure(region=region, error=_error_text(exc)))
            report(region, f"failed: {_error_text(exc)}")
        else:
            got.rows.extend(result.rows)
            got.skipped_gpu.extend(result.skipped_gpu)
            if result.skipped:
                got.skipped[region] = dict(sorted(result.skipped.items()))
            got.done.append(region)
    return got


def fetch_azure(
    regions: Sequence[str],
    *,
    subscription_id: str | None = None,
    credential: TokenCredential | None = None,
    compute_client: ComputeManagementClient | None = None,
    prices_transport: HttpTransport | None = None,
    families: GpuFamilyTable | None = None,
    sizes: SizeTable | None = None,
    keyless: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> CatalogFile:
    """Fetch the Azure catalog for ``regions`` (ARM names such as ``westeurope``).

    ``subscription_id`` defaults to ``$AZURE_SUBSCRIPTION_ID`` and ``credential``
    to ``DefaultAzureCredential()``; both are unused when ``compute_client`` is
    given. ``keyless`` skips the Resource SKUs API (no credentials; no SKU
    restrictions); it is also chosen, with a progress message, when no
    subscription id is found. ``prices_transport`` replaces the HTTP transport of
    the Retail Prices client (tests pass a canned one). ``families`` and ``sizes``
    replace the bundled GPU family and VM size tables. ``progress(region,
    message)`` is told what happens per region. ``now`` fixes ``fetched_at``
    (UTC; a naive value is taken as UTC).

    Raises :class:`~planner.errors.CatalogFetchError` on authentication or
    authorization failure, or when no region could be read.
    """
    wanted = _unique(regions)
    if not wanted:
        raise CatalogFetchError("no Azure regions to fetch", hint="name at least one region, "
                                "e.g. westeurope (see `az account list-locations -o table`)")
    report = progress or _quiet
    fetched_at = now or datetime.now(UTC)
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=UTC)
    tables = _Tables(families or load_gpu_families(), sizes or load_size_table(),
                     _is_keyless(keyless, compute_client, subscription_id, report))
    source = RowSource(kind="bulk" if tables.keyless else "api",
                       ref=KEYLESS_REF if tables.keyless else API_REF, fetched_at=fetched_at)
    failures: list[RegionFailure] = []
    countries = _countries(wanted, failures, report)
    got = _Gathered([], [], [], {})
    if countries:
        owned_credential: TokenCredential | None = None
        compute = None if tables.keyless else compute_client
        if compute is None and not tables.keyless:
            subscription = _subscription(subscription_id)
            if credential is None:
                credential = owned_credential = _default_credential()
            compute = ComputeManagementClient(credential, subscription)
        prices_client = make_prices_client(prices_transport)
        try:
            got = _fetch_regions(countries, compute, prices_client, tables, source, failures,
                                 report)
        finally:
            if compute_client is None and compute is not None:
                compute.close()
            close = getattr(owned_credential, "close", None)
            if callable(close):
                close()
            if prices_transport is None:
                prices_client.close()

    if not got.done:
        summary = "; ".join(f"{f.region}: {f.error}" for f in failures)
        raise CatalogFetchError(f"every Azure region failed ({_one_line(summary, 400)})",
                                hint="check the region names and your network, then retry")
    return CatalogFile(
        schema_version=SCHEMA_VERSION, provider="azure", fetched_at=fetched_at,
        source=_source(wanted, tables, got.skipped_gpu, got.skipped), currency="USD",
        regions=sorted(got.done), failed_regions=sorted(failures, key=lambda f: f.region),
        rows=sorted(got.rows, key=lambda r: (r.region, r.instance_type)),
    )
