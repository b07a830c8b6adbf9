"""Pricing an option: instances, run hours, integer costs and capacity usage per unit.

Units: a stage is placed in ``units`` — 1 for most stages, one per replica for
inference stages whose replicas may be split over sites. An option runs
``instances`` instances per unit for ``hours`` hours each (training and testing
hours are the stage's reference hours divided by the GPU's relative speed;
inference hours are per planning period). Per unit it consumes
``instances × hours`` instance-hours of its (site, offer) and
``instances × gpus × hours`` GPU-hours of its (site, GPU model), counted in
milli-unit-hours (rounded up). Money per unit is integer micro-dollars.

Magnitudes: the portfolio schema bounds every field (:mod:`planner.models.limits`), but
a product of fields (price × instances × hours) can still be absurd. Every option is
checked before it reaches the solver: each money term of a whole stage (per unit × units)
must stay within ``MAX_STAGE_MICRO`` ($10¹²) and each capacity use within
``MAX_STAGE_USAGE``, so every coefficient fits in 64 bits (< 2⁶²) with room for sums.
A stage beyond that is reported as an :class:`~planner.errors.InputError` naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from planner.compile.rules import StageRef
from planner.errors import InputError
from planner.models.portfolio import Portfolio, Settings, Stage, StageKind
from planner.models.world import Offer, Purchase, Site, SiteKind, World
from planner.money import MICRO, USAGE_SCALE, cost_micro, to_micro, usage_units

MAX_STAGE_MICRO = 10**18
"""Largest money term of one stage on one option (per unit × units): $10¹²."""
MAX_STAGE_USAGE = 10**18
"""Largest capacity use of one stage on one option, in milli-unit-hours (10¹⁵ unit-hours)."""


@dataclass(frozen=True)
class Option:
    """One way to run a stage (per unit): integer costs and capacity usage."""

    stage: int
    site_id: str
    offer_id: str
    purchase: Purchase
    instances: int
    hours: Decimal
    compute_micro: int
    egress_micro: int
    usage: tuple[tuple[str, int], ...]
    max_units: int = 1
    migration_micro: int = 0
    risk_micro: int = 0
    preference_micro: int = 0
    moved: bool = False

    @property
    def cost_micro(self) -> int:
        """Real cost per unit: compute + fixed data flows + migration."""
        return self.compute_micro + self.egress_micro + self.migration_micro

    @property
    def objective_micro(self) -> int:
        """What the optimizer minimizes per unit: cost + spot risk + preference surcharge."""
        return self.cost_micro + self.risk_micro + self.preference_micro


def offer_resource(site_id: str, offer_id: str) -> str:
    return f"offer:{site_id}/{offer_id}"


def gpu_resource(site_id: str, gpu_model: str) -> str:
    return f"gpu:{site_id}/{gpu_model}"


def instances_per_unit(ref: StageRef, offer: Offer) -> int:
    """Instances for one unit: enough GPUs, vCPUs and memory for each replica it holds."""
    stage = ref.stage
    per_replica = max(
        math.ceil(stage.vcpus / offer.vcpus),
        math.ceil(stage.memory_gib / offer.memory_gib),
        math.ceil(stage.gpu.count / offer.gpu_count) if stage.gpu else 1,
    )
    return per_replica if stage.splittable else per_replica * stage.replicas


def run_hours(stage: Stage, offer: Offer) -> Decimal:
    """Hours each instance runs: reference hours / GPU speed for training and testing."""
    if stage.kind is StageKind.INFERENCE or stage.gpu is None or offer.gpu_model is None:
        return stage.hours
    return stage.hours / stage.gpu.models[offer.gpu_model]


def max_units(world: World, offer: Offer, instances: int) -> tuple[int | None, str]:
    """Units of a stage that fit at once on the offer (inventory / quota), and the binding
    resource; None when unlimited."""
    best: int | None = None
    resource = ""
    if offer.capacity is not None:
        best, resource = offer.capacity // instances, offer_resource(offer.site_id, offer.id)
    if offer.gpu_model:
        quota = world.gpu_quotas.get((offer.site_id, offer.gpu_model))
        if quota is not None:
            fit = int(Decimal(quota) // (offer.gpu_count * instances))
            if best is None or fit < best:
                best, resource = fit, gpu_resource(offer.site_id, offer.gpu_model)
    return best, resource


def commitments_allowed(settings: Settings, stage: Stage, period_hours: Decimal) -> bool:
    """A 1-/3-year commitment may price a stage only when the portfolio allows commitments
    and the stage runs the whole planning period: always-on inference (hours ≥ period).

    Simplification: a commitment's term (1 or 3 years) outlives the planning period; it is
    priced per hour over the period (commit rate × hours), as if the capacity kept being
    used after the period. The plan shows it as ``commit_1y`` / ``commit_3y``."""
    return (settings.allow_commitments and stage.kind is StageKind.INFERENCE
            and stage.hours >= period_hours)


COMMITMENTS = (Purchase.COMMIT_1Y, Purchase.COMMIT_3Y)


def purchases(site: Site, stage: Stage, offer: Offer, commit: bool = False
              ) -> list[tuple[Purchase, Decimal]]:
    """Purchase options and their hourly price (``commit``: commitments are allowed for
    this stage, see :func:`commitments_allowed`)."""
    if site.kind is SiteKind.ONPREM:
        return [(Purchase.OWNED, offer.price_per_hour)]
    out = [(Purchase.ON_DEMAND, offer.price_per_hour)]
    if stage.spot and offer.spot_price_per_hour is not None:
        out.append((Purchase.SPOT, offer.spot_price_per_hour))
    for purchase in COMMITMENTS if commit else ():
        price = offer.price(purchase)
        if price is not None:
            out.append((purchase, price))
    return out


def fixed_flows_micro(world: World, ref: StageRef, site: Site) -> int:
    """Data flows with one fixed end, per unit: the dataset into training, test data into
    testing (both from the dataset's home), and inference responses out to users."""
    w, stage = ref.workload, ref.stage
    home = world.sites[w.dataset.home]
    if stage.kind is StageKind.TRAINING:
        return cost_micro(home.egress_per_gb_to(site), w.dataset.size_gb)
    if stage.kind is StageKind.TESTING:
        return cost_micro(home.egress_per_gb_to(site), w.dataset.test_gb)
    share = stage.response_gb / ref.units
    return cost_micro(site.egress.internet_per_gb, share)


def moved_data_gb(ref: StageRef) -> Decimal:
    """Data a stage takes along when it moves: the dataset for training, test data and the
    model for testing, the model for inference."""
    w = ref.workload
    if ref.stage.kind is StageKind.TRAINING:
        return w.dataset.size_gb
    if ref.stage.kind is StageKind.TESTING:
        return w.dataset.test_gb + w.model.size_gb
    return w.model.size_gb


def migration_micro(world: World, portfolio: Portfolio, ref: StageRef, site: Site,
                    offer: Offer, previous: list[tuple[str, str]] | None) -> tuple[int, bool]:
    """Re-planning: cost of moving a unit away from the previous plan, and whether it moves."""
    if not previous or (site.id, offer.id) in previous:
        return 0, False
    fixed = to_micro(portfolio.settings.move_fixed_usd)
    old = world.sites.get(previous[0][0])
    if old is None or old.id == site.id:
        return fixed, True
    return fixed + cost_micro(old.egress_per_gb_to(site), moved_data_gb(ref)), True


def capacities(world: World) -> dict[str, int]:
    """Capacity of every limited resource, in milli-unit-hours per planning period."""
    caps: dict[str, int] = {}
    for o in world.offers:
        if o.capacity is not None:
            caps[offer_resource(o.site_id, o.id)] = usage_units(Decimal(o.capacity),
                                                                world.period_hours)
    for (site_id, model), gpus in world.gpu_quotas.items():
        caps[gpu_resource(site_id, model)] = usage_units(Decimal(gpus), world.period_hours)
    return caps


def stage_path(portfolio: Portfolio, ref: StageRef) -> str:
    """``workloads[i].stages[j]``: where a stage is in the portfolio file."""
    i = next((k for k, w in enumerate(portfolio.workloads) if w.id == ref.workload.id), 0)
    j = next((k for k, s in enumerate(ref.workload.stages) if s.label == ref.stage.label), 0)
    return f"workloads[{i}].stages[{j}]"


def check_magnitudes(portfolio: Portfolio, ref: StageRef, site: Site, offer: Offer,
                     money: dict[str, int], usage: tuple[tuple[str, int], ...]) -> None:
    """Each money term (micro-dollars per unit) and capacity use (milli-unit-hours per
    unit) of a stage on one option, times its units, within the solver's limits."""
    units = ref.units
    hint = ("check the stage's hours, replicas, GPU count, vCPUs and memory, and the offer's "
            "price; limits: planner/docs/guide.md, 'Limits'")
    for what, micro in money.items():
        if micro * units > MAX_STAGE_MICRO:
            raise InputError(f"{what} ${_sci(micro * units / MICRO)} on {site.id}/{offer.id} "
                             f"is too large to plan (limit ${_sci(MAX_STAGE_MICRO / MICRO)} "
                             "per stage)", path=stage_path(portfolio, ref), hint=hint)
    for resource, amount in usage:
        if amount * units > MAX_STAGE_USAGE:
            raise InputError(f"capacity use {_sci(amount * units / USAGE_SCALE)} unit-hours of "
                             f"{resource.split(':', 1)[1]} is too large to plan (limit "
                             f"{_sci(MAX_STAGE_USAGE / USAGE_SCALE)} per stage)",
                             path=stage_path(portfolio, ref), hint=hint)


def _sci(x: float) -> str:
    """3.1e14 rather than 3.1e+14."""
    return f"{x:.3g}".replace("e+", "e")


def price_options(world: World, portfolio: Portfolio, ref: StageRef, site: Site, offer: Offer,
           caps: dict[str, int], previous: list[tuple[str, str]] | None,
           units_cap: int, n: int | None = None, flows: int | None = None) -> list[Option]:
    """Every purchase option of a stage on one offer, priced per unit (``n`` and ``flows``
    may be passed in when the caller already knows them)."""
    stage, settings = ref.stage, portfolio.settings
    n = instances_per_unit(ref, offer) if n is None else n
    hours = run_hours(stage, offer)
    usage = []
    if offer_resource(site.id, offer.id) in caps:
        usage.append((offer_resource(site.id, offer.id), usage_units(Decimal(n), hours)))
    if offer.gpu_model and gpu_resource(site.id, offer.gpu_model) in caps:
        usage.append((gpu_resource(site.id, offer.gpu_model),
                      usage_units(Decimal(n), offer.gpu_count, hours)))
    flows = fixed_flows_micro(world, ref, site) if flows is None else flows
    migration, moved = migration_micro(world, portfolio, ref, site, offer, previous)
    pl = ref.workload.placement
    preferred = not (pl.prefer_sites or pl.prefer_providers) or (
        site.id in pl.prefer_sites or site.provider in pl.prefer_providers)
    out = []
    commit = commitments_allowed(settings, stage, world.period_hours)
    for purchase, price in purchases(site, stage, offer, commit):
        compute = cost_micro(price, Decimal(n), hours)
        risk = (cost_micro(price * settings.spot_risk_uplift, Decimal(n), hours)
                if purchase is Purchase.SPOT else 0)
        pref = 0 if preferred else cost_micro(price * settings.preference_weight, Decimal(n), hours)
        check_magnitudes(portfolio, ref, site, offer,
                         {"compute cost": compute, "spot risk": risk, "preference surcharge": pref,
                          "data transfer cost": flows, "migration cost": migration},
                         tuple(usage))
        out.append(Option(ref.index, site.id, offer.id, purchase, n, hours, compute, flows,
                          tuple(usage), units_cap, migration, risk, pref, moved))
    return out


