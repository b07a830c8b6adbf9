"""Candidates: every feasible (stage, site, offer, purchase option), and why the rest were pruned.

Each business rule that can be decided for one option alone is one function
here, named after the rule; it returns ``None`` when the option passes, or the
reason it does not. Pruned options keep their rule, reason and (for rules a
user could relax) their priced options, so plans can say why a cheaper site was
not taken and the diagnosis can re-admit them behind assumption literals.

Units: a stage is placed in ``units`` — 1 for most stages, one per replica for
inference stages whose replicas may be split over sites. An option runs
``instances`` instances per unit for ``hours`` hours each (training and testing
hours are the stage's reference hours divided by the GPU's relative speed;
inference hours are per planning period). Per unit it consumes
``instances × hours`` instance-hours of its (site, offer) and
``instances × gpus × hours`` GPU-hours of its (site, GPU model), counted in
milli-unit-hours (rounded up). Money per unit is integer micro-dollars.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import overload

from planner.models.portfolio import (
    ColocationLevel,
    Portfolio,
    Residency,
    Stage,
    StageKind,
    Workload,
)
from planner.models.world import Offer, Purchase, Site, SiteKind, World
from planner.money import cost_micro, to_micro, usage_units


class Rule(StrEnum):
    """The rules that prune options up front."""

    RESIDENCY_SITE = "residency.sites"
    RESIDENCY_COUNTRY = "residency.countries"
    RESIDENCY_JURISDICTION = "residency.jurisdictions"
    CERTIFICATION = "residency.certifications"
    EXCLUDED = "placement.excluded"
    LATENCY = "inference.latency"
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

    @property
    def residency(self) -> Residency:
        return self.workload.residency_of(self.stage)

    @property
    def units(self) -> int:
        return self.stage.replicas if self.stage.splittable else 1


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


@dataclass(frozen=True)
class Pruned:
    """Options ruled out before solving, with the rule, a plain-words reason, the rule
    group a user could relax (empty for hardware facts) and the priced options."""

    stage: int
    site_id: str
    offer_id: str | None
    rule: Rule
    reason: str
    groups: tuple[str, ...] = ()
    """Every relaxable rule instance that must be dropped to admit these options."""
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class Edge:
    """Data moved from stage ``a``'s site to every site of stage ``b`` (free on the same site)."""

    a: int
    b: int
    gb: Decimal


@dataclass(frozen=True)
class Colocation:
    """Stage ``b`` must share ``level`` (site, country or provider) with stage ``a``."""

    a: int
    b: int
    level: ColocationLevel


@dataclass(frozen=True)
class Budget:
    """A hard cap (micro-dollars) on the real cost of a set of stages."""

    name: str
    stages: tuple[int, ...]
    cap_micro: int


@dataclass
class Candidates:
    """The options per stage, the capacity of every resource, and the side constraints."""

    stages: list[StageRef]
    options: list[Option]
    by_stage: list[list[int]]
    pruned: Sequence[Pruned]
    capacities: dict[str, int] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    colocations: list[Colocation] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    max_provider_share: Decimal | None = None
    max_moves: int | None = None
    previous: dict[int, list[tuple[str, str]]] = field(default_factory=dict)


def offer_resource(site_id: str, offer_id: str) -> str:
    return f"offer:{site_id}/{offer_id}"


def gpu_resource(site_id: str, gpu_model: str) -> str:
    return f"gpu:{site_id}/{gpu_model}"


# ---- rules decided per (stage, site) ----------------------------------------------------


def residency_sites(ref: StageRef, site: Site, world: World) -> str | None:
    allowed = ref.residency.sites
    if allowed and site.id not in allowed:
        return f"{site.id} is not among the sites allowed for {ref.workload.id}'s data"
    return None


def residency_countries(ref: StageRef, site: Site, world: World) -> str | None:
    allowed = ref.residency.countries
    if allowed and site.country not in allowed:
        return f"{site.id} is in {site.country}, not in allowed countries {', '.join(allowed)}"
    return None


def residency_jurisdictions(ref: StageRef, site: Site, world: World) -> str | None:
    allowed = ref.residency.jurisdictions
    if allowed and not site.jurisdictions.intersection(allowed):
        return (f"{site.id} ({site.country}) is outside allowed jurisdictions "
                f"{', '.join(allowed)}")
    return None


def certifications(ref: StageRef, site: Site, world: World) -> str | None:
    missing = sorted(set(ref.residency.certifications) - site.certifications)
    if missing:
        return f"{site.id} lacks required certification {', '.join(missing)}"
    return None


def excluded(ref: StageRef, site: Site, world: World) -> str | None:
    pl = ref.workload.placement
    if site.id in pl.exclude_sites:
        return f"{site.id} is excluded for {ref.workload.id}"
    if site.provider in pl.exclude_providers:
        return f"provider {site.provider} is excluded for {ref.workload.id}"
    return None


def latency(ref: StageRef, site: Site, world: World) -> str | None:
    slo = ref.stage.latency
    if slo is None:
        return None
    for user in slo.users:
        rtt = world.rtt_ms(site.id, user)
        if rtt is None:
            return f"no latency known from {site.id} to {user}; add settings.latency_ms"
        if rtt > slo.max_ms:
            return f"{site.id} is ~{rtt} ms from {user}; SLO is {slo.max_ms} ms"
    return None


SITE_RULES = (
    (Rule.RESIDENCY_SITE, residency_sites),
    (Rule.RESIDENCY_COUNTRY, residency_countries),
    (Rule.RESIDENCY_JURISDICTION, residency_jurisdictions),
    (Rule.CERTIFICATION, certifications),
    (Rule.EXCLUDED, excluded),
    (Rule.LATENCY, latency),
)


def rule_group(rule: Rule, ref: StageRef) -> str:
    """The name of the rule instance a user could relax (for the infeasibility diagnosis)."""
    if rule is Rule.LATENCY:
        return f"{rule.value}:{ref.key}"
    if rule is Rule.EXCLUDED:
        return f"{rule.value}:{ref.workload.id}"
    scope = ref.key if ref.stage.residency is not None else ref.workload.id
    if rule is Rule.RESIDENCY_JURISDICTION and ref.residency is not ref.workload.residency:
        scope = ref.key
    return f"{rule.value}:{scope}"


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


def purchases(site: Site, stage: Stage, offer: Offer) -> list[tuple[Purchase, Decimal]]:
    """Purchase options and their hourly price."""
    if site.kind is SiteKind.ONPREM:
        return [(Purchase.OWNED, offer.price_per_hour)]
    out = [(Purchase.ON_DEMAND, offer.price_per_hour)]
    if stage.spot and offer.spot_price_per_hour is not None:
        out.append((Purchase.SPOT, offer.spot_price_per_hour))
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


def _price(world: World, portfolio: Portfolio, ref: StageRef, site: Site, offer: Offer,
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
    for purchase, price in purchases(site, stage, offer):
        compute = cost_micro(price, Decimal(n), hours)
        risk = (cost_micro(price * settings.spot_risk_uplift, Decimal(n), hours)
                if purchase is Purchase.SPOT else 0)
        pref = 0 if preferred else cost_micro(price * settings.preference_weight, Decimal(n), hours)
        out.append(Option(ref.index, site.id, offer.id, purchase, n, hours, compute, flows,
                          tuple(usage), units_cap, migration, risk, pref, moved))
    return out


def stage_refs(portfolio: Portfolio) -> list[StageRef]:
    """All stages of the portfolio in file order."""
    refs: list[StageRef] = []
    for w in portfolio.workloads:
        for st in w.stages:
            refs.append(StageRef(len(refs), w, st))
    return refs


def _side_constraints(portfolio: Portfolio, refs: list[StageRef], cands: Candidates) -> None:
    """Pipeline edges, co-location and budgets from the portfolio."""
    by_key = {r.key: r.index for r in refs}
    for r in refs:
        w, st = r.workload, r.stage
        train = w.training()
        if (train is not None and st.kind is not StageKind.TRAINING and w.model.size_gb > 0):
            cands.edges.append(Edge(by_key[f"{w.id}/{train.label}"], r.index, w.model.size_gb))
        if st.colocate is not None:
            cands.colocations.append(Colocation(by_key[f"{w.id}/{st.colocate.stage}"], r.index,
                                                st.colocate.level))
    settings = portfolio.settings
    if settings.budget_usd is not None:
        cands.budgets.append(Budget("total", tuple(r.index for r in refs),
                                    to_micro(settings.budget_usd)))
    for team, cap in sorted(settings.team_budgets.items()):
        cands.budgets.append(Budget(f"team:{team}", tuple(r.index for r in refs
                                                          if r.workload.team == team),
                                    to_micro(cap)))
    cands.max_provider_share = settings.max_provider_share
    cands.max_moves = settings.max_moves


SiteInfo = tuple[tuple[Rule, str], ...]
"""The site rules a stage breaks at one site (empty: allowed)."""
OfferInfo = tuple[Rule, str] | tuple[int, int | None, str]
"""Per offer: the hardware rule it breaks, or (instances per unit, units that fit, resource)."""


@dataclass
class _Context:
    """What every stage's pass reads: the world, capacities and the memoized rule results."""

    portfolio: Portfolio
    world: World
    caps: dict[str, int]
    sites: list[Site]
    offers_at: dict[str, list[Offer]]
    keep_pruned_options: bool
    previous: dict[int, list[tuple[str, str]]]


def _site_key(ref: StageRef) -> tuple[object, ...]:
    """Everything the site rules read from a stage (the workload id only where a reason
    names it)."""
    r, pl, st = ref.residency, ref.workload.placement, ref.stage
    named = bool(r.sites or pl.exclude_sites or pl.exclude_providers)
    return (r.model_dump_json(), pl.model_dump_json(),
            st.latency.model_dump_json() if st.latency else None,
            ref.workload.id if named else None)


def _offer_key(ref: StageRef) -> tuple[object, ...]:
    """Everything the hardware rules, instance count and fit read from a stage."""
    st = ref.stage
    return (st.gpu.model_dump_json() if st.gpu else None, st.vcpus, st.memory_gib,
            st.splittable, st.replicas)


def _site_infos(ctx: _Context, ref: StageRef) -> list[SiteInfo]:
    return [tuple((rule, r) for rule, check in SITE_RULES if (r := check(ref, site, ctx.world)))
            for site in ctx.sites]


def _offer_infos(ctx: _Context, ref: StageRef) -> list[list[OfferInfo]]:
    out: list[list[OfferInfo]] = []
    for site in ctx.sites:
        row: list[OfferInfo] = []
        for offer in ctx.offers_at[site.id]:
            hard = next(((rule, r) for rule, check in OFFER_RULES
                         if (r := check(ref.stage, offer))), None)
            if hard:
                row.append(hard)
                continue
            n = instances_per_unit(ref, offer)
            fit, resource = max_units(ctx.world, offer, n)
            row.append((n, fit, resource))
        out.append(row)
    return out


def _stage_pass(ctx: _Context, ref: StageRef, site_infos: list[SiteInfo],
                offer_infos: list[list[OfferInfo]], *, options: list[Option] | None = None,
                pruned: list[Pruned] | None = None, counts: Counter[str] | None = None,
                priced_only: bool = False) -> None:
    """One stage over every site and offer, in world order: its options go to ``options``,
    its pruned options to ``pruned`` (only those carrying priced options with
    ``priced_only``) and their rules to ``counts`` — each only when given."""
    prev = ctx.previous.get(ref.index)
    want_all = pruned is not None and not priced_only
    out: list[Pruned] = pruned if pruned is not None else []
    opts: list[Option] = options if options is not None else []
    units = ref.units
    for site, reasons, infos in zip(ctx.sites, site_infos, offer_infos, strict=True):
        flows: int | None = None
        if reasons and not ctx.keep_pruned_options:
            if counts is not None:
                counts[reasons[0][0].value] += 1
            if want_all:
                groups = tuple(rule_group(rule, ref) for rule, _ in reasons)
                out.append(Pruned(ref.index, site.id, None, *reasons[0], groups))
            continue
        for offer, info in zip(ctx.offers_at[site.id], infos, strict=True):
            if isinstance(info[0], Rule):
                if counts is not None:
                    counts[info[0].value] += 1
                if want_all:
                    out.append(Pruned(ref.index, site.id, offer.id, info[0], str(info[1])))
                continue
            n, fit, resource = info
            units_cap = units if fit is None else min(fit, units)
            blocked = bool(reasons) or units_cap < 1
            if blocked and counts is not None:
                counts[(reasons[0][0] if reasons else Rule.CONCURRENCY).value] += 1
            if (blocked and pruned is None) or (not blocked and options is None):
                continue
            if flows is None:
                flows = fixed_flows_micro(ctx.world, ref, site)
            priced = _price(ctx.world, ctx.portfolio, ref, site, offer, ctx.caps, prev,
                            max(units_cap, 1), n, flows)
            if not blocked:
                opts.extend(priced)
                continue
            why = list(reasons)
            more = tuple(rule_group(rule, ref) for rule, _ in reasons)
            if units_cap < 1:
                more += (f"capacity:{resource}",)
                why.append((Rule.CONCURRENCY, f"needs {n} × {offer.id} at once; "
                            f"{resource.split(':', 1)[1]} does not hold that many"))
            out.append(Pruned(ref.index, site.id, offer.id, *why[0], more, tuple(priced)))


class PrunedList(Sequence[Pruned]):
    """The pruned options of every stage, in generation order.

    Large portfolios prune millions of (stage, site, offer) triples, so they are not kept
    as objects: each stage keeps references to the memoized rule results it shares with
    similar stages, and its :class:`Pruned` records are rebuilt on demand (iteration,
    :meth:`of_stage`). Counts per rule are kept at generation.
    """

    def __init__(self, ctx: _Context) -> None:
        self._ctx = ctx
        self._stages: list[tuple[StageRef, list[SiteInfo], list[list[OfferInfo]]]] = []
        self._counts: Counter[str] = Counter()

    def _add(self, ref: StageRef, site_infos: list[SiteInfo],
             offer_infos: list[list[OfferInfo]]) -> None:
        self._stages.append((ref, site_infos, offer_infos))

    def of_stage(self, stage: int, *, priced_only: bool = False) -> list[Pruned]:
        """The pruned options of one stage (with ``priced_only``, those carrying options)."""
        ref, site_infos, offer_infos = self._stages[stage]
        out: list[Pruned] = []
        _stage_pass(self._ctx, ref, site_infos, offer_infos, pruned=out,
                    priced_only=priced_only)
        return out

    def counts(self) -> Counter[str]:
        """Pruned options per rule."""
        return Counter(self._counts)

    def __len__(self) -> int:
        return sum(self._counts.values())

    def __iter__(self) -> Iterator[Pruned]:
        for s in range(len(self._stages)):
            yield from self.of_stage(s)

    @overload
    def __getitem__(self, i: int) -> Pruned: ...

    @overload
    def __getitem__(self, i: slice) -> list[Pruned]: ...

    def __getitem__(self, i: int | slice) -> Pruned | list[Pruned]:
        return list(self)[i]


def generate(portfolio: Portfolio, world: World, *,
             previous: dict[str, list[tuple[str, str]]] | None = None,
             keep_pruned_options: bool = True) -> Candidates:
    """Every feasible option per stage (sorted by objective, then names), every pruned one,
    and the side constraints. ``previous`` maps a stage key (``workload/stage``) to the
    (site, offer) pairs it used in the previous plan. With ``keep_pruned_options`` the
    options pruned by a relaxable rule are priced too (for explanations and diagnosis).

    Rule results are memoized per stage signature (what the site rules and the hardware
    rules read from a stage), so each rule runs once per (signature, site or offer)."""
    refs = stage_refs(portfolio)
    offers_at: dict[str, list[Offer]] = {sid: [] for sid in world.sites}
    for o in world.offers:
        offers_at[o.site_id].append(o)
    prev_by_index = {r.index: previous[r.key] for r in refs if previous and r.key in previous}
    ctx = _Context(portfolio, world, capacities(world),
                   [s for s in world.sites.values() if offers_at[s.id]], offers_at,
                   keep_pruned_options, prev_by_index)
    pruned = PrunedList(ctx)
    cands = Candidates(refs, [], [], pruned, ctx.caps)
    cands.previous = prev_by_index
    site_memo: dict[tuple[object, ...], list[SiteInfo]] = {}
    offer_memo: dict[tuple[object, ...], list[list[OfferInfo]]] = {}
    for ref in refs:
        sk, ok = _site_key(ref), _offer_key(ref)
        if sk not in site_memo:
            site_memo[sk] = _site_infos(ctx, ref)
        if ok not in offer_memo:
            offer_memo[ok] = _offer_infos(ctx, ref)
        mine: list[Option] = []
        _stage_pass(ctx, ref, site_memo[sk], offer_memo[ok], options=mine,
                    counts=pruned._counts)
        pruned._add(ref, site_memo[sk], offer_memo[ok])
        mine.sort(key=lambda o: (o.objective_micro, o.site_id, o.offer_id, o.purchase.value))
        cands.by_stage.append(list(range(len(cands.options), len(cands.options) + len(mine))))
        cands.options.extend(mine)
    _side_constraints(portfolio, refs, cands)
    return cands
