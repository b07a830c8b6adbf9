"""What the verifier's checks share: the violation record and the rules of arithmetic.

Nothing here imports the candidate generator, the pricing module or any solver: the
verifier re-derives every number from the portfolio and the resolved world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from functools import cached_property

from planner.models.plan import Placement
from planner.models.portfolio import Stage, StageKind, Workload
from planner.models.world import Offer, Site

MILLI = 1000
"""Resource use is reported in milli-unit-hours, rounded up per unit of a placement."""


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
        """Hours each instance runs, from the stage and the offer (never from the plan)."""
        return run_hours(self.stage, self.offer)


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


def per_replica(stage: Stage, offer: Offer) -> int:
    """Instances one replica needs: enough GPUs, vCPUs and memory."""
    gpus = 1
    if stage.gpu is not None:
        if not offer.gpu_count:
            return 10**9
        gpus = math.ceil(Decimal(stage.gpu.count) / offer.gpu_count)
    return max(gpus, math.ceil(Decimal(stage.vcpus) / offer.vcpus),
               math.ceil(stage.memory_gib / offer.memory_gib))


def run_hours(stage: Stage, offer: Offer) -> Decimal:
    """Training/testing: reference hours / GPU speed; inference: hours per period."""
    if stage.kind is StageKind.INFERENCE or stage.gpu is None or offer.gpu_model is None:
        return stage.hours
    return stage.hours / stage.gpu.models[offer.gpu_model]
