"""Independent verifier: never trust the solver.

Given the inputs (portfolio and resolved world) and a plan, recompute every
rule and every cost from scratch, without the candidate generator or any solver
code, and list what is wrong. Costs are recomputed exactly (decimal, rounded
half-even to micro-dollars per cost term, as the plan schema states); capacity
is checked exactly in unit-hours, with no rounding in the planner's favour.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from planner.models.plan import Placement, Plan
from planner.models.portfolio import Portfolio, Stage, StageKind, Workload
from planner.models.status import SolveStatus
from planner.models.world import Offer, Purchase, Site, SiteKind, World


@dataclass(frozen=True)
class Violation:
    """A broken rule: which rule, where in the plan, and what is wrong."""

    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.rule}] {self.message}"


def _micro(x: Decimal) -> Decimal:
    """Round a USD amount to whole micro-dollars, half-even, as USD."""
    return (x * 1_000_000).to_integral_value(rounding=ROUND_HALF_EVEN) / Decimal(1_000_000)


def _check_residency(w: Workload, site: Site, where: str) -> list[Violation]:
    out = []
    r = w.residency
    if r.sites and site.id not in r.sites:
        out.append(Violation("residency.sites", where, f"{site.id} not in allowed sites"))
    if r.countries and site.country not in r.countries:
        out.append(
            Violation(
                "residency.countries",
                where,
                f"{site.id} is in {site.country}, allowed {r.countries}",
            )
        )
    if r.jurisdictions and not set(r.jurisdictions) & site.jurisdictions:
        out.append(
            Violation("residency.jurisdictions", where, f"{site.id} is outside {r.jurisdictions}")
        )
    missing = set(r.certifications) - site.certifications
    if missing:
        out.append(
            Violation("residency.certifications", where, f"{site.id} lacks {sorted(missing)}")
        )
    return out


def _required_instances(stage: Stage, offer: Offer) -> int:
    gpus = 1
    if stage.gpu is not None:
        if not offer.gpu_count:
            return math.inf  # type: ignore[return-value]
        gpus = math.ceil(Decimal(stage.gpu.count) / offer.gpu_count)
    per = max(
        gpus,
        math.ceil(Decimal(stage.vcpus) / offer.vcpus),
        math.ceil(stage.memory_gib / offer.memory_gib),
    )
    return per * stage.replicas


def _check_hardware(
    stage: Stage, site: Site, offer: Offer, p: Placement, where: str
) -> list[Violation]:
    out = []
    if stage.gpu is not None and offer.gpu_model not in stage.gpu.models:
        out.append(
            Violation(
                "hardware.gpu_model",
                where,
                f"{offer.id} has {offer.gpu_model}, not in {list(stage.gpu.models)}",
            )
        )
    if stage.gpu is None and offer.gpu_model:
        out.append(Violation("hardware.cpu_only", where, f"CPU-only stage on GPU offer {offer.id}"))
    if offer.restricted:
        out.append(Violation("hardware.restricted", where, f"{offer.id}: {offer.restricted}"))
    need = _required_instances(stage, offer)
    if p.instances < need:
        out.append(
            Violation(
                "hardware.size", where, f"{p.instances} × {offer.id} < {need} needed for the stage"
            )
        )
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


def _check_costs(
    w: Workload, stage: Stage, world: World, site: Site, offer: Offer, p: Placement, where: str
) -> tuple[list[Violation], Decimal]:
    out = []
    hours = _hours(stage, offer)
    if p.hours != hours.quantize(Decimal("0.000001")):
        out.append(Violation("cost.hours", where, f"hours {p.hours} ≠ {hours}"))
    price = offer.spot_price_per_hour if p.purchase is Purchase.SPOT else offer.price_per_hour
    compute = _micro((price or Decimal(0)) * p.instances * hours)
    egress = Decimal(0)
    if stage.kind is StageKind.TRAINING and w.dataset.home != site.id:
        home = world.sites[w.dataset.home]
        rate = (
            home.egress.same_provider_per_gb
            if home.kind is SiteKind.CLOUD and home.provider == site.provider
            else home.egress.internet_per_gb
        )
        egress = _micro(rate * w.dataset.size_gb)
    for label, got, want in (
        ("compute", p.cost.compute_usd, compute),
        ("egress", p.cost.egress_usd, egress),
        ("total", p.cost.total_usd, compute + egress),
    ):
        if got != want:
            out.append(Violation(f"cost.{label}", where, f"plan says {got}, inputs give {want}"))
    return out, compute + egress


def _check_capacity(
    plan: Plan,
    world: World,
    used: dict[tuple[str, str], list[Decimal]],
    gpu_used: dict[tuple[str, str], list[Decimal]],
) -> list[Violation]:
    out = []
    period = world.period_hours
    for (sid, oid), (hours_total, peak) in sorted(used.items()):
        offer = world.offer(sid, oid)
        if offer is None or offer.capacity is None:
            continue
        if peak > offer.capacity:
            out.append(
                Violation(
                    "capacity.concurrency",
                    f"{sid}/{oid}",
                    f"a stage needs {peak} instances at once; {offer.capacity} exist",
                )
            )
        if hours_total > offer.capacity * period:
            out.append(
                Violation(
                    "capacity.offer",
                    f"{sid}/{oid}",
                    f"{hours_total} instance-hours > {offer.capacity * period}",
                )
            )
    for (sid, model), (hours_total, peak) in sorted(gpu_used.items()):
        quota = world.gpu_quotas.get((sid, model))
        if quota is None:
            continue
        if peak > quota:
            out.append(
                Violation(
                    "capacity.concurrency",
                    f"{sid}/{model}",
                    f"a stage needs {peak} GPUs at once; quota {quota}",
                )
            )
        if hours_total > quota * period:
            out.append(
                Violation(
                    "capacity.gpu", f"{sid}/{model}", f"{hours_total} GPU-hours > {quota * period}"
                )
            )
    return out


def _check_totals(plan: Plan, costs: list[tuple[Placement, Decimal]]) -> list[Violation]:
    out = []
    total = sum((c for _, c in costs), Decimal(0))
    if plan.totals.total_usd != total:
        out.append(Violation("totals", "totals.total_usd", f"{plan.totals.total_usd} ≠ {total}"))
    groups: dict[str, dict[str, Decimal]] = {
        k: defaultdict(Decimal) for k in ("provider", "site", "team", "kind")
    }
    for p, c in costs:
        groups["provider"][p.provider] += c
        groups["site"][p.site] += c
        groups["team"][p.team] += c
        groups["kind"][p.kind.value] += c
    for key, want in groups.items():
        got = getattr(plan.totals, f"by_{key}")
        if dict(got) != dict(want):
            out.append(Violation("totals", f"totals.by_{key}", f"{dict(got)} ≠ {dict(want)}"))
    if plan.solver.objective_usd is not None and plan.solver.objective_usd != total:
        out.append(
            Violation(
                "totals",
                "solver.objective_usd",
                f"objective {plan.solver.objective_usd} ≠ plan cost {total}",
            )
        )
    if plan.solver.bound_usd is not None and plan.solver.bound_usd > total:
        out.append(
            Violation(
                "solver.bound",
                "solver.bound_usd",
                f"bound {plan.solver.bound_usd} above the plan's cost {total}",
            )
        )
    return out


def verify(portfolio: Portfolio, world: World, plan: Plan) -> list[Violation]:
    """Every rule the plan breaks (empty when the plan is valid)."""
    if plan.status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        if plan.placements:
            return [Violation("status", "status", f"{plan.status} plan must not place stages")]
        return []
    out: list[Violation] = []
    stages = {(w.id, s.name or s.kind.value): (w, s) for w in portfolio.workloads for s in w.stages}
    seen: set[tuple[str, str]] = set()
    used: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    gpu_used: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    costs: list[tuple[Placement, Decimal]] = []
    for i, p in enumerate(plan.placements):
        where = f"placements[{i}] ({p.workload}/{p.stage})"
        key = (p.workload, p.stage)
        if key not in stages:
            out.append(Violation("coverage", where, "no such stage in the portfolio"))
            continue
        if key in seen:
            out.append(Violation("coverage", where, "stage placed twice"))
            continue
        seen.add(key)
        w, stage = stages[key]
        site = world.sites.get(p.site)
        offer = world.offer(p.site, p.offer)
        if site is None or offer is None:
            out.append(Violation("exists", where, f"{p.site}/{p.offer} is not an available offer"))
            continue
        if p.team != w.team or p.kind != stage.kind:
            out.append(Violation("coverage", where, "team or kind does not match the portfolio"))
        out += _check_residency(w, site, where)
        out += _check_hardware(stage, site, offer, p, where)
        errs, cost = _check_costs(w, stage, world, site, offer, p, where)
        out += errs
        costs.append((p, cost))
        hours = _hours(stage, offer)
        u = used[(site.id, offer.id)]
        u[0] += p.instances * hours
        u[1] = max(u[1], Decimal(p.instances))
        if offer.gpu_model:
            g = gpu_used[(site.id, offer.gpu_model)]
            g[0] += p.instances * offer.gpu_count * hours
            g[1] = max(g[1], p.instances * offer.gpu_count)
    for key in sorted(set(stages) - seen):
        out.append(Violation("coverage", f"{key[0]}/{key[1]}", "stage is not placed"))
    out += _check_capacity(plan, world, used, gpu_used)
    out += _check_totals(plan, costs)
    return out
