"""The placement plan: what runs where, what it costs, why, and how sure the solver is.

Money is USD as decimals with six places (exact micro-dollars), serialized as
strings in JSON so no precision is lost. Capacity is in unit-hours per planning
period (instance-hours for an offer, GPU-hours for a site's GPU model).

Times (``Placement.start`` / ``end``) are hours from the start of the planning
horizon, as decimals (``0`` is the horizon's first instant); a placement's instances
(every node of every gang) all run in the half-open interval ``[start, end)``. When the
portfolio gives ``settings.horizon.start`` they are also dates (``start_at`` /
``end_at``, ISO 8601 UTC). ``schedule[]`` is the same timeline per capacity-limited
pool: who holds how much of it when, and its outages.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planner.models.calendar import YEARS
from planner.models.limits import MAX_PERIOD_HOURS
from planner.models.portfolio import StageKind
from planner.models.status import SolveStatus
from planner.models.world import Purchase

PLAN_SCHEMA_VERSION = 1


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CostSplit(_Out):
    compute_usd: Decimal
    egress_usd: Decimal = Field(description="data flows into/out of this placement")
    migration_usd: Decimal = Field(default=Decimal(0), description="re-planning move cost")
    total_usd: Decimal


class Alternative(_Out):
    """The runner-up: the cheapest option not taken, and why it was not taken."""

    site: str
    offer: str
    purchase: Purchase
    total_usd: Decimal = Field(
        description="cost of one unit of the stage (the stage, or one replica of a split "
                    "inference stage) on this option: compute, data-flow egress, migration; "
                    "pipeline (model artifact) egress not included")
    delta_usd: Decimal = Field(
        description="runner_up: change of the plan's total cost if one unit of the stage ran "
                    "on this option instead of the chosen one (the cheapest chosen one per "
                    "unit), the rest of the plan unchanged, pipeline egress included; "
                    "negative when cheaper; the stage's why quotes the same number. "
                    "cheaper_rejected: this option's unit cost minus the chosen one's "
                    "(the option is not in the model, so pipeline egress is not included)")
    why_not: str = Field(
        description="runner_up: the rules the swap would break (with the rest of the plan "
                    "unchanged), or the cost it loses on; cheaper_rejected: the pruning rule")
    rule: str | None = Field(
        default=None,
        description="cheaper_rejected: the rule that pruned it; runner_up: the rule groups "
                    "that block it, comma-separated (e.g. colocation:<workload>/<stage>, "
                    "capacity:<resource>, budget:<name>), if any")


class Placement(_Out):
    """Where one stage runs."""

    workload: str
    stage: str
    kind: StageKind
    team: str
    site: str
    provider: str
    region: str
    country: str
    offer: str
    purchase: Purchase
    gpu_model: str | None
    gpus_per_instance: Decimal
    replicas: int = Field(description="replicas of the stage served by this placement")
    nodes_per_replica: int = Field(
        default=1, ge=1, description="instances each replica runs on at once (a gang when > 1)")
    instances: int = Field(description="instances of the offer this placement holds: "
                                       "replicas × nodes_per_replica")
    hours: Decimal = Field(description="hours each instance runs (rounded to 6 places)")
    cost: CostSplit
    why: list[str]
    runner_up: Alternative | None = Field(default=None, description="best feasible alternative")
    cheaper_rejected: Alternative | None = Field(
        default=None, description="cheapest option pruned by a rule, if cheaper than the choice")
    moved: bool = Field(default=False, description="differs from the previous plan")
    start: Decimal | None = Field(
        default=None, ge=0, le=MAX_PERIOD_HOURS,
        description="hours from the start of the horizon when the instances start; "
                    "null: the plan makes no claim about when (capacity per period only)")
    end: Decimal | None = Field(
        default=None, ge=0, le=MAX_PERIOD_HOURS,
        description="hours from the start of the horizon when they stop (exclusive); set "
                    "together with start")
    start_at: datetime | None = Field(
        default=None, description="start as a date-time (when the horizon has a start date)")
    end_at: datetime | None = Field(
        default=None, description="end as a date-time (when the horizon has a start date)")
    late_hours: int = Field(
        default=0, ge=0, description="whole hours past a soft deadline (the end rounded up "
                                     "against the deadline rounded down; go-live for "
                                     "inference)")

    @model_validator(mode="after")
    def _interval(self) -> Placement:
        if (self.start is None) != (self.end is None):
            raise ValueError("start and end must be given together (or both left out)")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class ResourceUse(_Out):
    """Use of one limited resource over the planning period."""

    resource: str
    site: str
    used_unit_hours: Decimal
    capacity_unit_hours: Decimal
    utilization: float
    binding: bool = Field(description="a cheaper option of some stage did not fit in what is left")


class Window(_Out):
    """Units of a pool that are down during ``[start, end)`` (an outage)."""

    start: Decimal
    end: Decimal
    amount: int
    start_at: datetime | None = None
    end_at: datetime | None = None


class Run(_Out):
    """A placement holding ``amount`` units of a pool during ``[start, end)``."""

    workload: str
    stage: str
    offer: str
    start: Decimal
    end: Decimal
    amount: int


class PoolSchedule(_Out):
    """The timeline of one capacity-limited pool: an on-prem node class or a cloud quota."""

    resource: str = Field(description="offer:<site>/<offer> (instances) or "
                                      "gpu:<site>/<model> (GPUs)")
    site: str
    unit: str = Field(description="instances or gpus")
    capacity: int = Field(description="units that exist at once (inventory or quota)")
    peak: int = Field(description="most units held at once, outages included")
    peak_at: Decimal = Field(description="the first hour the peak is reached")
    runs: list[Run]
    outages: list[Window] = Field(default_factory=list)


class Horizon(_Out):
    """The planning horizon: ``hours`` long, from ``start`` when the portfolio dates it."""

    start: datetime | None = None
    hours: Decimal = Field(gt=0, le=MAX_PERIOD_HOURS)

    @model_validator(mode="after")
    def _on_the_calendar(self) -> Horizon:
        lo, hi = YEARS
        if self.start is not None and not lo <= self.start.year <= hi:
            raise ValueError(f"horizon start {self.start} is outside the years {lo}–{hi}")
        return self


class Totals(_Out):
    compute_usd: Decimal
    egress_usd: Decimal
    migration_usd: Decimal = Decimal(0)
    total_usd: Decimal
    spot_risk_usd: Decimal = Field(default=Decimal(0), description="objective only: spot uplift")
    preference_usd: Decimal = Field(default=Decimal(0),
                                    description="objective only: off-preference surcharge")
    late_penalty_usd: Decimal = Field(
        default=Decimal(0), description="objective only: late_penalty_usd_per_hour × "
                                        "late_hours over the stages past a soft deadline")
    by_provider: dict[str, Decimal]
    by_site: dict[str, Decimal]
    by_team: dict[str, Decimal]
    by_kind: dict[str, Decimal]
    value_usd: Decimal | None = Field(
        default=None, description="Σ value_usd of the placed workloads (when any has one)")


class SolverReport(_Out):
    backend: str
    status: SolveStatus
    objective_usd: Decimal | None
    bound_usd: Decimal | None
    gap: float | None = Field(description="(objective − bound) / objective")
    time_limit_s: float
    workers: int
    seed: int
    solve_time_s: float | None = Field(description="null in --reproducible output")
    build_time_s: float | None = None
    detail: str = ""


class CatalogRef(_Out):
    provider: str
    file: str
    sha256: str
    fetched_at: datetime
    age_days: float | None = Field(description="null in --reproducible output")


class Move(_Out):
    """A stage that moves relative to the previous plan."""

    workload: str
    stage: str
    previous: list[str] = Field(description="site/offer pairs in the previous plan")
    now: list[str] = Field(description="site/offer pairs in this plan")
    migration_usd: Decimal
    why: str


class Conflict(_Out):
    """One rule of a minimal conflicting set, in plain words."""

    rule: str
    message: str


class Unplaced(_Out):
    """A stage with no plan, and the reasons in plain words."""

    workload: str
    stage: str
    reasons: list[str]


class Dropped(_Out):
    """A workload a partial plan does not place, and why."""

    workload: str
    reasons: list[str] = Field(description="why it is not placed, in plain words")
    conflicts: list[Conflict] = Field(
        default_factory=list,
        description="rules that conflict when it is placed together with the planned "
                    "workloads (its own diagnosis)")
    value_usd: Decimal | None = None
    priority: int = 0
    add_cost_usd: Decimal | None = Field(
        default=None, description="the plan's cost change when it is forced in (re-solved "
                                  "within the time limit); null if it cannot be added or "
                                  "the re-solve ran out of time")
    add_drops: list[str] = Field(
        default_factory=list, description="workloads the re-solve with it forced in drops "
                                          "instead")


class InputDigest(_Out):
    """Fingerprints of the inputs a plan was computed from, to match it with them."""

    portfolio_sha256: str = Field(
        description="SHA-256 of the validated portfolio as canonical JSON (sorted keys, "
                    "normalized numbers): formatting of the YAML does not change it")
    catalogs_sha256: str = Field(
        description="SHA-256 of the sorted (provider, file sha256) pairs of the catalogs used")
    scenario: str | None = Field(
        default=None, description="the what-if scenario the plan was made under (its "
                                  "prices, capacity, sites or rules differ from the inputs')")


class Plan(_Out):
    """A verified placement plan (or the diagnosis of why none exists)."""

    schema_version: int = PLAN_SCHEMA_VERSION
    portfolio: str
    status: SolveStatus
    placements: list[Placement]
    resources: list[ResourceUse]
    horizon: Horizon | None = Field(default=None, description="null in plans made before "
                                                              "plans had a timeline")
    schedule: list[PoolSchedule] = Field(
        default_factory=list, description="the timeline of every capacity-limited pool the "
                                          "placements use")
    totals: Totals
    solver: SolverReport
    catalogs: list[CatalogRef]
    warnings: list[str] = Field(default_factory=list)
    unplaced: list[Unplaced] = Field(default_factory=list)
    dropped: list[Dropped] = Field(
        default_factory=list, description="workloads a partial plan does not place, and why")
    conflicts: list[Conflict] = Field(
        default_factory=list,
        description="a minimal set of rules that together admit no plan (infeasible only)")
    diagnosis: str | None = None
    moves: list[Move] = Field(default_factory=list)
    pruned: dict[str, int] = Field(default_factory=dict, description="pruned options per rule")
    inputs: InputDigest | None = Field(
        default=None, description="digests of the portfolio and catalogs (null in plans "
                                  "written before they were recorded)")

    @property
    def feasible(self) -> bool:
        """The plan places stages that meet every rule (all of them, or, when ``partial``,
        every stage of the workloads it does not drop)."""
        return self.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.PARTIAL)
