"""What the verifier's checks share: the violation record and the rules of arithmetic.

Nothing here imports the candidate generator, the pricing module or any solver: the
verifier re-derives every number from the portfolio and the resolved world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from functools import cached_property

from planner.models.calendar import TimePoint, as_datetime, hours_from_start
from planner.models.plan import Placement
from planner.models.portfolio import Settings, Stage, StageKind, Workload
from planner.models.world import Offer, Site

MILLI = 1000
"""Resource use is reported in milli-unit-hours, rounded up per unit of a placement."""

TOLERANCE = Decimal("0.000001")
"""How far a time the plan derives from the inputs (run hours, go-live, outage bounds)
may be from the exact one, in hours: a plan may state times to six places."""


@dataclass(frozen=True)
class Violation:
    """A broken rule: which rule, where in the plan, and what is wrong."""

    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.rule}] {self.message}"


@dataclass(frozen=True)
class Checked:
    """A placement resolved against the inputs: its workload, stage, site and offer."""

    index: int
    placement: Placement
    workload: Workload
    stage: Stage
    site: Site
    offer: Offer
    settings: Settings | None = None
    """The portfolio's settings (the calendar); needed for :attr:`hours`."""

    @property
    def where(self) -> str:
        p = self.placement
        return f"placements[{self.index}] ({p.workload}/{p.stage})"

    @property
    def units(self) -> int:
        """Units the placement serves: its replicas for a split stage, else one (the stage)."""
        return self.placement.replicas if splittable(self.stage) else 1

    @cached_property
    def hours(self) -> Decimal:
        """Hours each instance runs, from the stage, the offer and the calendar (never from
        the plan)."""
        if self.settings is None:
            raise ValueError("Checked.hours needs the portfolio's settings")
        return run_hours(self.stage, self.offer, self.settings)


def num(x: Decimal) -> str:
    """A decimal for a message, without exponent or trailing zeros: ``50``, ``76.923…``."""
    return format(x.normalize(), "f") if x else "0"


def round_usd(x: Decimal) -> Decimal:
    """Round a USD amount to whole micro-dollars, half-even, as USD."""
    return (x * 1_000_000).to_integral_value(rounding=ROUND_HALF_EVEN) / Decimal(1_000_000)


def ceil_milli(x: Decimal) -> int:
    """Unit-hours as whole milli-unit-hours, rounded up."""
    return int((x * MILLI).to_integral_value(rounding=ROUND_CEILING))


def splittable(stage: Stage) -> bool:
    return stage.kind is StageKind.INFERENCE and (stage.split or stage.min_sites > 1)


def node_share(stage: Stage, nodes: int) -> tuple[int, Decimal, Decimal]:
    """What each of a replica's ``nodes`` instances holds at once: GPUs (not divisible:
    ``ceil(count / nodes)`` on every node), vCPUs and memory (divided evenly)."""
    gpus = math.ceil(stage.gpu.count / nodes) if stage.gpu is not None else 0
    return gpus, Decimal(stage.vcpus) / nodes, stage.memory_gib / nodes


def gang_sizes(stage: Stage) -> str:
    """The instances per replica a stage allows, in words."""
    if stage.nodes is not None:
        return f"nodes: {stage.nodes}"
    if stage.max_nodes is not None:
        return f"1..max_nodes {stage.max_nodes}"
    return "1 (no gang declared)"


def gang_allowed(stage: Stage, nodes: int) -> bool:
    """``nodes`` instances per replica is what the stage declares: exactly ``nodes``, at most
    ``max_nodes``, else 1."""
    if stage.nodes is not None:
        return nodes == stage.nodes
    return 1 <= nodes <= (stage.max_nodes or 1)


def hours_at(settings: Settings, value: TimePoint) -> Decimal:
    """A date or a number of hours as exact hours from the horizon start."""
    return hours_from_start(value, settings.horizon.start if settings.horizon else None)


def golive(settings: Settings, stage: Stage) -> Decimal:
    """When an inference stage goes live: its ``earliest_start``, else its ``deadline``
    (live by; at most the horizon end), else so that its ``hours`` per period end with the
    horizon (at the start when they fill it)."""
    period = settings.period_hours
    if stage.earliest_start is not None:
        return hours_at(settings, stage.earliest_start)
    if stage.deadline is not None:
        return min(hours_at(settings, stage.deadline), period)
    return max(Decimal(0), period - stage.hours)


def run_hours(stage: Stage, offer: Offer, settings: Settings) -> Decimal:
    """Hours each instance runs (and is billed). Training/testing: reference hours / GPU
    speed. Inference: from its go-live to the horizon end when the portfolio dates the
    go-live (``earliest_start`` or ``deadline``), else its hours per period."""
    if stage.kind is StageKind.INFERENCE:
        if stage.earliest_start is not None or stage.deadline is not None:
            return settings.period_hours - golive(settings, stage)
        return stage.hours
    if stage.gpu is None or offer.gpu_model is None:
        return stage.hours
    return stage.hours / stage.gpu.models[offer.gpu_model]


def origin(settings: Settings) -> datetime | None:
    """The horizon's start as a UTC date-time, when the portfolio dates it."""
    return as_datetime(settings.horizon.start) if settings.horizon is not None else None


def date_of(start: datetime, hours: Decimal) -> datetime:
    """``hours`` after ``start``, to the microsecond."""
    micros = (hours * 3_600_000_000).to_integral_value(rounding=ROUND_HALF_EVEN)
    return start + timedelta(microseconds=int(micros))


DATE_TOLERANCE = timedelta(seconds=1)
"""Dates may be stated to the second (the hours they come from have more digits)."""


def same_date(got: datetime, want: datetime) -> bool:
    """``got`` (a naive date-time is UTC) is ``want`` to within :data:`DATE_TOLERANCE`
    (less than a second: rounding, not truncation, to whole seconds)."""
    return abs(as_datetime(got) - want) < DATE_TOLERANCE
