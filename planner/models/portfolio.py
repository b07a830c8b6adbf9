"""The portfolio a capacity planner writes (YAML or JSON), as strict pydantic models.

A portfolio names the on-prem sites with their hardware and amortized prices,
which cloud regions may be used (offers and prices come from the catalogs) with
their quotas, and the workloads: ML projects with a dataset, residency rules and
stages (training, testing, inference).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
SITE_PATTERN = r"^(aws|azure|onprem):[a-z0-9][a-z0-9._-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageKind(StrEnum):
    """The three ML pipeline stages."""

    TRAINING = "training"
    TESTING = "testing"
    INFERENCE = "inference"


class Egress(_Strict):
    """Data transfer out of a site, USD per GB. For on-prem sites this is the uplink cost."""

    same_provider_per_gb: Decimal = Field(default=Decimal(0), ge=0)
    internet_per_gb: Decimal = Field(default=Decimal(0), ge=0)


class Amortization(_Strict):
    """How an on-prem node's hourly price is derived: capex over its life plus power."""

    capex_usd: Decimal = Field(ge=0, description="purchase price of one node")
    lifetime_years: Decimal = Field(gt=0)
    power_kw: Decimal = Field(ge=0, description="average draw of one node incl. cooling (PUE)")
    usd_per_kwh: Decimal = Field(ge=0)
    opex_per_hour: Decimal = Field(default=Decimal(0), ge=0, description="staff, space, support")

    def price_per_hour(self) -> Decimal:
        hours = self.lifetime_years * Decimal(8760)
        return self.capex_usd / hours + self.power_kw * self.usd_per_kwh + self.opex_per_hour


class OnpremOffer(_Strict):
    """A node class in an on-prem data centre and how many nodes exist."""

    id: str = Field(pattern=ID_PATTERN)
    gpu_model: str | None = None
    gpu_count: int = Field(default=0, ge=0)
    vcpus: int = Field(gt=0)
    memory_gib: Decimal = Field(gt=0)
    price_per_hour: Decimal | None = Field(default=None, ge=0, description="amortized USD/h")
    amortization: Amortization | None = None
    nodes: int = Field(gt=0, description="inventory: nodes of this class at the site")

    @model_validator(mode="after")
    def _priced(self) -> OnpremOffer:
        if (self.price_per_hour is None) == (self.amortization is None):
            raise ValueError("give exactly one of price_per_hour or amortization")
        if self.gpu_count > 0 and not self.gpu_model:
            raise ValueError("gpu_count > 0 needs gpu_model")
        return self

    def hourly_price(self) -> Decimal:
        if self.price_per_hour is not None:
            return self.price_per_hour
        assert self.amortization is not None
        return self.amortization.price_per_hour()


class OnpremSite(_Strict):
    """An on-prem data centre (``onprem:<name>``) with its inventory."""

    id: str = Field(pattern=r"^onprem:[a-z0-9][a-z0-9._-]*$")
    country: str = Field(pattern=r"^[A-Z]{2}$")
    city: str | None = None
    tags: list[str] = Field(default_factory=list, description="custom jurisdiction tags")
    certifications: list[str] = Field(default_factory=list)
    egress: Egress = Field(default_factory=Egress)
    offers: list[OnpremOffer] = Field(default_factory=list)


class Quota(_Strict):
    """A cloud quota: GPUs of a model at a site, or instances of one offer."""

    site: str = Field(pattern=SITE_PATTERN)
    gpu_model: str | None = None
    gpus: int | None = Field(default=None, ge=0)
    offer: str | None = None
    instances: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_kind(self) -> Quota:
        gpu = self.gpu_model is not None and self.gpus is not None
        inst = self.offer is not None and self.instances is not None
        if gpu == inst:
            raise ValueError("a quota is either {gpu_model, gpus} or {offer, instances}")
        return self


class CloudSettings(_Strict):
    """Which cloud regions and instance types may be used, and their quotas."""

    providers: list[str] = Field(default_factory=lambda: ["aws", "azure"])
    regions: list[str] | None = Field(
        default=None, description="site ids like aws:eu-central-1; all catalog regions if omitted"
    )
    instance_types: list[str] | None = None
    quotas: list[Quota] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict, description="site id → custom tags")
    certifications: dict[str, list[str]] = Field(
        default_factory=dict, description="site id → extra certifications"
    )


class Dataset(_Strict):
    """A workload's dataset: its size and the site it lives on."""

    size_gb: Decimal = Field(ge=0)
    home: str = Field(pattern=SITE_PATTERN)


class Residency(_Strict):
    """Where a workload's data may be processed. Empty lists mean no restriction."""

    jurisdictions: list[str] = Field(default_factory=list, description="any of these tags")
    countries: list[str] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    certifications: list[str] = Field(default_factory=list, description="all required")


class GpuNeed(_Strict):
    """Accepted GPU models with relative speed (1.0 = the reference) and GPUs per replica."""

    models: dict[str, Decimal] = Field(min_length=1)
    count: int = Field(default=1, gt=0)

    @model_validator(mode="after")
    def _speeds(self) -> GpuNeed:
        for name, speed in self.models.items():
            if speed <= 0:
                raise ValueError(f"relative speed of {name} must be > 0")
        return self


class Stage(_Strict):
    """One pipeline stage. ``hours`` is run time on the reference GPU (speed 1.0) for
    training and testing, and hours per planning period for inference."""

    kind: StageKind
    name: str | None = Field(default=None, pattern=ID_PATTERN)
    gpu: GpuNeed | None = None
    vcpus: int = Field(default=1, gt=0)
    memory_gib: Decimal = Field(default=Decimal(1), gt=0)
    hours: Decimal = Field(gt=0)
    replicas: int = Field(default=1, gt=0)
    spot: bool = Field(default=False, description="interruption allowed: spot prices may be used")

    @property
    def label(self) -> str:
        return self.name or self.kind.value


class Workload(_Strict):
    """An ML project: its team, dataset, residency rules and stages."""

    id: str = Field(pattern=ID_PATTERN)
    team: str = Field(min_length=1)
    dataset: Dataset
    residency: Residency = Field(default_factory=Residency)
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_stage_labels(self) -> Workload:
        labels = [s.label for s in self.stages]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"stage names must be unique in a workload; give `name` to {dup}")
        return self


class Settings(_Strict):
    """Planning settings."""

    period_hours: Decimal = Field(default=Decimal(730), gt=0, description="planning period")
    max_catalog_age_days: int = Field(default=30, gt=0)


class Portfolio(_Strict):
    """The whole planning input."""

    name: str = Field(min_length=1)
    description: str | None = None
    settings: Settings = Field(default_factory=Settings)
    cloud: CloudSettings = Field(default_factory=CloudSettings)
    onprem: list[OnpremSite] = Field(default_factory=list)
    workloads: list[Workload] = Field(min_length=1)
