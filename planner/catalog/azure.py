"""Fetch the Azure price catalog: VM sizes (azure-mgmt-compute) ∩ retail prices.

For every requested region:

1. the region must be in ``planner/data/regions.json`` (its country is needed);
2. VM sizes and capabilities come from the Resource SKUs API
   (:mod:`planner.catalog.azure_skus`), with subscription restrictions;
3. Linux on-demand and spot prices come from the public Retail Prices API
   (:mod:`planner.catalog.azure_prices`);
4. a row is a size that has an on-demand price (joined on ``armSkuName``),
   with its GPU from the maintained family table.

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
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.transport import HttpTransport
from azure.mgmt.compute import ComputeManagementClient

from planner.catalog.azure_prices import (
    CURRENCY,
    RETAIL_API_VERSION,
    RETAIL_PRICES_URL,
    RegionPrices,
    fetch_region_prices,
    make_prices_client,
    price_filter,
)
from planner.catalog.azure_skus import (
    GpuFamilyTable,
    UnmappedGpuFamily,
    VmSku,
    list_vm_skus,
    load_gpu_families,
    resolve_gpu,
    sku_filter,
)
from planner.catalog.schema import (
    SCHEMA_VERSION,
    CatalogFile,
    CatalogRow,
    CatalogSource,
    EgressPrices,
    RegionFailure,
)
from planner.errors import CatalogFetchError
from planner.jurisdictions import region_country

Progress = Callable[[str, str], None]

SKUS_ENDPOINT = "https://management.azure.com/subscriptions/{subscriptionId}/providers/Microsoft.Compute/skus"
# Azure list prices for data transfer out: between regions within a continent,
# and to the internet (first 10 TB/month tier; the first 100 GB/month are free).
EGRESS = EgressPrices(same_provider_per_gb=Decimal("0.02"), internet_per_gb=Decimal("0.087"))
AUTH_HINT = ("run `az login`, or set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID "
             "for a service principal; the identity needs the Reader role on the subscription")


@dataclass
class _RegionResult:
    rows: list[CatalogRow]
    skipped_gpu: list[str]


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


def _row(region: str, country: str, sku: VmSku, prices: RegionPrices,
         table: GpuFamilyTable) -> CatalogRow | None:
    """The catalog row of one size, or None when it has no on-demand Linux price.

    Raises :class:`UnmappedGpuFamily` for GPU sizes the family table does not know.
    """
    price = prices.on_demand.get(sku.name)
    if price is None or not sku.vcpus or not sku.memory_gib:
        return None
    gpu = resolve_gpu(sku, table)
    return CatalogRow(
        provider="azure", region=region, instance_type=sku.name, family=sku.family,
        architecture="arm64" if sku.architecture == "arm64" else "x86_64",
        vcpus=sku.vcpus, memory_gib=sku.memory_gib,
        gpu_model=gpu.model if gpu else None, gpu_vendor=gpu.vendor if gpu else None,
        gpu_count=gpu.count if gpu else 0, gpu_memory_gib=gpu.memory_gib if gpu else 0,
        price_per_hour=price, spot_price_per_hour=prices.spot.get(sku.name),
        country=country, availability="restricted" if sku.restricted else "available",
        restrictions=list(sku.restrictions),
    )


def _fetch_region(region: str, country: str, compute: ComputeManagementClient,
                  prices_client: PipelineClient,
                  table: GpuFamilyTable, report: Progress) -> _RegionResult:
    report(region, "listing VM sizes (Resource SKUs API)")
    skus = list_vm_skus(compute, region)
    report(region, f"{len(skus)} VM sizes; reading retail prices")
    prices = fetch_region_prices(prices_client, region)
    report(region, f"{prices.items} price items in {prices.pages} pages: "
                   f"{len(prices.on_demand)} on-demand, {len(prices.spot)} spot, "
                   f"{len(prices.low_priority)} low-priority (not used)")
    result = _RegionResult(rows=[], skipped_gpu=[])
    for sku in skus:
        try:
            row = _row(region, country, sku, prices, table)
        except UnmappedGpuFamily as exc:
            result.skipped_gpu.append(str(exc))
            continue
        if row is not None:
            result.rows.append(row)
    if result.skipped_gpu:
        report(region, f"skipped {len(result.skipped_gpu)} GPU sizes missing from the GPU "
                       f"family table: {', '.join(result.skipped_gpu)}")
    report(region, f"{len(result.rows)} rows")
    return result


def _unique(regions: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for region in regions:
        name = region.strip().lower()
        if name and name not in seen:
            seen.append(name)
    return seen


def _source(regions: list[str], table: GpuFamilyTable, skipped_gpu: list[str]) -> CatalogSource:
    try:
        sdk = f"azure-mgmt-compute {version('azure-mgmt-compute')}"
    except PackageNotFoundError:  # pragma: no cover - the SDK is a dependency
        sdk = "azure-mgmt-compute"
    note = None
    if skipped_gpu:
        note = ("GPU sizes skipped (family not in the GPU family table): "
                + ", ".join(sorted(set(skipped_gpu))))
    return CatalogSource(
        apis=["azure-mgmt-compute ResourceSkus.list", "Azure Retail Prices API"],
        endpoints=[SKUS_ENDPOINT, RETAIL_PRICES_URL],
        parameters={
            "regions_requested": sorted(regions),
            "resource_skus": {"sdk": sdk, "filter": sku_filter("{region}"),
                              "resourceType": "virtualMachines"},
            "retail_prices": {"api-version": RETAIL_API_VERSION, "currencyCode": CURRENCY,
                              "$filter": price_filter("{region}"),
                              "linux_on_demand": "productName without Windows/Win, "
                                                 "skuName/meterName without Spot/Low Priority",
                              "spot": "Spot in skuName or meterName",
                              "excluded": "Windows, Low Priority, non-hourly, zero prices"},
            "gpu_families": table.source,
            "egress": "Azure list prices: inter-region within a continent, "
                      "internet first 10 TB tier",
        },
        note=note,
    )


def fetch_azure(
    regions: Sequence[str],
    *,
    subscription_id: str | None = None,
    credential: TokenCredential | None = None,
    compute_client: ComputeManagementClient | None = None,
    prices_transport: HttpTransport | None = None,
    families: GpuFamilyTable | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> CatalogFile:
    """Fetch the Azure catalog for ``regions`` (ARM names such as ``westeurope``).

    ``subscription_id`` defaults to ``$AZURE_SUBSCRIPTION_ID`` and ``credential``
    to ``DefaultAzureCredential()``; both are unused when ``compute_client`` is
    given. ``prices_transport`` replaces the HTTP transport of the Retail
    Prices client (tests pass a canned one). ``families`` replaces the bundled
    GPU family table. ``progress(region, message)`` is told what happens per
    region. ``now`` fixes ``fetched_at`` (UTC; a naive value is taken as UTC).

    Raises :class:`~planner.errors.CatalogFetchError` on authentication or
    authorization failure, a missing subscription id, or when no region could
    be read.
    """
    wanted = _unique(regions)
    if not wanted:
        raise CatalogFetchError("no Azure regions to fetch", hint="name at least one region, "
                                "e.g. westeurope (see `az account list-locations -o table`)")
    table = families or load_gpu_families()
    report = progress or _quiet
    fetched_at = now or datetime.now(UTC)
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=UTC)

    failures: list[RegionFailure] = []
    countries: dict[str, str] = {}
    for region in wanted:
        country = region_country("azure", region)
        if country is None:
            error = f"unknown Azure region {region!r} (not in planner/data/regions.json)"
            failures.append(RegionFailure(region=region, error=error))
            report(region, f"failed: {error}")
        else:
            countries[region] = country

    rows: list[CatalogRow] = []
    done: list[str] = []
    skipped_gpu: list[str] = []
    if countries:
        owned_credential: TokenCredential | None = None
        if compute_client is None:
            subscription = _subscription(subscription_id)
            if credential is None:
                credential = owned_credential = _default_credential()
            compute = ComputeManagementClient(credential, subscription)
        else:
            compute = compute_client
        prices_client = make_prices_client(prices_transport)
        try:
            for region, country in countries.items():
                try:
                    result = _fetch_region(region, country, compute, prices_client, table, report)
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
                    rows.extend(result.rows)
                    skipped_gpu.extend(result.skipped_gpu)
                    done.append(region)
        finally:
            if compute_client is None:
                compute.close()
            close = getattr(owned_credential, "close", None)
            if callable(close):
                close()
            if prices_transport is None:
                prices_client.close()

    if not done:
        summary = "; ".join(f"{f.region}: {f.error}" for f in failures)
        raise CatalogFetchError(f"every Azure region failed ({_one_line(summary, 400)})",
                                hint="check the region names and your network, then retry")
    return CatalogFile(
        schema_version=SCHEMA_VERSION,
        provider="azure",
        fetched_at=fetched_at,
        source=_source(wanted, table, skipped_gpu),
        currency="USD",
        regions=sorted(done),
        failed_regions=sorted(failures, key=lambda f: f.region),
        egress=EGRESS,
        rows=sorted(rows, key=lambda r: (r.region, r.instance_type)),
    )
