"""Candidates: every feasible (stage, site, offer, purchase option), and why the rest were pruned.

Each business rule that can be decided for one option alone is one function
here, named after the rule; it returns ``None`` when the option passes, or the
reason it does not. Pruned options keep their rule and reason, so the plan can
explain why a cheaper site was not taken.

Units: an option runs ``instances`` instances for ``hours`` hours each (training
and testing hours are the stage's reference hours divided by the GPU's relative
speed; inference hours are per planning period). It consumes
``instances × hours`` instance-hours of its (site, offer) and
``instances × gpus × hours`` GPU-hours of its (site, GPU model), both counted in
milli-unit-hours (rounded up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from planner.models.portfolio import Portfolio, Stage, StageKind, Workload
from planner.models.world import Offer, Purchase, Site, SiteKind, World
from planner.money import cost_micro, usage_units


class Rule(StrEnum):
    """The rules that prune options up front."""

    RESIDENCY_SITE = "residency.sites"
    RESIDENCY_COUNTRY = "residency.countries"
    RESIDENCY_JURISDICTION = "residency.jurisdictions"
    CERTIFICATION = "residency.certifications"
    GPU_MODEL = "hardware.gpu_model"
    CPU_ONLY = "hardware.cpu_only"
    RESTRICTED = "hardware.restricted"
    CONCURRENCY = "capacity.concurrency"


@dataclass(frozen=True)
class StageRef:
    """A stage of a workload, numbered across the portfolio."""

    index: int
    workload: Workload
    stage: Stage

    @property
    def key(self) -> str:
        return f"{self.workload.id}/{self.stage.label}"


@dataclass(frozen=True)
class Option:
    """One way to run a stage, with its integer cost and capacity usage."""

    stage: int
    site_id: str
    offer_id: str
    purchase: Purchase
    instances: int
    hours: Decimal
    compute_micro: int
    egress_micro: int
    usage: tuple[tuple[str, int], ...]

    @property
    def cost_micro(self) -> int:
        return self.compute_micro + self.egress_micro


@dataclass(frozen=True)
class Pruned:
    """An option ruled out before solving, with the rule and a plain-words reason."""

    stage: int
    site_id: str
    offer_id: str | None
    rule: Rule
    reason: str


@dataclass
class Candidates:
    """The options per stage and the capacity of every resource they use."""

    stages: list[StageRef]
    options: list[Option]
    by_stage: list[list[int]]
    pruned: list[Pruned]
    capacities: dict[str, int] = field(default_factory=dict)


def offer_resource(site_id: str, offer_id: str) -> str:
    return f"offer:{site_id}/{offer_id}"


def gpu_resource(site_id: str, gpu_model: str) -> str:
    return f"gpu:{site_id}/{gpu_model}"


# ---- rules decided per (workload, site) -------------------------------------------------


def residency_sites(w: Workload, site: Site) -> str | None:
    allowed = w.residency.sites
    if allowed and site.id not in allowed:
        return f"{site.id} is not among the sites allowed for {w.id}'s data"
    return None


def residency_countries(w: Workload, site: Site) -> str | None:
    allowed = w.residency.countries
    if allowed and site.country not in allowed:
        return f"{site.id} is in {site.country}, not in allowed countries {', '.join(allowed)}"
    return None


def residency_jurisdictions(w: Workload, site: Site) -> str | None:
    allowed = w.residency.jurisdictions
    if allowed and not site.jurisdictions.intersection(allowed):
        return f"{site.id} ({site.country}) is outside allowed jurisdictions {', '.join(allowed)}"
    return None


def certifications(w: Workload, site: Site) -> str | None:
    missing = sorted(set(w.residency.certifications) - site.certifications)
    if missing:
        return f"{site.id} lacks required certification {', '.join(missing)}"
    return None


SITE_RULES = (
    (Rule.RESIDENCY_SITE, residency_sites),
    (Rule.RESIDENCY_COUNTRY, residency_countries),
    (Rule.RESIDENCY_JURISDICTION, residency_jurisdictions),
    (Rule.CERTIFICATION, certifications),
)

# ---- rules decided per (stage, offer) ---------------------------------------------------


def gpu_model_accepted(stage: Stage, offer: Offer) -> str | None:
    if stage.gpu is None:
        return None
    if offer.gpu_model not in stage.gpu.models:
        have = offer.gpu_model or "no GPU"
        return f"{offer.id} has {have}; stage accepts {', '.join(stage.gpu.models)}"
    return None


def cpu_only(stage: Stage, offer: Offer) -> str | None:
    if stage.gpu is None and offer.gpu_model:
        return f"{offer.id} carries {offer.gpu_model} GPUs the CPU-only stage would not use"
    return None


def not_restricted(stage: Stage, offer: Offer) -> str | None:
    if offer.restricted:
        return f"{offer.id} is not available to this subscription: {offer.restricted}"
    return None


OFFER_RULES = (
    (Rule.GPU_MODEL, gpu_model_accepted),
    (Rule.CPU_ONLY, cpu_only),
    (Rule.RESTRICTED, not_restricted),
)


def instances_needed(stage: Stage, offer: Offer) -> int:
    """Instances for all replicas: enough GPUs, vCPUs and memory for each replica."""
    per_replica = max(
        math.ceil(stage.vcpus / offer.vcpus),
        math.ceil(stage.memory_gib / offer.memory_gib),
        math.ceil(stage.gpu.count / offer.gpu_count) if stage.gpu else 1,
    )
    return per_replica * stage.replicas


def run_hours(stage: Stage, offer: Offer) -> Decimal:
    """Hours each instance runs: reference hours / GPU speed for training and testing."""
    if stage.kind is StageKind.INFERENCE or stage.gpu is None or offer.gpu_model is None:
        return stage.hours
    return stage.hours / stage.gpu.models[offer.gpu_model]


def concurrency(world: World, offer: Offer, instances: int) -> str | None:
    """The stage's instances must exist at once: inventory / quota of the offer and GPU model."""
    if offer.capacity is not None and instances > offer.capacity:
        return f"needs {instances} × {offer.id} at once; {offer.site_id} has {offer.capacity}"
    if offer.gpu_model:
        quota = world.gpu_quotas.get((offer.site_id, offer.gpu_model))
        gpus = offer.gpu_count * instances
        if quota is not None and gpus > quota:
            return f"needs {gpus:g} {offer.gpu_model} at once; {offer.site_id} quota is {quota}"
    return None


def purchases(site: Site, stage: Stage, offer: Offer) -> list[tuple[Purchase, Decimal]]:
    """Purchase options and their hourly price."""
    if site.kind is SiteKind.ONPREM:
        return [(Purchase.OWNED, offer.price_per_hour)]
    out = [(Purchase.ON_DEMAND, offer.price_per_hour)]
    if stage.spot and offer.spot_price_per_hour is not None:
        out.append((Purchase.SPOT, offer.spot_price_per_hour))
    return out


def dataset_egress_micro(world: World, w: Workload, stage: Stage, site: Site) -> int:
    """Training reads the dataset: moving it from its home costs the home's egress price."""
    if stage.kind is not StageKind.TRAINING:
        return 0
    home = world.sites[w.dataset.home]
    return cost_micro(home.egress_per_gb_to(site), w.dataset.size_gb)


def capacities(world: World) -> dict[str, int]:
    """Capacity of every limited resource, in milli-unit-hours per planning period."""
    caps: dict[str, int] = {}
    for o in world.offers:
        if o.capacity is not None:
            caps[offer_resource(o.site_id, o.id)] = usage_units(
                Decimal(o.capacity), world.period_hours
            )
    for (site_id, model), gpus in world.gpu_quotas.items():
        caps[gpu_resource(site_id, model)] = usage_units(Decimal(gpus), world.period_hours)
    return caps


def _options_at_offer(
    world: World, ref: StageRef, site: Site, offer: Offer, caps: dict[str, int]
) -> list[Option] | Pruned:
    stage = ref.stage
    for rule, check in OFFER_RULES:
        reason = check(stage, offer)
        if reason:
            return Pruned(ref.index, site.id, offer.id, rule, reason)
    n = instances_needed(stage, offer)
    reason = concurrency(world, offer, n)
    if reason:
        return Pruned(ref.index, site.id, offer.id, Rule.CONCURRENCY, reason)
    hours = run_hours(stage, offer)
    usage = []
    key = offer_resource(site.id, offer.id)
    if key in caps:
        usage.append((key, usage_units(Decimal(n), hours)))
    if offer.gpu_model and gpu_resource(site.id, offer.gpu_model) in caps:
        usage.append(
            (
                gpu_resource(site.id, offer.gpu_model),
                usage_units(Decimal(n), offer.gpu_count, hours),
            )
        )
    egress = dataset_egress_micro(world, ref.workload, stage, site)
    return [
        Option(
            ref.index,
            site.id,
            offer.id,
            purchase,
            n,
            hours,
            cost_micro(price, Decimal(n), hours),
            egress,
            tuple(usage),
        )
        for purchase, price in purchases(site, stage, offer)
    ]


def stage_refs(portfolio: Portfolio) -> list[StageRef]:
    """All stages of the portfolio in file order."""
    refs: list[StageRef] = []
    for w in portfolio.workloads:
        for st in w.stages:
            refs.append(StageRef(len(refs), w, st))
    return refs


def generate(portfolio: Portfolio, world: World) -> Candidates:
    """Every feasible option per stage (sorted by cost, then names) and every pruned one."""
    caps = capacities(world)
    refs = stage_refs(portfolio)
    offers_at: dict[str, list[Offer]] = {sid: [] for sid in world.sites}
    for o in world.offers:
        offers_at[o.site_id].append(o)
    options: list[Option] = []
    by_stage: list[list[int]] = []
    pruned: list[Pruned] = []
    for ref in refs:
        mine: list[Option] = []
        for site in world.sites.values():
            if not offers_at[site.id]:
                continue
            site_reason = next(
                ((rule, r) for rule, check in SITE_RULES if (r := check(ref.workload, site))), None
            )
            if site_reason:
                pruned.append(Pruned(ref.index, site.id, None, *site_reason))
                continue
            for offer in offers_at[site.id]:
                got = _options_at_offer(world, ref, site, offer, caps)
                if isinstance(got, Pruned):
                    pruned.append(got)
                else:
                    mine.extend(got)
        mine.sort(key=lambda o: (o.cost_micro, o.site_id, o.offer_id, o.purchase.value))
        by_stage.append(list(range(len(options), len(options) + len(mine))))
        options.extend(mine)
    return Candidates(refs, options, by_stage, pruned, caps)
