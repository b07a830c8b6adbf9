"""Independent verifier: never trust the solver.

Given the inputs (portfolio, resolved world, and the previous plan when
re-planning) and a plan, recompute every rule and every cost from scratch,
without the candidate generator or any solver code, and list what is wrong.

Cost rules (as the plan schema states): a placement serves ``replicas`` units of
a stage whose replicas may be split over sites (else one unit: the whole stage);
each cost term is computed per unit exactly in decimals and rounded half-even
to micro-dollars, then multiplied by the units. Pipeline egress of the model
artifact is charged once per receiving site, on the first placement there.
Capacity is checked exactly in unit-hours, with no rounding in the planner's
favour.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from planner.models.plan import Placement, Plan
from planner.models.portfolio import (
    ColocationLevel,
    Portfolio,
    Residency,
    Stage,
    StageKind,
    Workload,
)
from planner.models.status import SolveStatus
from planner.models.world import Offer, Purchase, Site, SiteKind, World

Previous = dict[str, list[tuple[str, str]]]


@dataclass(frozen=True)
class Violation:
    """A broken rule: which rule, where in the plan, and what is wrong."""

    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.rule}] {self.message}"


def _round(x: Decimal) -> Decimal:
    """Round a USD amount to whole micro-dollars, half-even, as USD."""
    return (x * 1_000_000).to_integral_value(rounding=ROUND_HALF_EVEN) / Decimal(1_000_000)


def _rate(src: Site, dst: Site) -> Decimal:
    if src.id == dst.id:
        return Decimal(0)
    if src.kind is SiteKind.CLOUD and src.provider == dst.provider:
        return src.egress.same_provider_per_gb
    return src.egress.internet_per_gb


def _splittable(stage: Stage) -> bool:
    return stage.kind is StageKind.INFERENCE and (stage.split or stage.min_sites > 1)


def _check_site(w: Workload, stage: Stage, world: World, site: Site,
                where: str) -> list[Violation]:
    out = []
    r: Residency = w.residency_of(stage)
    if r.sites and site.id not in r.sites:
        out.append(Violation("residency.sites", where, f"{site.id} not in allowed sites"))
    if r.countries and site.country not in r.countries:
        out.append(Violation("residency.countries", where,
                             f"{site.id} is in {site.country}, allowed {r.countries}"))
    if r.jurisdictions and not set(r.jurisdictions) & site.jurisdictions:
        out.append(Violation("residency.jurisdictions", where,
                             f"{site.id} is outside {r.jurisdictions}"))
    missing = set(r.certifications) - site.certifications
    if missing:
        out.append(Violation("residency.certifications", where,
                             f"{site.id} lacks {sorted(missing)}"))
    if site.id in w.placement.exclude_sites or site.provider in w.placement.exclude_providers:
        out.append(Violation("placement.excluded", where, f"{site.id} is excluded"))
    if stage.latency:
        for user in stage.latency.users:
            rtt = world.rtt_ms(site.id, user)
            if rtt is None or rtt > stage.latency.max_ms:
                out.append(Violation("inference.latency", where,
                                     f"{site.id} → {user}: {rtt} ms > {stage.latency.max_ms}"))
    return out


def _per_replica(stage: Stage, offer: Offer) -> int:
    gpus = 1
    if stage.gpu is not None:
        if not offer.gpu_count:
            return 10**9
        gpus = math.ceil(Decimal(stage.gpu.count) / offer.gpu_count)
    return max(gpus, math.ceil(Decimal(stage.vcpus) / offer.vcpus),
               math.ceil(stage.memory_gib / offer.memory_gib))


def _check_hardware(stage: Stage, site: Site, offer: Offer, p: Placement,
                    where: str) -> list[Violation]:
    out = []
    if stage.gpu is not None and offer.gpu_model not in stage.gpu.models:
        out.append(Violation("hardware.gpu_model", where,
                             f"{offer.id} has {offer.gpu_model}, not in {list(stage.gpu.models)}"))
    if stage.gpu is None and offer.gpu_model:
        out.append(Violation("hardware.cpu_only", where, f"CPU-only stage on GPU offer {offer.id}"))
    if offer.restricted:
        out.append(Violation("hardware.restricted", where, f"{offer.id}: {offer.restricted}"))
    need = _per_replica(stage, offer) * p.replicas
    if p.instances < need:
        out.append(Violation("hardware.size", where,
                             f"{p.instances} × {offer.id} < {need} needed"))
    if site.kind is SiteKind.ONPREM and p.purchase is not Purchase.OWNED:
        out.append(Violation("purchase", where, "on-prem capacity is owned"))
    if site.kind is SiteKind.CLOUD and p.purchase is Purchase.OWNED:
        out.append(Violation("purchase", where, "cloud capacity is bought on demand or spot"))
    if p.purchase is Purchase.SPOT and not (stage.spot and offer.spot_price_per_hour is not None):
        out.append(Violation("purchase.spot", where, "spot used but not allowed or not offered"))
    return out


def _hours(stage: Stage, offer: Offer) -> Decimal:
    if stage.kind is StageKind.INFERENCE or stage.gpu is None or offer.gpu_model is None:
        return stage.hours
    return stage.hours / stage.gpu.models[offer.gpu_model]


def _moved_gb(w: Workload, stage: Stage) -> Decimal:
    if stage.kind is StageKind.TRAINING:
        return w.dataset.size_gb
    if stage.kind is StageKind.TESTING:
        return w.dataset.test_gb + w.model.size_gb
    return w.model.size_gb


@dataclass
class _Ctx:
    portfolio: Portfolio
    world: World
    previous: Previous | None
    risk: Decimal = Decimal(0)
    preference: Decimal = Decimal(0)


def _check_costs(ctx: _Ctx, w: Workload, stage: Stage, site: Site, offer: Offer,
                 p: Placement, artifact: Decimal, where: str) -> list[Violation]:
    out = []
    settings = ctx.portfolio.settings
    units = p.replicas if _splittable(stage) else 1
    n = Decimal(p.instances) / units
    hours = _hours(stage, offer)
    if p.hours != hours.quantize(Decimal("0.000001")):
        out.append(Violation("cost.hours", where, f"hours {p.hours} ≠ {hours}"))
    price = offer.spot_price_per_hour if p.purchase is Purchase.SPOT else offer.price_per_hour
    price = price or Decimal(0)
    compute = _round(price * n * hours) * units
    home = ctx.world.sites[w.dataset.home]
    if stage.kind is StageKind.TRAINING:
        flow = _round(_rate(home, site) * w.dataset.size_gb)
    elif stage.kind is StageKind.TESTING:
        flow = _round(_rate(home, site) * w.dataset.test_gb)
    else:
        flow = _round(site.egress.internet_per_gb * stage.response_gb / stage.replicas
                      if _splittable(stage) else site.egress.internet_per_gb * stage.response_gb)
    egress = flow * units + artifact
    migration = Decimal(0)
    prev = (ctx.previous or {}).get(f"{w.id}/{stage.label}")
    moved = bool(prev) and (site.id, offer.id) not in (prev or [])
    if moved and prev:
        old = ctx.world.sites.get(prev[0][0])
        data = _round(_rate(old, site) * _moved_gb(w, stage)) if old else Decimal(0)
        migration = (_round(settings.move_fixed_usd) + data) * units
    if p.moved != moved:
        out.append(Violation("moves", where, f"moved flag {p.moved}, previous plan says {moved}"))
    if p.purchase is Purchase.SPOT:
        ctx.risk += _round(price * settings.spot_risk_uplift * n * hours) * units
    pl = w.placement
    if (pl.prefer_sites or pl.prefer_providers) and not (
            site.id in pl.prefer_sites or site.provider in pl.prefer_providers):
        ctx.preference += _round(price * settings.preference_weight * n * hours) * units
    for label, got, want in (("compute", p.cost.compute_usd, compute),
                             ("egress", p.cost.egress_usd, egress),
                             ("migration", p.cost.migration_usd, migration),
                             ("total", p.cost.total_usd, compute + egress + migration)):
        if got != want:
            out.append(Violation(f"cost.{label}", where, f"plan says {got}, inputs give {want}"))
    return out


def _check_stages(ctx: _Ctx, plan: Plan, by_stage: dict[tuple[str, str], list[Placement]]
                  ) -> list[Violation]:
    """Coverage, spread, co-location and the move cap."""
    out = []
    moved_stages = 0
    for w in ctx.portfolio.workloads:
        for st in w.stages:
            key = (w.id, st.label)
            where = f"{w.id}/{st.label}"
            mine = by_stage.get(key, [])
            if not mine:
                out.append(Violation("coverage", where, "stage is not placed"))
                continue
            if _splittable(st):
                total = sum(p.replicas for p in mine)
                if total != st.replicas:
                    out.append(Violation("coverage", where, f"{total} replicas ≠ {st.replicas}"))
            elif len(mine) != 1 or mine[0].replicas != st.replicas:
                out.append(Violation("coverage", where, "must be placed once, whole"))
            sites = {p.site for p in mine}
            if len(sites) < st.min_sites:
                out.append(Violation("spread", where, f"{len(sites)} sites < {st.min_sites}"))
            if st.colocate:
                other = by_stage.get((w.id, st.colocate.stage), [])
                level = st.colocate.level

                def group(site_id: str, level: ColocationLevel = level) -> str:
                    site = ctx.world.sites[site_id]
                    return {ColocationLevel.SITE: site.id, ColocationLevel.COUNTRY: site.country,
                            ColocationLevel.PROVIDER: site.provider}[level]

                theirs = {group(p.site) for p in other}
                if any(group(s) not in theirs for s in sites):
                    out.append(Violation("colocation", where,
                                         f"not at the same {level.value} as {st.colocate.stage}"))
            moved_stages += any(p.moved for p in mine)
    cap = ctx.portfolio.settings.max_moves
    if ctx.previous is not None and cap is not None and moved_stages > cap:
        out.append(Violation("moves", "moves", f"{moved_stages} stages move; cap is {cap}"))
    return out


def _check_capacity(world: World, placements: list[tuple[Placement, Stage, Offer]]
                    ) -> list[Violation]:
    out = []
    period = world.period_hours
    hours_used: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    gpu_hours: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    at_once: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    gpus_at_once: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for p, stage, offer in placements:
        h = _hours(stage, offer)
        hours_used[(p.site, p.offer)] += p.instances * h
        at_once[(p.workload + "/" + p.stage, p.site, p.offer)] += p.instances
        if offer.gpu_model:
            gpu_hours[(p.site, offer.gpu_model)] += p.instances * offer.gpu_count * h
            gpus_at_once[(p.workload + "/" + p.stage, p.site, offer.gpu_model)] += (
                p.instances * offer.gpu_count)
    for (stage_key, sid, oid), n in sorted(at_once.items()):
        known = world.offer(sid, oid)
        if known and known.capacity is not None and n > known.capacity:
            out.append(Violation("capacity.concurrency", f"{stage_key} on {sid}/{oid}",
                                 f"needs {n} instances at once; {known.capacity} exist"))
    for (stage_key, sid, model), n in sorted(gpus_at_once.items()):
        quota = world.gpu_quotas.get((sid, model))
        if quota is not None and n > quota:
            out.append(Violation("capacity.concurrency", f"{stage_key} on {sid}/{model}",
                                 f"needs {n} GPUs at once; quota {quota}"))
    for (sid, oid), used in sorted(hours_used.items()):
        known = world.offer(sid, oid)
        if known and known.capacity is not None and used > known.capacity * period:
            out.append(Violation("capacity.offer", f"{sid}/{oid}",
                                 f"{used} instance-hours > {known.capacity * period}"))
    for (sid, model), used in sorted(gpu_hours.items()):
        quota = world.gpu_quotas.get((sid, model))
        if quota is not None and used > quota * period:
            out.append(Violation("capacity.gpu", f"{sid}/{model}",
                                 f"{used} GPU-hours > {quota * period}"))
    return out


def _check_totals(ctx: _Ctx, plan: Plan) -> list[Violation]:
    out = []
    s = ctx.portfolio.settings
    t = plan.totals
    sums = {k: sum((getattr(p.cost, f"{k}_usd") for p in plan.placements), Decimal(0))
            for k in ("compute", "egress", "migration", "total")}
    for k, want in sums.items():
        if getattr(t, f"{k}_usd") != want:
            out.append(Violation("totals", f"totals.{k}_usd", f"{getattr(t, f'{k}_usd')} ≠ {want}"))
    for label, got, want in (("spot_risk", t.spot_risk_usd, ctx.risk),
                             ("preference", t.preference_usd, ctx.preference)):
        if got != want:
            out.append(Violation("totals", f"totals.{label}_usd", f"{got} ≠ {want}"))
    groups: dict[str, dict[str, Decimal]] = {k: defaultdict(Decimal)
                                             for k in ("provider", "site", "team", "kind")}
    for p in plan.placements:
        for k, v in (("provider", p.provider), ("site", p.site), ("team", p.team),
                     ("kind", p.kind.value)):
            groups[k][v] += p.cost.total_usd
    for key, want_g in groups.items():
        if dict(getattr(t, f"by_{key}")) != dict(want_g):
            out.append(Violation("totals", f"totals.by_{key}", "does not add up"))
    objective = sums["total"] + ctx.risk + ctx.preference
    if plan.solver.objective_usd is not None and plan.solver.objective_usd != objective:
        out.append(Violation("totals", "solver.objective_usd",
                             f"{plan.solver.objective_usd} ≠ cost + spot risk + preference "
                             f"{objective}"))
    if plan.solver.bound_usd is not None and plan.solver.bound_usd > objective:
        out.append(Violation("solver.bound", "solver.bound_usd",
                             f"bound {plan.solver.bound_usd} above the objective {objective}"))
    if s.budget_usd is not None and sums["total"] > s.budget_usd:
        out.append(Violation("budget", "totals.total_usd", f"{sums['total']} > {s.budget_usd}"))
    for team, cap in s.team_budgets.items():
        spent = groups["team"].get(team, Decimal(0))
        if spent > cap:
            out.append(Violation("budget", f"team {team}", f"{spent} > {cap}"))
    if s.max_provider_share is not None:
        compute: dict[str, Decimal] = defaultdict(Decimal)
        for p in plan.placements:
            compute[p.provider] += p.cost.compute_usd
        total = sum(compute.values(), Decimal(0))
        for prov, spent in sorted(compute.items()):
            if prov != "onprem" and spent > s.max_provider_share * total:
                out.append(Violation("concentration", prov,
                                     f"{spent} of {total} compute > {s.max_provider_share}"))
    return out


def verify(portfolio: Portfolio, world: World, plan: Plan,
           previous: Previous | None = None) -> list[Violation]:
    """Every rule the plan breaks (empty when the plan is valid)."""
    if plan.status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        if plan.placements:
            return [Violation("status", "status", f"{plan.status} plan must not place stages")]
        return []
    ctx = _Ctx(portfolio, world, previous)
    out: list[Violation] = []
    stages = {(w.id, s.label): (w, s) for w in portfolio.workloads for s in w.stages}
    by_stage: dict[tuple[str, str], list[Placement]] = defaultdict(list)
    for p in plan.placements:
        by_stage[(p.workload, p.stage)].append(p)
    checked: list[tuple[Placement, Stage, Offer]] = []
    artifact_paid: set[tuple[str, str, str]] = set()
    for i, p in enumerate(plan.placements):
        where = f"placements[{i}] ({p.workload}/{p.stage})"
        if (p.workload, p.stage) not in stages:
            out.append(Violation("coverage", where, "no such stage in the portfolio"))
            continue
        w, stage = stages[(p.workload, p.stage)]
        site, offer = world.sites.get(p.site), world.offer(p.site, p.offer)
        if site is None or offer is None:
            out.append(Violation("exists", where, f"{p.site}/{p.offer} is not an available offer"))
            continue
        if p.team != w.team or p.kind != stage.kind:
            out.append(Violation("coverage", where, "team or kind does not match the portfolio"))
        artifact = Decimal(0)
        train = w.training()
        if stage.kind is not StageKind.TRAINING and train and w.model.size_gb > 0:
            src = by_stage.get((w.id, train.label), [])
            key = (w.id, stage.label, site.id)
            if len(src) == 1 and key not in artifact_paid:
                artifact_paid.add(key)
                artifact = _round(_rate(world.sites[src[0].site], site) * w.model.size_gb)
        out += _check_site(w, stage, world, site, where)
        out += _check_hardware(stage, site, offer, p, where)
        out += _check_costs(ctx, w, stage, site, offer, p, artifact, where)
        checked.append((p, stage, offer))
    out += _check_stages(ctx, plan, by_stage)
    out += _check_capacity(world, checked)
    out += _check_totals(ctx, plan)
    return out
