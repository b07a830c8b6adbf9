"""Read-only queries over loaded catalog snapshots (``planner catalog show``).

Like SkyPilot's ``show-gpus``: which instance types carry a GPU model, where,
and at what price. Pure functions over :class:`LoadedCatalog` lists; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from planner.catalog.load import LoadedCatalog
from planner.catalog.provenance import Provenance, row_provenance
from planner.catalog.schema import CatalogFile, CatalogRow
from planner.errors import InputError
from planner.vocab.gpus import GPU_MODELS, closest, normalize_gpu


@dataclass(frozen=True)
class GpuOffer:
    """One instance type in one region that carries the requested GPU."""

    gpu_model: str
    gpu_count: float
    instance_type: str
    provider: str
    region: str
    vcpus: int
    memory_gib: float
    gpu_memory_gib: float
    price_per_hour: Decimal
    spot_price_per_hour: Decimal | None
    gpu_vendor: str | None = None
    spot_price_at: datetime | None = None
    commit_1y_per_hour: Decimal | None = None
    commit_3y_per_hour: Decimal | None = None
    source: Provenance | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; prices stay :class:`Decimal` (write them with ``dump_json``)."""
        return {
            "gpu_model": self.gpu_model, "gpu_count": self.gpu_count,
            "instance_type": self.instance_type, "provider": self.provider,
            "region": self.region, "vcpus": self.vcpus, "memory_gib": self.memory_gib,
            "gpu_memory_gib": self.gpu_memory_gib, "price_per_hour": self.price_per_hour,
            "spot_price_per_hour": self.spot_price_per_hour, "gpu_vendor": self.gpu_vendor,
            "spot_price_at": self.spot_price_at, "commit_1y_per_hour": self.commit_1y_per_hour,
            "commit_3y_per_hour": self.commit_3y_per_hour,
            "source": None if self.source is None else {
                "kind": self.source.kind, "ref": self.source.ref,
                "fetched_at": self.source.fetched_at, "from_file": self.source.inherited},
        }


def _offer(row: CatalogRow, catalog: CatalogFile) -> GpuOffer:
    assert row.price_per_hour is not None and row.gpu_model is not None  # validated on load
    return GpuOffer(
        gpu_model=row.gpu_model, gpu_count=row.gpu_count, instance_type=row.instance_type,
        provider=row.provider, region=row.region, vcpus=row.vcpus, memory_gib=row.memory_gib,
        gpu_memory_gib=row.gpu_memory_gib, price_per_hour=row.price_per_hour,
        spot_price_per_hour=row.spot_price_per_hour, gpu_vendor=row.gpu_vendor,
        spot_price_at=row.spot_price_at, commit_1y_per_hour=row.commit_1y_per_hour,
        commit_3y_per_hour=row.commit_3y_per_hour, source=row_provenance(row, catalog))


def known_gpu_models(loaded: Iterable[LoadedCatalog]) -> set[str]:
    """The GPU vocabulary plus every model name that appears in the catalogs."""
    names = set(GPU_MODELS)
    for item in loaded:
        names.update(r.gpu_model for r in item.catalog.rows if r.gpu_model)
    return names


def match_gpu_models(query: str, known: Iterable[str]) -> set[str]:
    """Models ``query`` names: exact or ``query-…`` prefix (case-insensitive), or its alias.

    ``A100`` matches ``A100-40GB`` and ``A100-80GB``; ``A10`` matches ``A10``
    only (not ``A10G`` or ``A100-…``); ``a100 80gb`` is normalized to ``A100-80GB``.
    """
    q = query.strip().upper()
    names = set(known)
    matched = {n for n in names if n.upper() == q or n.upper().startswith(q + "-")}
    alias = normalize_gpu(query)
    if alias is not None:
        matched.add(alias)
    return matched


def _check_regions(loaded: Sequence[LoadedCatalog], regions: Sequence[str]) -> None:
    """Reject region names that no loaded catalog holds, with the closest one."""
    present = {r.region for item in loaded for r in item.catalog.rows}
    for region in regions:
        if region not in present:
            guess = closest(region, present)
            hint = f"did you mean {guess!r}?" if guess else "no catalog holds rows for it"
            raise InputError(f"unknown region {region!r}", path="--region", hint=hint)


def _models_for(loaded: Sequence[LoadedCatalog], gpu: str | None,
                vendor: str | None) -> set[str]:
    """The models a query names: by model or family (``--gpu``) and/or vendor."""
    known = known_gpu_models(loaded)
    models = set(known)
    if gpu:
        models = match_gpu_models(gpu, known)
        if not models:
            families = {name.split("-")[0] for name in known}  # A100-80GB -> A100
            guess = closest(gpu, known | families)
            hint = f"did you mean {guess!r}?" if guess else "see `planner catalog show --help`"
            raise InputError(f"unknown GPU model {gpu!r}", path="--gpu", hint=hint)
    if vendor:
        vendors = {m.vendor for m in GPU_MODELS.values()}
        wanted = vendor.strip().lower()
        if wanted not in vendors:
            guess = closest(wanted, vendors)
            hint = f"did you mean {guess!r}?" if guess else "one of " + ", ".join(sorted(vendors))
            raise InputError(f"unknown accelerator vendor {vendor!r}", path="--vendor", hint=hint)
        models = {m for m in models if m in GPU_MODELS and GPU_MODELS[m].vendor == wanted}
    return models


def find_gpu_offers(loaded: Sequence[LoadedCatalog], gpu: str | None = None, *,
                    vendor: str | None = None, regions: Sequence[str] = (),
                    providers: Sequence[str] = ()) -> list[GpuOffer]:
    """Every row carrying an accelerator matching ``gpu`` (a model or family such as
    ``A100``) and/or ``vendor`` (``nvidia``, ``amd``, ``aws`` …), cheapest first.

    Sorted by on-demand price, then provider, region and instance type.
    Raises ``InputError`` (exit code 2) for an unknown GPU, vendor or region, naming
    the closest valid name, and when neither ``gpu`` nor ``vendor`` is given.
    """
    if not gpu and not vendor:
        raise InputError("name a GPU model/family or a vendor", path="--gpu",
                         hint="e.g. --gpu H100, --gpu A100 or --vendor amd")
    models = _models_for(loaded, gpu, vendor)
    if regions:
        _check_regions(loaded, regions)
    offers = []
    for item in loaded:
        if providers and item.catalog.provider not in providers:
            continue
        for row in item.catalog.rows:
            if row.gpu_model is None or row.gpu_model not in models or row.gpu_count <= 0:
                continue
            if regions and row.region not in regions:
                continue
            offers.append(_offer(row, item.catalog))
    offers.sort(key=lambda o: (o.price_per_hour, o.provider, o.region, o.instance_type))
    return offers
