"""Azure catalog rows from selected prices: one row per priced VM size.

Both the credentialed fetch (sizes and restrictions from the Resource SKUs API)
and the keyless paths (keyless refresh and the ``azure-retail`` importer: sizes
from the price list, facts from :mod:`planner.providers.azure.sizes`) go through
:func:`size_row`, after :func:`planner.providers.azure.items.select_prices`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from planner.catalog.schema import CatalogRow, RowSource
from planner.providers.azure.items import RegionPrices
from planner.providers.azure.sizes import SizeTable, architecture_of
from planner.providers.azure.skus import GpuFamilyTable, UnmappedGpuFamily, VmSku, resolve_gpu

KEYLESS_CAVEAT = ("no SKU restrictions: sizes come from the public price list, so sizes your "
                  "subscription cannot use (restrictions, quotas) are not marked")
"""What a catalog built without the Resource SKUs API cannot know; said in its source."""

UNKNOWN_SIZE = "unknown_size_facts"
UNMAPPED_GPU = "unmapped_gpu_family"
INVALID_ROW = "invalid_row"
"""A size whose row the catalog schema refuses (e.g. a price above 1000 USD/h: a unit
mix-up in the feed): skipped and counted like AWS's malformed entries, so one bad item
costs one row (which the store's row-loss check counts), not the whole region."""


def _first_error(exc: ValidationError) -> str:
    """``field: message`` of the first thing the schema refused in a row."""
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def keyless_sku(size: str, sizes: SizeTable) -> VmSku | None:
    """A size as the Resource SKUs API would describe it, from the size table alone
    (None when the table does not know its vCPUs and memory)."""
    facts = sizes.facts(size)
    if facts is None:
        return None
    return VmSku(name=size, family="", vcpus=facts.vcpus, memory_gib=facts.memory_gib,
                 gpus=facts.gpus or None, architecture=architecture_of(size),
                 restricted=False, restrictions=())


def size_row(region: str, country: str, sku: VmSku, prices: RegionPrices,
             table: GpuFamilyTable, source: RowSource) -> CatalogRow | None:
    """The catalog row of one size, or None when it has no on-demand Linux price.

    Raises :class:`UnmappedGpuFamily` for GPU sizes the family table does not know.
    """
    price = prices.size(sku.name)
    if price.on_demand is None or not sku.vcpus or not sku.memory_gib:
        return None
    gpu = resolve_gpu(sku, table)
    return CatalogRow(
        provider="azure", region=region, instance_type=sku.name, family=sku.family,
        architecture="arm64" if sku.architecture == "arm64" else "x86_64",
        vcpus=sku.vcpus, memory_gib=sku.memory_gib,
        gpu_model=gpu.model if gpu else None, gpu_vendor=gpu.vendor if gpu else None,
        gpu_count=gpu.count if gpu else 0, gpu_memory_gib=gpu.memory_gib if gpu else 0,
        price_per_hour=price.on_demand, spot_price_per_hour=price.spot,
        commit_1y_per_hour=price.commit_1y, commit_3y_per_hour=price.commit_3y,
        source=source, country=country,
        availability="restricted" if sku.restricted else "available",
        restrictions=list(sku.restrictions),
    )


@dataclass
class RegionRows:
    """The rows of one region and what was skipped (reason → count; unmapped GPU sizes)."""

    rows: list[CatalogRow] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_gpu: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    """``size: why`` of every size skipped as :data:`INVALID_ROW`."""

    def skip(self, reason: str) -> None:
        """Count one skipped size."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def region_rows(region: str, country: str, skus: Iterable[VmSku], prices: RegionPrices,
                table: GpuFamilyTable, source: RowSource,
                out: RegionRows | None = None) -> RegionRows:
    """Rows of every size in ``skus`` that has an on-demand price; a size whose row
    does not validate is skipped and counted (:data:`INVALID_ROW`)."""
    result = out or RegionRows()
    for sku in skus:
        try:
            row = size_row(region, country, sku, prices, table, source)
        except UnmappedGpuFamily as exc:
            result.skipped_gpu.append(str(exc))
            result.skip(UNMAPPED_GPU)
            continue
        except ValidationError as exc:
            result.invalid.append(f"{sku.name}: {_first_error(exc)}")
            result.skip(INVALID_ROW)
            continue
        if row is not None:
            result.rows.append(row)
    return result


def keyless_region_rows(region: str, country: str, prices: RegionPrices, table: GpuFamilyTable,
                        sizes: SizeTable, source: RowSource) -> RegionRows:
    """Rows of every priced size, with facts from the size table (no Resource SKUs API)."""
    result = RegionRows()
    skus = []
    for size in prices.sizes():
        sku = keyless_sku(size, sizes)
        if sku is None:
            result.skip(UNKNOWN_SIZE)
        else:
            skus.append(sku)
    return region_rows(region, country, skus, prices, table, source, result)
