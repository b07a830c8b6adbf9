"""The versioned catalog file schema: one JSON file per provider in ``catalogs/``.

A file is an envelope (provider, when and how it was fetched, which regions
succeeded or failed, currency) around rows, one per
(region, instance type). Prices are USD per hour as decimals; they are
validated when a catalog loads: NaN, infinite, negative, missing or absurd
(above :data:`MAX_PRICE_PER_HOUR`) prices are rejected with the row named, and
so are booleans or strings where a number belongs, sizes beyond any real
instance and GPU models outside the planner's vocabulary (``planner.vocab.gpus``).
Rules that span rows (duplicates, regions without rows) live in
:mod:`planner.catalog.checks`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from planner.vocab.gpus import GPU_MODELS, closest

SCHEMA_VERSION = 1

MAX_PRICE_PER_HOUR = Decimal(1000)
"""The highest price per instance-hour (USD) a catalog may hold; the most expensive
instance types today cost about 400 USD/h (AWS u7in-32tb), so a larger value is a
unit mix-up or a corrupt row."""

MAX_EGRESS_PER_GB = Decimal(10)
"""The highest egress price (USD per GB) a catalog may hold (real ones are below 0.25)."""

MAX_VCPUS = 4096
MAX_MEMORY_GIB = 131072.0
MAX_GPUS = 64
MAX_GPU_MEMORY_GIB = 16384.0
"""Upper bounds on an instance's size: far above any real instance type."""

PROVIDER_NAME = r"^[a-z][a-z0-9-]*$"
"""A provider name (``aws``, ``azure`` …): the registry of :mod:`planner.providers` knows
which exist; the catalog reader only checks the spelling, and that ``<name>.json`` says
``"provider": "<name>"``."""


def _check_price(value: Decimal | None, *, required: bool) -> Decimal | None:
    if value is None:
        if required:
            raise ValueError("on-demand price is missing")
        return None
    if value.is_nan() or value.is_infinite():
        raise ValueError(f"price must be a finite number, got {value}")
    if value < 0:
        raise ValueError(f"price must not be negative, got {value}")
    if value > MAX_PRICE_PER_HOUR:
        raise ValueError(f"price {value} USD/h is above the sane maximum of "
                         f"{MAX_PRICE_PER_HOUR} USD/h (a unit mix-up?)")
    return value


def _in_utc(value: datetime) -> datetime:
    """A ``fetched_at`` instant, in UTC; a time without a zone is refused."""
    if value.tzinfo is None:
        raise ValueError("fetched_at must carry a timezone (UTC), e.g. 2026-11-01T00:00:00Z")
    return value.astimezone(UTC)


def _check_gpu_model(value: str | None) -> str | None:
    if value is None or value in GPU_MODELS:
        return value
    guess = closest(value, set(GPU_MODELS))
    hint = f"did you mean {guess!r}?" if guess else "see planner/vocab/gpus.py for the known models"
    raise ValueError(f"unknown GPU model {value!r} ({hint})")


class CatalogSource(BaseModel):
    """Where the rows came from: APIs, endpoints and the parameters used."""

    model_config = ConfigDict(extra="forbid")

    apis: list[str]
    endpoints: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


class RegionFailure(BaseModel):
    """A region the fetch could not read, with the error it got."""

    model_config = ConfigDict(extra="forbid")

    region: str
    error: str


class EgressPrices(BaseModel):
    """Legacy: one flat data-transfer-out price per provider (USD per GB), as catalogs
    written before ``planner/data/egress.json`` carried it. Still read and validated so old
    catalogs load; prices come from the egress table, which knows regions and continents."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    same_provider_per_gb: Decimal = Field(ge=0, le=MAX_EGRESS_PER_GB)
    internet_per_gb: Decimal = Field(ge=0, le=MAX_EGRESS_PER_GB)


SourceKind = Literal["api", "bulk", "import", "transcribed"]
"""How a row's prices were obtained: a provider API with credentials (``api``), a public
price list or keyless API (``bulk``), a file the user imported (``import``), or copied by
hand from a named public source (``transcribed``). Estimates are never allowed."""


class RowSource(BaseModel):
    """Provenance of one row's prices: how, from where (API name, file, or the public
    source's name/URL and its date) and when they were read."""

    model_config = ConfigDict(extra="forbid")

    kind: SourceKind
    ref: str = Field(min_length=1, description="API, file, or named public source and date")
    fetched_at: datetime

    _utc = field_validator("fetched_at")(_in_utc)


class CatalogRow(BaseModel):
    """One instance type in one region, with its facts and prices."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    provider: str = Field(pattern=PROVIDER_NAME)
    region: str = Field(min_length=1)
    instance_type: str = Field(min_length=1)
    family: str
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    vcpus: int = Field(gt=0, le=MAX_VCPUS, strict=True)
    memory_gib: float = Field(gt=0, le=MAX_MEMORY_GIB, strict=True)
    gpu_model: str | None = None
    gpu_vendor: str | None = None
    gpu_count: float = Field(default=0.0, ge=0, le=MAX_GPUS, strict=True)
    gpu_memory_gib: float = Field(default=0.0, ge=0, le=MAX_GPU_MEMORY_GIB, strict=True,
                                  description="total GPU memory of the instance")
    price_per_hour: Decimal | None = Field(description="on-demand, Linux, USD per hour")
    spot_price_per_hour: Decimal | None = Field(
        default=None, description="lowest current spot price across the region's zones")
    spot_price_at: datetime | None = Field(default=None,
                                           description="when that spot price was current")
    commit_1y_per_hour: Decimal | None = Field(
        default=None, description="1-year commitment (savings plan / reserved), USD per hour")
    commit_3y_per_hour: Decimal | None = Field(
        default=None, description="3-year commitment (savings plan / reserved), USD per hour")
    source: RowSource | None = Field(
        default=None, description="provenance of this row's prices (None: the file's source)")
    country: str = Field(pattern=r"^[A-Z]{2}$")
    availability: Literal["available", "restricted"] = "available"
    restrictions: list[str] = Field(default_factory=list)

    @field_validator("price_per_hour")
    @classmethod
    def _on_demand(cls, v: Decimal | None) -> Decimal | None:
        return _check_price(v, required=True)

    @field_validator("spot_price_per_hour", "commit_1y_per_hour", "commit_3y_per_hour")
    @classmethod
    def _spot(cls, v: Decimal | None) -> Decimal | None:
        return _check_price(v, required=False)

    @field_validator("gpu_model")
    @classmethod
    def _known_gpu(cls, v: str | None) -> str | None:
        return _check_gpu_model(v)

    @model_validator(mode="after")
    def _gpu_consistent(self) -> CatalogRow:
        if self.gpu_count > 0 and not self.gpu_model:
            raise ValueError("gpu_count > 0 but gpu_model is empty")
        if self.gpu_model and self.gpu_count == 0:
            raise ValueError(f"gpu_model {self.gpu_model} but gpu_count 0 (give the GPUs "
                             "per instance, or no gpu_model for a CPU offer)")
        return self


class CatalogFile(BaseModel):
    """A provider's catalog snapshot (the envelope plus its rows)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int
    provider: str = Field(pattern=PROVIDER_NAME)
    fetched_at: datetime
    source: CatalogSource
    currency: Literal["USD"] = "USD"
    regions: list[str]
    failed_regions: list[RegionFailure] = Field(default_factory=list)
    egress: EgressPrices | None = Field(
        default=None,
        description="legacy flat egress prices (ignored; see planner/data/egress.json)")
    rows: list[CatalogRow]

    @field_validator("schema_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {v}; this planner reads {SCHEMA_VERSION}")
        return v

    _utc = field_validator("fetched_at")(_in_utc)

    def age_days(self, now: datetime | None = None) -> float:
        """How old the snapshot is, in days."""
        ref = now or datetime.now(UTC)
        return (ref - self.fetched_at).total_seconds() / 86400.0
