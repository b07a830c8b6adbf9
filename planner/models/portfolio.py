"""The portfolio a capacity planner writes (YAML or JSON), as strict pydantic models.

A portfolio names the on-prem sites with their hardware and amortized prices,
which cloud regions may be used (offers and prices come from the catalogs) with
their quotas, and the workloads: ML projects with a dataset, residency rules and
stages (training, testing, inference).
"""

from __future__ import annotations

import difflib
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from planner.models import limits as lim
from planner.models.calendar import Horizon, Outage, StageTiming
from planner.models.calendar_checks import check_calendar, check_precedence
from planner.models.limits import Range, error_at
from planner.vocab.gpus import expand_gpu_models
from planner.vocab.jurisdictions import country_problem

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
SITE_PATTERN = r"^[a-z][a-z0-9-]*:[a-z0-9][a-z0-9._-]*$"
"""``<provider>:<region or site>``; which providers and sites exist is checked when the
portfolio is resolved against the provider registry and the catalogs."""


def _iso_country(value: Any) -> Any:
    if isinstance(value, str) and (problem := country_problem(value)):
        raise PydanticCustomError("country_code", "{message}", {"message": problem})
    return value


CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$"), BeforeValidator(_iso_country)]
"""An ISO 3166-1 alpha-2 code (``planner/data/iso3166.json``)."""
# Numbers, each with its limits (planner.models.limits; the guide's "Limits" table).
Hours = Annotated[Decimal, Range(lim.MIN_HOURS, lim.MAX_HOURS, "hours")]
PricePerHour = Annotated[Decimal, Range(0, lim.MAX_PRICE_PER_HOUR, "USD per hour")]
PricePerGb = Annotated[Decimal, Range(0, lim.MAX_PRICE_PER_GB, "USD per GB")]
SizeGb = Annotated[Decimal, Range(0, lim.MAX_SIZE_GB, "GB")]
Usd = Annotated[Decimal, Range(0, lim.MAX_BUDGET_USD, "USD")]
LatencyMs = Annotated[Decimal, Range(0, lim.MAX_LATENCY_MS, "ms")]
Speed = Annotated[Decimal, Range(lim.MIN_SPEED, lim.MAX_SPEED, "× the reference GPU")]
Memory = Annotated[Decimal, Range(lim.MIN_MEMORY_GIB, lim.MAX_MEMORY_GIB, "GiB")]
Vcpus = Annotated[int, Range(1, lim.MAX_VCPUS, "vCPUs")]
Count = Annotated[int, Range(0, lim.MAX_COUNT)]
Latitude = Annotated[float, Range(-90, 90, "degrees")]
Longitude = Annotated[float, Range(-180, 180, "degrees")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageKind(StrEnum):
    """The three ML pipeline stages."""

    TRAINING = "training"
    TESTING = "testing"
    INFERENCE = "inference"


class Egress(_Strict):
    """Data transfer out of an on-prem site, USD per GB: the uplink cost to the internet
    (which covers cloud regions), and to the owner's other on-prem sites when a private link
    prices that differently (omitted: the internet price applies)."""

    same_provider_per_gb: PricePerGb | None = None
    internet_per_gb: PricePerGb = Decimal(0)


class Amortization(_Strict):
    """How an on-prem node's hourly price is derived: capex over its life plus power."""

    capex_usd: Annotated[Decimal, Range(0, lim.MAX_CAPEX_USD, "USD")] = Field(
        description="purchase price of one node")
    lifetime_years: Annotated[Decimal, Range(lim.MIN_LIFETIME_YEARS, lim.MAX_LIFETIME_YEARS,
                                             "years")]
    power_kw: Annotated[Decimal, Range(0, lim.MAX_POWER_KW, "kW")] = Field(
        description="average draw of one node incl. cooling (PUE)")
    usd_per_kwh: Annotated[Decimal, Range(0, lim.MAX_USD_PER_KWH, "USD per kWh")]
    opex_per_hour: PricePerHour = Field(default=Decimal(0), description="staff, space, support")

    def price_per_hour(self) -> Decimal:
        hours = self.lifetime_years * Decimal(8760)
        return self.capex_usd / hours + self.power_kw * self.usd_per_kwh + self.opex_per_hour


class OnpremOffer(_Strict):
    """A node class in an on-prem data centre and how many nodes exist."""

    id: str = Field(pattern=ID_PATTERN)
    gpu_model: str | None = None
    gpu_count: Annotated[int, Range(0, lim.MAX_GPUS, "GPUs")] = 0
    vcpus: Vcpus
    memory_gib: Memory
    price_per_hour: PricePerHour | None = Field(default=None, description="amortized USD/h")
    amortization: Amortization | None = None
    nodes: Annotated[int, Range(1, lim.MAX_COUNT, "nodes")] = Field(
        description="inventory: nodes of this class at the site")
    outages: list[Outage] = Field(
        default_factory=list, description="nodes down for maintenance, with when")

    @model_validator(mode="after")
    def _priced(self) -> OnpremOffer:
        if (self.price_per_hour is None) == (self.amortization is None):
            raise ValueError("give exactly one of price_per_hour or amortization")
        if self.gpu_count > 0 and not self.gpu_model:
            raise ValueError("gpu_count > 0 needs gpu_model")
        if self.gpu_model and self.gpu_count == 0:
            error_at("OnpremOffer", ("gpu_count",), "out_of_range",
                     f"a node class with gpu_model {self.gpu_model!r} needs gpu_count ≥ 1 "
                     "(or remove gpu_model for a CPU-only node)", 0)
        price = self.hourly_price()
        if price > lim.MAX_PRICE_PER_HOUR:
            error_at("OnpremOffer", ("amortization",), "too_large",
                     f"amortized price ${price:,.2f}/h is above the limit of "
                     f"${lim.MAX_PRICE_PER_HOUR:,}/h; check capex_usd, lifetime_years, power_kw, "
                     f"usd_per_kwh and opex_per_hour ({lim.GUIDE})",
                     self.amortization.model_dump(mode="json") if self.amortization else {})
        return self

    def hourly_price(self) -> Decimal:
        if self.price_per_hour is not None:
            return self.price_per_hour
        assert self.amortization is not None
        return self.amortization.price_per_hour()


class OnpremSite(_Strict):
    """An on-prem data centre (``onprem:<name>``) with its inventory."""

    id: str = Field(pattern=SITE_PATTERN, description="onprem:<name>")
    country: CountryCode
    city: str | None = None
    lat: Latitude | None = Field(default=None, description="for latency estimates")
    lon: Longitude | None = None
    tags: list[str] = Field(default_factory=list, description="custom jurisdiction tags")
    certifications: list[str] = Field(default_factory=list)
    egress: Egress = Field(default_factory=Egress)
    offers: list[OnpremOffer] = Field(default_factory=list)


class Quota(_Strict):
    """A cloud quota: GPUs of a model at a site, or instances of one offer."""

    site: str = Field(pattern=SITE_PATTERN)
    gpu_model: str | None = None
    gpus: Count | None = None
    offer: str | None = None
    instances: Count | None = None

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
    """A workload's dataset: its size, the site it lives on, and its data classes."""

    size_gb: SizeGb = Field(description="read by training from its home")
    test_gb: SizeGb = Field(default=Decimal(0), description="read by testing from home")
    home: str = Field(pattern=SITE_PATTERN)
    classes: list[str] = Field(
        default_factory=list, description="data classes (e.g. health, personal) for what-if rules"
    )


class ModelArtifact(_Strict):
    """The trained model: its size (moved to testing and inference) and whether it may leave
    the data's jurisdictions (e.g. an anonymized or differentially private model)."""

    size_gb: SizeGb = Decimal(0)
    exportable: bool = False


class Residency(_Strict):
    """Where a workload's data may be processed. Empty lists mean no restriction."""

    jurisdictions: list[str] = Field(default_factory=list, description="any of these tags")
    countries: list[CountryCode] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    certifications: list[str] = Field(default_factory=list, description="all required")


class GpuNeed(_Strict):
    """Accepted GPU models with relative speed (1.0 = the reference) and GPUs per replica.

    A family alias (``A100``, see :data:`planner.vocab.gpus.GPU_FAMILY_ALIASES`) stands for all
    its members at the alias's speed; a member named explicitly keeps its own speed."""

    models: dict[str, Speed] = Field(min_length=1)
    count: Annotated[int, Range(1, lim.MAX_GPUS, "GPUs")] = 1

    @field_validator("models")
    @classmethod
    def _aliases(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        return expand_gpu_models(v)


class ColocationLevel(StrEnum):
    SITE = "site"
    COUNTRY = "country"
    PROVIDER = "provider"


class Colocation(_Strict):
    """This stage must run at the same site (or country, or provider) as another stage."""

    stage: str = Field(description="name of the other stage of the same workload")
    level: ColocationLevel = ColocationLevel.SITE


def _user_region_names_schema(schema: dict[str, Any]) -> None:
    """Editors offer the shipped user region names and city aliases (``planner regions``);
    any other name must be defined under ``settings.user_regions``."""
    from planner.vocab.latency import user_region_names

    schema["items"] = {"anyOf": [{"enum": user_region_names()}, {"type": "string"}],
                       "description": "a shipped user region or city alias (see `planner "
                                      "regions`), or a name from settings.user_regions"}


class Latency(_Strict):
    """Inference latency SLO: round trip to each named user region within ``max_ms``."""

    max_ms: Annotated[Decimal, Range(0, lim.MAX_LATENCY_MS, "ms", open_lo=True)]
    users: list[str] = Field(min_length=1, description="user region names",
                             json_schema_extra=_user_region_names_schema)


class Placement(_Strict):
    """Per-workload site and provider choices: exclusions are hard, preferences soft."""

    exclude_sites: list[str] = Field(default_factory=list)
    exclude_providers: list[str] = Field(default_factory=list)
    prefer_sites: list[str] = Field(default_factory=list)
    prefer_providers: list[str] = Field(default_factory=list)


class Stage(StageTiming):
    """One pipeline stage. ``hours`` is run time on the reference GPU (speed 1.0) for
    training and testing, and hours per planning period for inference. When it may run:
    :class:`~planner.models.calendar.StageTiming`."""

    kind: StageKind
    name: str | None = Field(default=None, pattern=ID_PATTERN)
    gpu: GpuNeed | None = None
    vcpus: Vcpus = 1
    memory_gib: Memory = Decimal(1)
    hours: Hours
    replicas: Annotated[int, Range(1, lim.MAX_REPLICAS, "replicas")] = 1
    spot: bool = Field(default=False, description="interruption allowed: spot prices may be used")
    residency: Residency | None = Field(
        default=None, description="overrides the residency this stage gets from its workload"
    )
    colocate: Colocation | None = None
    min_sites: Annotated[int, Range(1, lim.MAX_REPLICAS, "sites")] = Field(
        default=1, description="inference: spread over ≥ N sites")
    split: bool = Field(default=False, description="inference: replicas may go to several sites")
    latency: Latency | None = None
    response_gb: SizeGb = Field(
        default=Decimal(0), description="inference: GB per period sent to users"
    )

    @property
    def label(self) -> str:
        return self.name or self.kind.value

    @property
    def splittable(self) -> bool:
        """Replicas are placed one by one (possibly over several sites)."""
        return self.kind is StageKind.INFERENCE and (self.split or self.min_sites > 1)

    @model_validator(mode="after")
    def _inference_only(self) -> Stage:
        if self.kind is not StageKind.INFERENCE and (
            self.min_sites > 1 or self.split or self.latency or self.response_gb
        ):
            raise ValueError("min_sites, split, latency and response_gb apply to inference only")
        if self.min_sites > self.replicas:
            raise ValueError(f"min_sites {self.min_sites} > replicas {self.replicas}")
        return self


class Workload(_Strict):
    """An ML project: its team, dataset, residency rules and stages."""

    id: str = Field(pattern=ID_PATTERN)
    team: str = Field(min_length=1)
    dataset: Dataset
    model: ModelArtifact = Field(default_factory=ModelArtifact)
    residency: Residency = Field(default_factory=Residency)
    placement: Placement = Field(default_factory=Placement)
    stages: list[Stage] = Field(min_length=1)
    value_usd: Usd | None = Field(
        default=None,
        description="expected business value over the planning horizon, USD; when budget or "
                    "capacity cannot fit every workload, the planner funds the set with the "
                    "largest value − cost (a workload without a value is required whenever "
                    "it can be placed)")
    priority: Annotated[int, Range(-1000, 1000, "priority")] = Field(
        default=0,
        description="funding priority (higher first): a workload is dropped for one of "
                    "lower priority never; within a priority, value − cost decides")

    @model_validator(mode="after")
    def _unique_stage_labels(self) -> Workload:
        labels = [s.label for s in self.stages]
        for j, label in enumerate(labels):
            if label in labels[:j]:
                error_at("Workload", ("stages", j, "name"), "duplicate_stage",
                         f"stage name {label!r} is used twice in this workload; give each "
                         f"stage a unique `name`", label)
        return self

    @model_validator(mode="after")
    def _colocation_targets(self) -> Workload:
        labels = [s.label for s in self.stages]
        for j, st in enumerate(self.stages):
            if st.colocate is None:
                continue
            loc = ("stages", j, "colocate", "stage")
            target = st.colocate.stage
            others = [x for x in labels if x != st.label]
            if target == st.label:
                error_at("Workload", loc, "colocation",
                         f"stage {st.label!r} cannot co-locate with itself; name another "
                         f"stage of the workload: {', '.join(others) or 'there is none'}", target)
            if target not in labels:
                close = difflib.get_close_matches(target, others, n=1)
                guess = f" (did you mean {close[0]!r}?)" if close else ""
                error_at("Workload", loc, "colocation",
                         f"unknown stage {target!r}; the workload's stages are "
                         f"{', '.join(labels)}{guess}", target)
        return self

    @model_validator(mode="after")
    def _colocation_acyclic(self) -> Workload:
        """Co-location is symmetric: stages that name each other in a cycle say the same
        thing twice, and one of them must drop its ``colocate``."""
        index = {s.label: j for j, s in enumerate(self.stages)}
        for j in range(len(self.stages)):
            path = [j]
            nxt = self.stages[j].colocate
            while nxt is not None and index[nxt.stage] not in path:
                path.append(index[nxt.stage])
                nxt = self.stages[path[-1]].colocate
            if nxt is not None and index[nxt.stage] == j:
                own = self.stages[j].colocate
                assert own is not None
                names = " → ".join(self.stages[k].label for k in [*path, j])
                error_at("Workload", ("stages", j, "colocate"), "colocation_cycle",
                         f"co-location cycle {names}; co-location works both ways, so "
                         f"remove `colocate` from one of these stages",
                         own.model_dump(mode="json"))
        return self

    @model_validator(mode="after")
    def _precedence(self) -> Workload:
        check_precedence(self)
        return self

    def predecessors(self, stage: Stage) -> list[Stage]:
        """The stages that must end before ``stage`` starts: its ``after`` list, or by
        default the pipeline order (testing after training, inference after testing, or
        after training when there is no testing)."""
        by_label = {s.label: s for s in self.stages}
        if stage.after is not None:
            return [by_label[name] for name in stage.after]
        kinds = {s.kind for s in self.stages}
        if stage.kind is StageKind.TESTING:
            wanted = {StageKind.TRAINING}
        elif stage.kind is StageKind.INFERENCE:
            wanted = {StageKind.TESTING} if StageKind.TESTING in kinds else {StageKind.TRAINING}
        else:
            wanted = set()
        return [s for s in self.stages if s.kind in wanted and s is not stage]

    def training(self) -> Stage | None:
        """The workload's (first) training stage: where the model artifact comes from."""
        return next((s for s in self.stages if s.kind is StageKind.TRAINING), None)

    def residency_of(self, stage: Stage) -> Residency:
        """The residency rules for one stage. Residency follows the data: testing and
        inference work on artifacts of the restricted data and inherit the workload's
        rules, unless the model is exportable (inference) or the stage overrides them."""
        if stage.residency is not None:
            return stage.residency
        if stage.kind is StageKind.INFERENCE and self.model.exportable:
            return Residency()
        return self.residency


class UserRegion(_Strict):
    lat: Latitude
    lon: Longitude


class Settings(_Strict):
    """Planning settings: period, budgets, concentration, spot risk, preferences, stability."""

    horizon: Horizon | None = Field(
        default=None, description="the planning horizon on the calendar (start, end)")
    period_hours: Annotated[Decimal, Range(1, lim.MAX_PERIOD_HOURS, "hours")] = (
        Field(default=Decimal(730), description="planning period"))
    max_catalog_age_days: Annotated[int, Range(1, lim.MAX_CATALOG_AGE_DAYS, "days")] = 30
    budget_usd: Usd | None = Field(default=None, description="hard cap on total cost")
    team_budgets: dict[str, Usd] = Field(default_factory=dict, description="team → cap USD")
    max_provider_share: Annotated[Decimal, Range(0, 1, open_lo=True)] | None = Field(
        default=None, description="cap on any one cloud provider's share of compute"
    )
    spot_risk_uplift: Annotated[Decimal, Range(0, lim.MAX_UPLIFT)] = Field(
        default=Decimal("0.10"), description="expected spot re-run overhead (objective)"
    )
    preference_weight: Annotated[Decimal, Range(0, lim.MAX_PREFERENCE_WEIGHT)] = Field(
        default=Decimal("0.05"), description="objective surcharge off preferred sites"
    )
    move_fixed_usd: Annotated[Decimal, Range(0, lim.MAX_MOVE_USD, "USD")] = Field(
        default=Decimal(0), description="re-planning: fixed cost per moved stage"
    )
    allow_commitments: bool = Field(
        default=False,
        description="let always-on inference (hours ≥ period_hours) use 1-/3-year commitment "
                    "prices from the catalogs, priced per hour over the period (the "
                    "commitment's term outlives the period)")
    max_moves: Count | None = Field(default=None, description="re-planning: cap on moves")
    user_regions: dict[str, UserRegion] = Field(
        default_factory=dict, description="extra user regions for latency SLOs"
    )
    latency_ms: dict[str, dict[str, LatencyMs]] = Field(
        default_factory=dict, description="measured round trips: site → user region → ms"
    )

    @model_validator(mode="before")
    @classmethod
    def _period_from_horizon(cls, data: Any) -> Any:
        """``horizon.end`` sets ``period_hours``; giving both is ambiguous unless they
        agree (a full dump, ``model_dump_json()``, writes the derived period too)."""
        if not isinstance(data, dict) or not isinstance(data.get("horizon"), dict):
            return data
        if data["horizon"].get("end") is None:
            return data
        try:
            hours = Horizon.model_validate(data["horizon"]).hours()
        except ValidationError:  # the field's own validation reports it, with its path
            hours = None
        if "period_hours" in data and not _same_hours(data["period_hours"], hours):
            error_at("Settings", ("period_hours",), "horizon",
                     "give settings.horizon.end or settings.period_hours, not both (the "
                     "period is the horizon's length)", data["period_hours"])
        if hours is not None and hours < 1:
            # The solvers schedule in whole hours: a horizon under an hour holds none (a run
            # of 0.2 h was infeasible, "see unplaced" naming nothing). A period_hours under 1
            # is refused by its range, as the JSON schema says.
            error_at("Settings", ("horizon", "end"), "horizon",
                     f"the horizon is {hours:g} h long, under an hour: the planner schedules "
                     "in whole hours; give a horizon of at least 1 h",
                     str(data["horizon"]["end"]))
        return data if hours is None else {**data, "period_hours": hours}

    @model_validator(mode="after")
    def _derived_period_unset(self) -> Settings:
        """A ``period_hours`` derived from ``horizon.end`` was not given: it stays out of
        the fields set, so a dump with ``exclude_unset`` (as :func:`planner.edit` makes)
        validates again, with ``horizon.end`` and without ``period_hours``."""
        if self.horizon is not None and self.horizon.end is not None:
            self.__pydantic_fields_set__.discard("period_hours")
        return self


def _same_hours(given: Any, hours: Decimal | None) -> bool:
    """Whether a given ``period_hours`` is the horizon's length (a number, or its text)."""
    if hours is None or isinstance(given, bool):
        return False
    try:
        return Decimal(str(given)) == hours
    except ArithmeticError:  # decimal.InvalidOperation: not a number
        return False


class Portfolio(_Strict):
    """The whole planning input."""

    name: str = Field(min_length=1)
    description: str | None = None
    settings: Settings = Field(default_factory=Settings)
    cloud: CloudSettings = Field(default_factory=CloudSettings)
    onprem: list[OnpremSite] = Field(default_factory=list)
    workloads: list[Workload] = Field(min_length=1)

    @model_validator(mode="after")
    def _calendar(self) -> Portfolio:
        check_calendar(self)
        return self
