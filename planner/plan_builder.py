"""Turn a solver's choice into a :class:`Plan`: costs, utilization, reasons, diagnosis."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

from planner.candidates import Candidates, Option, Rule, StageRef
from planner.models.plan import (
    Alternative,
    CatalogRef,
    CostSplit,
    Placement,
    Plan,
    ResourceUse,
    SolverReport,
    Totals,
    Unplaced,
)
from planner.models.portfolio import Portfolio
from planner.models.status import SolveStatus
from planner.models.world import World
from planner.money import USAGE_SCALE, micro_to_usd
from planner.solvers.base import Problem, Solution, SolveOptions

_SIX = Decimal("0.000001")


def _usd(micro: int) -> Decimal:
    return micro_to_usd(micro)


def _residency_note(ref: StageRef, world: World, site_id: str) -> str | None:
    r = ref.workload.residency
    site = world.sites[site_id]
    parts = []
    if r.jurisdictions:
        inside = sorted(site.jurisdictions.intersection(r.jurisdictions))
        parts.append(f"{site_id} is in {site.country} ({', '.join(inside)})")
    if r.countries:
        parts.append(f"country {site.country} allowed")
    if r.certifications:
        parts.append(f"holds {', '.join(sorted(r.certifications))}")
    return "residency: " + "; ".join(parts) if parts else None


def _runner_up(
    cands: Candidates, stage: int, chosen: Option, remaining: dict[str, int]
) -> Alternative | None:
    for i in cands.by_stage[stage]:
        alt = cands.options[i]
        if (alt.site_id, alt.offer_id, alt.purchase) == (
            chosen.site_id,
            chosen.offer_id,
            chosen.purchase,
        ):
            continue
        delta = alt.cost_micro - chosen.cost_micro
        if delta < 0:
            full = [name for name, amount in alt.usage if remaining.get(name, 0) < amount]
            why = "cheaper, but blocked by capacity at the optimum" + (
                f" ({', '.join(full)} full)" if full else " (capacity taken by other stages)"
            )
        elif delta == 0:
            why = "same cost; tie broken by site and offer name"
        else:
            why = f"costs ${_usd(delta)} more"
        return Alternative(
            site=alt.site_id,
            offer=alt.offer_id,
            purchase=alt.purchase,
            total_usd=_usd(alt.cost_micro),
            delta_usd=_usd(delta),
            why_not=why,
        )
    return None


def _placement(
    ref: StageRef, opt: Option, world: World, cands: Candidates, remaining: dict[str, int]
) -> Placement:
    site = world.sites[opt.site_id]
    offer = world.offer(opt.site_id, opt.offer_id)
    assert offer is not None
    cheapest = cands.options[cands.by_stage[ref.index][0]]
    why = []
    if cheapest is opt or cheapest.cost_micro == opt.cost_micro:
        why.append("cheapest feasible option for this stage")
    else:
        why.append(
            f"cheapest option that fits capacity at the optimum "
            f"(${_usd(opt.cost_micro - cheapest.cost_micro)} above the unconstrained "
            f"cheapest, {cheapest.site_id}/{cheapest.offer_id})"
        )
    note = _residency_note(ref, world, opt.site_id)
    if note:
        why.append(note)
    if opt.egress_micro:
        why.append(
            f"dataset moves from {ref.workload.dataset.home}: ${_usd(opt.egress_micro)} egress"
        )
    return Placement(
        workload=ref.workload.id,
        stage=ref.stage.label,
        kind=ref.stage.kind,
        team=ref.workload.team,
        site=site.id,
        provider=site.provider,
        region=site.region,
        country=site.country,
        offer=offer.id,
        purchase=opt.purchase,
        gpu_model=offer.gpu_model,
        gpus_per_instance=offer.gpu_count,
        instances=opt.instances,
        hours=opt.hours.quantize(_SIX),
        cost=CostSplit(
            compute_usd=_usd(opt.compute_micro),
            egress_usd=_usd(opt.egress_micro),
            total_usd=_usd(opt.cost_micro),
        ),
        why=why,
        runner_up=_runner_up(cands, ref.index, opt, remaining),
    )


def _resources(cands: Candidates, chosen: list[Option]) -> tuple[list[ResourceUse], dict[str, int]]:
    used: dict[str, int] = defaultdict(int)
    for opt in chosen:
        for name, amount in opt.usage:
            used[name] += amount
    remaining = {name: cap - used.get(name, 0) for name, cap in cands.capacities.items()}
    by_stage = {o.stage: o for o in chosen}
    blocked: set[str] = set()
    for s, opts in enumerate(cands.by_stage):
        mine = by_stage.get(s)
        for i in opts:
            alt = cands.options[i]
            if mine is None or alt.cost_micro >= mine.cost_micro:
                break
            blocked.update(n for n, a in alt.usage if remaining[n] < a)
    out = []
    for name in sorted(used):
        cap = cands.capacities[name]
        site = name.split(":", 1)[1].rsplit("/", 1)[0]
        out.append(
            ResourceUse(
                resource=name,
                site=site,
                used_unit_hours=(Decimal(used[name]) / USAGE_SCALE).quantize(Decimal("0.001")),
                capacity_unit_hours=(Decimal(cap) / USAGE_SCALE).quantize(Decimal("0.001")),
                utilization=round(used[name] / cap, 4) if cap else 1.0,
                binding=name in blocked,
            )
        )
    return out, remaining


def _totals(placements: list[Placement]) -> Totals:
    groups: dict[str, dict[str, Decimal]] = {
        k: defaultdict(Decimal) for k in ("provider", "site", "team", "kind")
    }
    compute = egress = Decimal(0)
    for p in placements:
        compute += p.cost.compute_usd
        egress += p.cost.egress_usd
        groups["provider"][p.provider] += p.cost.total_usd
        groups["site"][p.site] += p.cost.total_usd
        groups["team"][p.team] += p.cost.total_usd
        groups["kind"][p.kind.value] += p.cost.total_usd
    return Totals(
        compute_usd=compute,
        egress_usd=egress,
        total_usd=compute + egress,
        **{f"by_{k}": dict(sorted(v.items())) for k, v in groups.items()},
    )


def _unplaced(cands: Candidates) -> list[Unplaced]:
    by_stage: dict[int, Counter[Rule]] = defaultdict(Counter)
    examples: dict[tuple[int, Rule], str] = {}
    for p in cands.pruned:
        by_stage[p.stage][p.rule] += 1
        examples.setdefault((p.stage, p.rule), p.reason)
    out = []
    for ref in cands.stages:
        if cands.by_stage[ref.index]:
            continue
        reasons = [
            f"{n} option{'s' if n > 1 else ''} pruned by {rule.value}, e.g. "
            f"{examples[(ref.index, rule)]}"
            for rule, n in sorted(by_stage[ref.index].items())
        ]
        out.append(
            Unplaced(
                workload=ref.workload.id,
                stage=ref.stage.label,
                reasons=reasons or ["no site offers any hardware"],
            )
        )
    return out


def build_plan(
    portfolio: Portfolio,
    world: World,
    cands: Candidates,
    problem: Problem,
    solution: Solution,
    options: SolveOptions,
    *,
    reproducible: bool = False,
    conflicts: list[str] | None = None,
) -> Plan:
    """Assemble the plan from the solution (placements only when a solution exists)."""
    feasible = solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    chosen = [cands.options[int(o)] for o in solution.choice.tolist()] if feasible else []
    resources, remaining = _resources(cands, chosen)
    placements = [_placement(cands.stages[o.stage], o, world, cands, remaining) for o in chosen]
    objective = solution.objective
    bound = solution.bound
    gap = None
    if objective is not None and bound is not None:
        gap = round((objective - bound) / objective, 6) if objective else 0.0
    solver = SolverReport(
        backend=solution.backend,
        status=solution.status,
        objective_usd=_usd(objective) if objective is not None else None,
        bound_usd=_usd(bound) if bound is not None else None,
        gap=gap,
        time_limit_s=options.time_limit_s,
        workers=options.workers,
        seed=options.seed,
        solve_time_s=None if reproducible else round(solution.solve_time_s, 3),
        build_time_s=None if reproducible else round(solution.stats.get("build_time_s", 0.0), 3),
        detail=solution.detail,
    )
    catalogs = [
        CatalogRef(
            provider=c.provider,
            file=c.path,
            sha256=c.sha256,
            fetched_at=c.fetched_at,
            age_days=None if reproducible else c.age_days,
        )
        for c in world.catalogs
    ]
    pruned = Counter(p.rule.value for p in cands.pruned)
    unplaced = _unplaced(cands) if not feasible else []
    extra = list(conflicts or [])
    if solution.status is SolveStatus.INFEASIBLE and not unplaced and not extra:
        extra.append("every stage has options, but no assignment fits all capacities at once")
    return Plan(
        portfolio=portfolio.name,
        status=solution.status,
        placements=placements,
        resources=resources,
        totals=_totals(placements),
        solver=solver,
        catalogs=catalogs,
        warnings=list(world.warnings),
        unplaced=unplaced,
        conflicts=extra,
        pruned=dict(sorted(pruned.items())),
    )
