"""Import catalogs users already have, into the planner's catalog format.

* ``skypilot``: SkyPilot's public catalog CSVs (``vms.csv``: ``InstanceType,
  AcceleratorName, AcceleratorCount, vCPUs, MemoryGiB, Price, SpotPrice, Region``
  and, for AWS, ``AvailabilityZone``): one line per zone becomes one row per
  (region, instance type); the spot price is the lowest over the zones (the CSV
  gives no time for it), the on-demand price the lowest listed (it is regional).
* ``azure-retail``: pages of the Azure Retail Prices API as ``curl`` saves them
  (``{"Items": [...], "NextPageLink": ...}``), read by the Azure fetcher's own
  parser (:func:`planner.providers.azure.items.select_prices`,
  :func:`planner.providers.azure.rows.keyless_region_rows`).

Every row carries ``source.kind = "import"`` and a ``ref`` naming the file(s) and
the first 12 hex digits of their sha256. The result is a :class:`CatalogFile`
that the CLI hands to the catalog store like a refresh (validation, lock,
row-loss checks, ``--force``). Bad input is one :class:`InputError` line naming
the file, the line/column or item and a hint.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from planner.catalog.schema import (
    SCHEMA_VERSION,
    CatalogFile,
    CatalogRow,
    CatalogSource,
    RegionFailure,
    RowSource,
)
from planner.errors import InputError
from planner.providers.registry import cloud_providers
from planner.vocab.gpus import GPU_MODELS, normalize_gpu
from planner.vocab.jurisdictions import region_country

MAX_IMPORT_BYTES = 512 * 1024 * 1024
"""The largest file an import reads (SkyPilot's AWS vms.csv is about 10 MB)."""

SKYPILOT_COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs",
                    "MemoryGiB", "Price", "SpotPrice", "Region")
Progress = Callable[[str, str], None]


def read_bounded(path: Path) -> bytes:
    """The bytes of an import file (a regular file, at most :data:`MAX_IMPORT_BYTES`)."""
    try:
        if not path.is_file():
            raise InputError("not a regular file", source=str(path),
                             hint="pass the path of a downloaded catalog file")
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise InputError(f"file is {size} bytes, more than the {MAX_IMPORT_BYTES} an "
                             "import reads", source=str(path), hint="split it by region")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=str(path)) from exc


def file_ref(paths: Sequence[Path], blobs: Sequence[bytes]) -> str:
    """``vms.csv sha256:0123456789ab`` (several files joined by ``, ``)."""
    return ", ".join(f"{p.name} sha256:{hashlib.sha256(b).hexdigest()[:12]}"
                     for p, b in zip(paths, blobs, strict=True))


@dataclass
class _TypeInRegion:
    """What the CSV lines (one per zone) say about one instance type in one region."""

    line: dict[str, str]
    price: Decimal
    spot: Decimal | None
    zones: set[str] = field(default_factory=set)


def _decimal(value: str, where: str, source: str, *, optional: bool) -> Decimal | None:
    text = value.strip()
    if not text and optional:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number < 0:
        raise InputError(f"not a price: {value!r}", source=source, path=where,
                         hint="prices are non-negative USD per hour")
    return number


def _number(value: str, where: str, source: str) -> float:
    try:
        number = float(value.strip() or "0")
    except ValueError as exc:
        raise InputError(f"not a number: {value!r}", source=source, path=where) from exc
    if number != number or number < 0:
        raise InputError(f"not a non-negative number: {value!r}", source=source, path=where)
    return number


def _skypilot_lines(raw: bytes, source: str) -> list[dict[str, str]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", source=source, hint="expected a CSV file") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in SKYPILOT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", source=source,
                         hint="expected a SkyPilot catalog CSV with columns "
                              + ", ".join(SKYPILOT_COLUMNS))
    return [dict(line) for line in reader]


def _collect(lines: list[dict[str, str]], source: str) -> tuple[dict[tuple[str, str],
                                                                      _TypeInRegion], int]:
    """Group zone lines by (region, instance type); count lines without a price."""
    grouped: dict[tuple[str, str], _TypeInRegion] = {}
    unpriced = 0
    for number, line in enumerate(lines, start=2):  # line 1 is the header
        region, name = (line.get("Region") or "").strip(), (line.get("InstanceType") or "").strip()
        price = _decimal(line.get("Price") or "", f"line {number}, column Price", source,
                         optional=True)
        spot = _decimal(line.get("SpotPrice") or "", f"line {number}, column SpotPrice",
                        source, optional=True)
        if not region or not name or price is None or price == 0:
            unpriced += 1
            continue
        key = (region, name)
        have = grouped.get(key)
        if have is None:
            have = grouped[key] = _TypeInRegion(dict(line, _line=str(number)), price, None)
        have.price = min(have.price, price)
        if spot is not None and spot > 0:  # a 0 is no quote, on any zone's line
            have.spot = spot if have.spot is None else min(have.spot, spot)
        have.zones.add((line.get("AvailabilityZone") or "").strip())
    return grouped, unpriced


MAX_GPU_INFO_CHARS = 4096


def gpu_memory_per_device(gpu_info: str) -> float | None:
    """GiB per accelerator from SkyPilot's ``GpuInfo`` column (a Python-literal dict such as
    ``{'Gpus': [{'Name': 'A100', 'MemoryInfo': {'SizeInMiB': 40960}, …}], …}``), or None."""
    text = gpu_info.strip()
    if not text or len(text) > MAX_GPU_INFO_CHARS:
        return None
    try:
        info = ast.literal_eval(text)
        mib = info["Gpus"][0]["MemoryInfo"]["SizeInMiB"]
    except (ValueError, SyntaxError, TypeError, KeyError, IndexError, MemoryError,
            RecursionError):
        return None
    return float(mib) / 1024 if isinstance(mib, int | float) and mib > 0 else None


def _skypilot_row(provider: str, region: str, country: str,
                  entry: _TypeInRegion, row_source: RowSource, source: str) -> CatalogRow | str:
    """One catalog row, or the reason the type is skipped."""
    line, where = entry.line, f"line {entry.line['_line']}"
    name = line["InstanceType"].strip()
    accel = (line.get("AcceleratorName") or "").strip()
    count = _number(line.get("AcceleratorCount") or "", f"{where}, column AcceleratorCount",
                    source) if accel else 0.0
    # the memory tells A100 40 GB from 80 GB (and V100 16 from 32 GB)
    model = normalize_gpu(accel, gpu_memory_per_device(line.get("GpuInfo") or "")) if accel \
        else None
    if accel and model is None:
        return f"unknown_accelerator:{accel}"
    family, default_arch = cloud_providers()[provider].row_facts()(name)
    arch = (line.get("Arch") or "").strip() or default_arch
    vcpus = _number(line.get("vCPUs") or "", f"{where}, column vCPUs", source)
    return CatalogRow(
        provider=provider, region=region, instance_type=name, family=family,
        architecture="arm64" if arch in ("arm64", "aarch64") else "x86_64",
        vcpus=int(vcpus), memory_gib=_number(line.get("MemoryGiB") or "",
                                             f"{where}, column MemoryGiB", source),
        gpu_model=model, gpu_vendor=GPU_MODELS[model].vendor if model else None,
        gpu_count=count if model else 0.0,
        gpu_memory_gib=count * GPU_MODELS[model].memory_gib if model else 0.0,
        price_per_hour=entry.price, spot_price_per_hour=entry.spot, source=row_source,
        country=country,
    )


@dataclass
class _Built:
    rows: list[CatalogRow] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)

    def skip(self, region: str, reason: str) -> None:
        counts = self.skipped.setdefault(region, {})
        counts[reason] = counts.get(reason, 0) + 1


def import_skypilot(paths: Sequence[Path], provider: str, *, now: datetime | None = None,
                    progress: Progress | None = None) -> CatalogFile:
    """A catalog from SkyPilot ``vms.csv`` file(s) of ``provider`` (see the module doc)."""
    importable = [n for n, p in cloud_providers().items() if p.instance_facts]
    if provider not in importable:
        raise InputError(f"unknown provider {provider!r}", path="--provider",
                         hint="choose " + " or ".join(importable))
    prov = provider
    when = (now or datetime.now(UTC)).astimezone(UTC)
    blobs = [read_bounded(p) for p in paths]
    row_source = RowSource(kind="import", ref="SkyPilot catalog " + file_ref(paths, blobs),
                           fetched_at=when)
    built = _Built()
    unpriced = 0
    for path, blob in zip(paths, blobs, strict=True):
        grouped, missing = _collect(_skypilot_lines(blob, str(path)), str(path))
        unpriced += missing
        for (region, _name), entry in sorted(grouped.items()):
            country = region_country(prov, region)
            if country is None:
                built.failed[region] = (f"unknown {prov} region {region!r} (not in "
                                        "planner/data/regions.json)")
                continue
            row = _skypilot_row(prov, region, country, entry, row_source, str(path))
            if isinstance(row, str):
                built.skip(region, row)
            else:
                built.rows.append(row)
    say = progress or (lambda _r, _m: None)
    say("all", f"{len(built.rows)} rows from {len(paths)} file(s); {unpriced} line(s) "
               "without an on-demand price skipped")
    params = {"format": "skypilot", "files": row_source.ref, "lines_without_price": unpriced,
              "spot": "lowest SpotPrice over the zones of a region (no time given)"}
    return _catalog(prov, when, built, params, row_source.ref)


def _items_of(blob: bytes, source: str) -> list[Any]:
    try:
        page = json.loads(blob, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"not JSON: {exc}", source=source,
                         hint="expected a Retail Prices API page as curl saves it") from exc
    items = page.get("Items") if isinstance(page, dict) else None
    if not isinstance(items, list):
        raise InputError("no 'Items' list", source=source,
                         hint='expected {"Items": [...], "NextPageLink": ...}')
    return items


def import_azure_retail(paths: Sequence[Path], *, now: datetime | None = None,
                        progress: Progress | None = None) -> CatalogFile:
    """A catalog from saved Azure Retail Prices API pages (see the module doc)."""
    from planner.providers.azure.items import select_prices
    from planner.providers.azure.rows import KEYLESS_CAVEAT, keyless_region_rows
    from planner.providers.azure.sizes import load_size_table
    from planner.providers.azure.skus import load_gpu_families

    when = (now or datetime.now(UTC)).astimezone(UTC)
    blobs = [read_bounded(p) for p in paths]
    ref = "Azure Retail Prices API pages " + file_ref(paths, blobs)
    row_source = RowSource(kind="import", ref=f"{ref} (no SKU restrictions)", fetched_at=when)
    by_region: dict[str, list[Any]] = {}
    for path, blob in zip(paths, blobs, strict=True):
        for item in _items_of(blob, str(path)):
            region = str(item.get("armRegionName") or "").lower() if isinstance(item, dict) else ""
            if region:
                by_region.setdefault(region, []).append(item)
    sizes, gpus, built = load_size_table(), load_gpu_families(), _Built()
    for region, items in sorted(by_region.items()):
        country = region_country("azure", region)
        if country is None:
            built.failed[region] = f"unknown azure region {region!r} (not in regions.json)"
            continue
        try:
            prices = select_prices(region, items, rename=sizes.name)
        except ValueError as exc:  # a non-USD page
            raise InputError(str(exc), source=", ".join(map(str, paths)),
                             hint="save the pages with currencyCode='USD'") from exc
        result = keyless_region_rows(region, country, prices, gpus, sizes, row_source)
        if not result.rows:
            built.failed[region] = (f"{len(items)} price items but no priced VM size that "
                                    f"{sizes.source} knows")
        built.rows.extend(result.rows)
        if result.skipped:
            built.skipped[region] = dict(sorted(result.skipped.items()))
    say = progress or (lambda _r, _m: None)
    say("all", f"{len(built.rows)} rows in {len(by_region)} region(s) from {len(paths)} file(s)")
    params = {"format": "azure-retail", "files": ref, "vm_sizes": sizes.source,
              "restrictions": KEYLESS_CAVEAT}
    return _catalog("azure", when, built, params, ref + "; " + KEYLESS_CAVEAT)


def _catalog(provider: str, when: datetime, built: _Built,
             params: dict[str, Any], note: str) -> CatalogFile:
    regions = sorted({r.region for r in built.rows})
    skipped = sum(sum(v.values()) for v in built.skipped.values())
    return CatalogFile(
        schema_version=SCHEMA_VERSION, provider=provider, fetched_at=when,
        source=CatalogSource(apis=[f"import ({params['format']})"],
                             parameters={**params, "skipped_rows": built.skipped},
                             note=f"imported from {note}"
                                  + (f"; {skipped} types skipped (parameters.skipped_rows)"
                                     if skipped else "")),
        currency="USD", regions=regions,
        failed_regions=[RegionFailure(region=r, error=e) for r, e in sorted(built.failed.items())
                        if r not in regions],
        rows=sorted(built.rows, key=lambda r: (r.region, r.instance_type)),
    )
