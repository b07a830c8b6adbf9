"""The versioned catalog file schema: one JSON file per provider in ``catalogs/``.

A file is an envelope (provider, when and how it was fetched, which regions
succeeded or failed, currency, default egress prices) around rows, one per
(region, instance type). Prices are USD per hour as decimals; they are
validated when a catalog loads: NaN, infinite, negative or missing on-demand
prices are rejected with the row named.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1

Provider = Literal["aws", "azure"]


def _check_price(value: Decimal | None, *, required: bool) -> Decimal | None:
    if value is None:
        if required:
            raise ValueError("on-demand price is missing")
        return None
    if value.is_nan() or value.is_infinite():
        raise ValueError(f"price must be a finite number, got {value}")
    if value < 0:
        raise ValueError(f"price must not be negative, got {value}")
    return value


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
    """Data transfer out, USD per GB: to another region of the same provider, and
    to the internet (which covers other providers and on-prem sites)."""

    model_config = ConfigDict(extra="forbid")

    same_provider_per_gb: Decimal = Field(ge=0)
    internet_per_gb: Decimal = Field(ge=0)


class CatalogRow(BaseModel):
    """One instance type in one region, with its facts and prices."""

    model_config = ConfigDict(extra="forbid")

    provider: Provider
    region: str = Field(min_length=1)
    instance_type: str = Field(min_length=1)
    family: str
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    vcpus: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    gpu_model: str | None = None
    gpu_vendor: str | None = None
    gpu_count: float = Field(default=0.0, ge=0)
    gpu_memory_gib: float = Field(default=0.0, ge=0, description="total GPU memory of the instance")
    price_per_hour: Decimal | None = Field(description="on-demand, Linux, USD per hour")
    spot_price_per_hour: Decimal | None = None
    country: str = Field(pattern=r"^[A-Z]{2}$")
    availability: Literal["available", "restricted"] = "available"
    restrictions: list[str] = Field(default_factory=list)

    @field_validator("price_per_hour")
    @classmethod
    def _on_demand(cls, v: Decimal | None) -> Decimal | None:
        return _check_price(v, required=True)

    @field_validator("spot_price_per_hour")
    @classmethod
    def _spot(cls, v: Decimal | None) -> Decimal | None:
        return _check_price(v, required=False)

    @model_validator(mode="after")
    def _gpu_consistent(self) -> CatalogRow:
        if self.gpu_count > 0 and not self.gpu_model:
            raise ValueError("gpu_count > 0 but gpu_model is empty")
        return self


class CatalogFile(BaseModel):
    """A provider's catalog snapshot (the envelope plus its rows)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int
    provider: Provider
    fetched_at: datetime
    source: CatalogSource
    currency: Literal["USD"] = "USD"
    regions: list[str]
    failed_regions: list[RegionFailure] = Field(default_factory=list)
    egress: EgressPrices
    rows: list[CatalogRow]

    @field_validator("schema_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {v}; this planner reads {SCHEMA_VERSION}")
        return v

    @field_validator("fetched_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("fetched_at must carry a timezone (UTC), e.g. 2026-11-01T00:00:00Z")
        return v.astimezone(UTC)

    @model_validator(mode="after")
    def _rows_match_envelope(self) -> CatalogFile:
        for i, row in enumerate(self.rows):
            if row.provider != self.provider:
                raise ValueError(
                    f"rows[{i}] ({row.instance_type}): provider {row.provider!r} "
                    f"in a {self.provider!r} catalog"
                )
        return self

    def age_days(self, now: datetime | None = None) -> float:
        """How old the snapshot is, in days."""
        ref = now or datetime.now(UTC)
        return (ref - self.fetched_at).total_seconds() / 86400.0
