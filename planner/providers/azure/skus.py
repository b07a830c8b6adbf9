"""Azure VM sizes: the Resource SKUs API and the GPU family table.

VM sizes and their capabilities come from azure-mgmt-compute's
``resource_skus.list(filter="location eq '<region>'")``; only resources of type
``virtualMachines`` are kept. Which GPU a size carries is not in that API in a
usable form, so it comes from a maintained table,
``planner/data/azure_gpu_families.json``: VM family (or size-name pattern) →
normalized GPU model, vendor and memory per GPU, with explicit counts for the
fractional (vGPU) sizes that the API reports as one whole GPU.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from azure.mgmt.compute import ComputeManagementClient

from planner.errors import CatalogFetchError
from planner.vocab.gpus import GPU_MODELS

GPU_FAMILIES_RESOURCE = "data/azure_gpu_families.json"

# Restriction reasons that make a size unusable in a whole region for this subscription.
BLOCKING_REASONS = frozenset({"NotAvailableForSubscription", "QuotaId"})


@dataclass(frozen=True)
class GpuFamily:
    """One GPU VM series: how to recognize its sizes and which GPU they carry."""

    series: str
    families: tuple[str, ...]
    size_pattern: re.Pattern[str]
    gpu: str
    vendor: str
    memory_gib_per_gpu: float
    gpu_counts: Mapping[str, Fraction] = field(default_factory=dict)


@dataclass(frozen=True)
class GpuFamilyTable:
    """The GPU family table; :meth:`lookup` finds the entry of a VM size."""

    entries: tuple[GpuFamily, ...]
    source: str = GPU_FAMILIES_RESOURCE

    def lookup(self, family: str, size_name: str) -> GpuFamily | None:
        """The entry for a size: by its SKU family first, then by its name pattern."""
        wanted = family.casefold()
        for entry in self.entries:
            if any(f.casefold() == wanted for f in entry.families):
                return entry
        for entry in self.entries:
            if entry.size_pattern.fullmatch(size_name):
                return entry
        return None


@dataclass(frozen=True)
class GpuSpec:
    """The GPUs of one VM size (``count`` may be fractional for vGPU sizes)."""

    model: str
    vendor: str
    count: float
    memory_gib: float


@dataclass(frozen=True)
class VmSku:
    """A VM size offered in a region, with the capabilities the catalog needs."""

    name: str
    family: str
    vcpus: int | None
    memory_gib: float | None
    gpus: int | None
    architecture: str
    restricted: bool
    restrictions: tuple[str, ...]


class UnmappedGpuFamily(ValueError):
    """A size reports GPUs but its family is not in the GPU family table."""


def _bad_table(source: str, where: str, problem: str) -> CatalogFetchError:
    return CatalogFetchError(f"{where}: {problem}", source=source,
                             hint="fix the Azure GPU family table (planner/data)")


def _parse_entry(raw: Mapping[str, Any], index: int, source: str) -> GpuFamily:
    where = f"families[{index}]"
    try:
        gpu = str(raw["gpu"])
        vendor = str(raw["vendor"])
        pattern = re.compile(str(raw["size_pattern"]), re.IGNORECASE)
        counts = {str(k): Fraction(str(v)) for k, v in dict(raw.get("gpu_counts", {})).items()}
        entry = GpuFamily(series=str(raw["series"]),
                          families=tuple(str(f) for f in raw.get("families", [])),
                          size_pattern=pattern, gpu=gpu, vendor=vendor,
                          memory_gib_per_gpu=float(raw["memory_gib_per_gpu"]), gpu_counts=counts)
    except (KeyError, TypeError, ValueError, ZeroDivisionError, re.error) as exc:
        raise _bad_table(source, where, f"invalid entry ({type(exc).__name__}: {exc})") from exc
    model = GPU_MODELS.get(gpu)
    if model is None:
        raise _bad_table(source, f"{where}.gpu", f"unknown GPU model {gpu!r}")
    if model.vendor != vendor:
        raise _bad_table(source, f"{where}.vendor",
                         f"{gpu} is made by {model.vendor!r}, not {vendor!r}")
    if any(c <= 0 for c in counts.values()):
        raise _bad_table(source, f"{where}.gpu_counts", "GPU counts must be positive")
    return entry


def parse_gpu_families(data: Mapping[str, Any],
                       source: str = GPU_FAMILIES_RESOURCE) -> GpuFamilyTable:
    """Validate a GPU family table already read from JSON."""
    raw_entries = data.get("families")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise _bad_table(source, "families", "expected a non-empty list")
    entries = tuple(_parse_entry(raw, i, source) for i, raw in enumerate(raw_entries))
    return GpuFamilyTable(entries=entries, source=source)


def load_gpu_families(path: Path | None = None) -> GpuFamilyTable:
    """Load the GPU family table (the bundled one unless ``path`` is given)."""
    if path is None:
        text = resources.files("planner").joinpath(GPU_FAMILIES_RESOURCE).read_text("utf-8")
        return parse_gpu_families(json.loads(text))
    return parse_gpu_families(json.loads(path.read_text("utf-8")), source=str(path))


def resolve_gpu(sku: VmSku, table: GpuFamilyTable) -> GpuSpec | None:
    """The GPUs of a size, or ``None`` for a CPU-only size.

    Raises :class:`UnmappedGpuFamily` when the size reports GPUs but the table
    does not know its family, or knows the family but cannot tell the count.
    """
    entry = table.lookup(sku.family, sku.name)
    if entry is None:
        if sku.gpus:
            raise UnmappedGpuFamily(f"{sku.family} ({sku.name})")
        return None
    count = entry.gpu_counts.get(sku.name)
    if count is None:
        if not sku.gpus:
            raise UnmappedGpuFamily(f"{sku.family} ({sku.name}): no GPU count")
        count = Fraction(sku.gpus)
    memory = count * Fraction(str(entry.memory_gib_per_gpu))
    return GpuSpec(model=entry.gpu, vendor=entry.vendor, count=float(count),
                   memory_gib=float(memory))


def _text(value: object) -> str:
    """An SDK string or string-enum as plain text."""
    if isinstance(value, Enum):
        return str(value.value)
    return "" if value is None else str(value)


def _capabilities(sku: Any) -> dict[str, str]:
    caps: dict[str, str] = {}
    for cap in getattr(sku, "capabilities", None) or []:
        name = _text(getattr(cap, "name", None))
        if name:
            caps[name] = _text(getattr(cap, "value", None))
    return caps


def _number(caps: Mapping[str, str], name: str) -> float | None:
    raw = caps.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _restriction_values(restriction: Any) -> list[str]:
    # azure-mgmt-compute >= 34 renames ``values`` (a list) to ``values_property``.
    values = getattr(restriction, "values_property", None)
    if values is None:
        legacy = getattr(restriction, "values", None)
        values = legacy if isinstance(legacy, list) else []
    return [_text(v) for v in values]


def describe_restrictions(restrictions: Iterable[Any]) -> tuple[bool, tuple[str, ...]]:
    """(size unusable in the whole region?, one readable line per restriction)."""
    blocked = False
    texts: list[str] = []
    for restriction in restrictions:
        kind = _text(getattr(restriction, "type", None)) or "Location"
        reason = _text(getattr(restriction, "reason_code", None)) or "unspecified"
        values = ", ".join(_restriction_values(restriction))
        if kind.casefold() == "zone":
            info = getattr(restriction, "restriction_info", None)
            zones = ", ".join(_text(z) for z in (getattr(info, "zones", None) or []))
            texts.append(f"{reason}: zones {zones or '?'} in {values or '?'}")
        else:
            blocked = blocked or reason in BLOCKING_REASONS
            texts.append(f"{reason}: {kind.lower()} {values or '?'}")
    return blocked, tuple(texts)


def vm_sku_from_model(sku: Any, region: str) -> VmSku | None:
    """A :class:`VmSku` from an SDK ``ResourceSku``, or ``None`` if it is not a VM
    size offered in ``region``."""
    if _text(getattr(sku, "resource_type", None)) != "virtualMachines":
        return None
    name = _text(getattr(sku, "name", None))
    if not name:
        return None
    locations = [_text(loc).lower() for loc in getattr(sku, "locations", None) or []]
    if locations and region not in locations:
        return None
    caps = _capabilities(sku)
    vcpus = _number(caps, "vCPUs")
    gpus = _number(caps, "GPUs")
    arch = caps.get("CpuArchitectureType", "x64").casefold()
    blocked, texts = describe_restrictions(getattr(sku, "restrictions", None) or [])
    return VmSku(
        name=name,
        family=_text(getattr(sku, "family", None)),
        vcpus=int(vcpus) if vcpus else None,
        memory_gib=_number(caps, "MemoryGB"),
        gpus=int(gpus) if gpus else None,
        architecture="arm64" if arch in ("arm64", "aarch64") else "x86_64",
        restricted=blocked,
        restrictions=texts,
    )


def sku_filter(region: str) -> str:
    """The OData filter the Resource SKUs API gets for one region."""
    return f"location eq '{region}'"


def list_vm_skus(client: ComputeManagementClient, region: str) -> list[VmSku]:
    """Every VM size the subscription sees in ``region`` (follows ``nextLink`` pages)."""
    seen: dict[str, VmSku] = {}
    for raw in client.resource_skus.list(filter=sku_filter(region)):
        sku = vm_sku_from_model(raw, region)
        if sku is not None and sku.name not in seen:
            seen[sku.name] = sku
    return [seen[name] for name in sorted(seen)]
