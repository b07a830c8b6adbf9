"""Turn a solver's units-per-option into a :class:`Plan`: costs, utilization, reasons, moves."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal

import numpy as np

from planner.candidates import Candidates, Option, Pruned, PrunedList, Rule, StageRef
from planner.digest import input_digest
from planner.models.plan import (
    Alternative,
    CatalogRef,
    Conflict,
    CostSplit,
    Move,
    Placement,
    Plan,
    ResourceUse,
    SolverReport,
    Totals,
    Unplaced,
)
from planner.models.portfolio import Portfolio, StageKind
from planner.models.status import SolveStatus
from planner.models.world import Purchase, World
from planner.money import USAGE_SCALE, micro_to_usd
from planner.solvers.base import Problem, Solution, SolveOptions

_SIX = Decimal("0.000001")
_usd = micro_to_usd


def _money(micro: int) -> str:
    """Micro-dollars for a sentence: ``$1,639.94``."""
    return f"${micro / 1_000_000:,.2f}"


def _same(a: Option, b: Option) -> bool:
    return (a.site_id, a.offer_id, a.purchase) == (b.site_id, b.offer_id, b.purchase)


def _runner_up(cands: Candidates, stage: int, chosen: list[Option],
               remaining: dict[str, int]) -> Alternative | None:
    best = min(chosen, key=lambda o: o.objective_micro)
    for i in cands.by_stage[stage]:
        alt = cands.options[i]
        if any(_same(alt, c) for c in chosen):
            continue
        delta = alt.cost_micro - best.cost_micro
        if alt.objective_micro < best.objective_micro:
            full = [name for name, amount in alt.usage if remaining.get(name, 0) < amount]
            why = ("cheaper, but blocked at the optimum by "
                   + (f"capacity ({', '.join(full)} full)" if full
                      else "the co-location, pipeline-egress, budget, spread or move rules"))
        elif alt.objective_micro == best.objective_micro:
            why = "same cost; tie broken by site and offer name"
        elif delta > 0:
            why = f"costs {_money(delta)} more"
        else:
            why = (f"no cheaper, but {_money(alt.objective_micro - best.objective_micro)} "
                   "worse after the spot-risk uplift or the preference surcharge")
        return Alternative(site=alt.site_id, offer=alt.offer_id, purchase=alt.purchase,
                           total_usd=_usd(alt.cost_micro), delta_usd=_usd(delta), why_not=why)
    return None


def _cheaper_rejected(pruned: list[Pruned], chosen: list[Option]) -> Alternative | None:
    best = min(chosen, key=lambda o: o.objective_micro)
    cand: tuple[int, Option, Pruned] | None = None
    for p in pruned:
        for o in p.options:
            if o.objective_micro < best.objective_micro and (
                    cand is None or o.objective_micro < cand[0]):
                cand = (o.objective_micro, o, p)
    if cand is None:
        return None
    _, o, p = cand
    return Alternative(site=o.site_id, offer=o.offer_id, purchase=o.purchase,
                       total_usd=_usd(o.cost_micro), delta_usd=_usd(o.cost_micro - best.cost_micro),
                       why_not=f"{p.rule.value}: {p.reason}", rule=p.rule.value)


def _why(ref: StageRef, world: World, cands: Candidates, chosen: list[tuple[Option, int]],
         artifact: dict[str, int]) -> list[str]:
    opts = [o for o, _ in chosen]
    cheapest = cands.options[cands.by_stage[ref.index][0]]
    best = min(opts, key=lambda o: o.objective_micro)
    why = []
    if best.objective_micro <= cheapest.objective_micro:
        why.append("cheapest feasible option for this stage")
    else:
        why.append(f"cheapest choice that fits capacity and the pipeline rules "
                   f"({_money(best.objective_micro - cheapest.objective_micro)} per unit above "
                   f"the unconstrained cheapest, {cheapest.site_id}/{cheapest.offer_id})")
    r = ref.residency
    for o in {o.site_id: o for o in opts}.values():
        site = world.sites[o.site_id]
        if r.jurisdictions:
            inside = sorted(site.jurisdictions.intersection(r.jurisdictions))
            why.append(f"residency: {site.id} is in {site.country} ({', '.join(inside)})")
        if r.countries or r.sites or r.certifications:
            why.append(f"residency: {site.id} meets the country/site/certification rules")
    if ref.stage.kind is not StageKind.TRAINING and not r.jurisdictions and \
            ref.workload.residency.jurisdictions and ref.workload.model.exportable:
        why.append("model is exportable: inference is not bound to the data's jurisdictions")
    flows = sum(o.egress_micro * u for o, u in chosen)
    if flows:
        what = {StageKind.TRAINING: f"dataset from {ref.workload.dataset.home}",
                StageKind.TESTING: f"test data from {ref.workload.dataset.home}",
                StageKind.INFERENCE: "responses to users"}[ref.stage.kind]
        why.append(f"data flow: {what} costs {_money(flows)} egress")
    for site_id, micro in sorted(artifact.items()):
        why.append(f"model artifact ({ref.workload.model.size_gb} GB) moves to {site_id}: "
                   f"{_money(micro)} egress")
    if ref.stage.colocate:
        why.append(f"co-located with {ref.stage.colocate.stage} "
                   f"(same {ref.stage.colocate.level.value})")
    if any(o.purchase is Purchase.SPOT for o in opts):
        why.append("spot capacity: interruption allowed; the objective adds the re-run risk")
    if ref.stage.splittable:
        sites = sorted({o.site_id for o in opts})
        why.append(f"{ref.stage.replicas} replicas over {len(sites)} site(s): {', '.join(sites)}"
                   + (f" (at least {ref.stage.min_sites} required)"
                      if ref.stage.min_sites > 1 else ""))
    if ref.stage.latency:
        for o in {o.site_id: o for o in opts}.values():
            rtts = ", ".join(f"{u} {world.rtt_ms(o.site_id, u)} ms"
                             for u in ref.stage.latency.users)
            why.append(f"latency from {o.site_id}: {rtts} (SLO {ref.stage.latency.max_ms} ms)")
    if ref.index in cands.previous:
        why.append("moved from the previous plan" if any(o.moved for o in opts)
                   else "kept from the previous plan")
    return why


def _artifact_egress(problem: Problem, x: np.ndarray) -> dict[int, dict[str, int]]:
    """Edge egress per receiving stage and site."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for e in problem.edges:
        src = problem.sites_used(x, e.a)
        if len(src) != 1:
            continue
        i = next(iter(src))
        for j in sorted(problem.sites_used(x, e.b)):
            c = e.cost.get((i, j), 0)
            if c:
                site = problem.site_names[j]
                out[e.b][site] = out[e.b].get(site, 0) + c
    return out


def _resources(cands: Candidates, chosen: dict[int, list[tuple[Option, int]]]
               ) -> tuple[list[ResourceUse], dict[str, int]]:
    used: dict[str, int] = defaultdict(int)
    for pairs in chosen.values():
        for opt, units in pairs:
            for name, amount in opt.usage:
                used[name] += amount * units
    remaining = {name: cap - used.get(name, 0) for name, cap in cands.capacities.items()}
    blocked: set[str] = set()
    for s, pairs in chosen.items():
        best = min(o.objective_micro for o, _ in pairs)
        for i in cands.by_stage[s]:
            alt = cands.options[i]
            if alt.objective_micro >= best:
                break
            blocked.update(n for n, a in alt.usage if remaining[n] < a)
    out = []
    for name in sorted(used):
        cap = cands.capacities[name]
        out.append(ResourceUse(
            resource=name, site=name.split(":", 1)[1].rsplit("/", 1)[0],
            used_unit_hours=(Decimal(used[name]) / USAGE_SCALE).quantize(Decimal("0.001")),
            capacity_unit_hours=(Decimal(cap) / USAGE_SCALE).quantize(Decimal("0.001")),
            utilization=round(used[name] / cap, 4) if cap else 1.0,
            binding=name in blocked))
    return out, remaining


def _totals(placements: list[Placement], risk: int, pref: int) -> Totals:
    groups: dict[str, dict[str, Decimal]] = {k: defaultdict(Decimal) for k in
                                             ("provider", "site", "team", "kind")}
    compute = egress = migration = Decimal(0)
    for p in placements:
        compute += p.cost.compute_usd
        egress += p.cost.egress_usd
        migration += p.cost.migration_usd
        groups["provider"][p.provider] += p.cost.total_usd
        groups["site"][p.site] += p.cost.total_usd
        groups["team"][p.team] += p.cost.total_usd
        groups["kind"][p.kind.value] += p.cost.total_usd
    return Totals(compute_usd=compute, egress_usd=egress, migration_usd=migration,
                  total_usd=compute + egress + migration, spot_risk_usd=_usd(risk),
                  preference_usd=_usd(pref),
                  **{f"by_{k}": dict(sorted(v.items())) for k, v in groups.items()})


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
        reasons = [f"{n} option{'s' if n > 1 else ''} pruned by {rule.value}, e.g. "
                   f"{examples[(ref.index, rule)]}"
                   for rule, n in sorted(by_stage[ref.index].items())]
        out.append(Unplaced(workload=ref.workload.id, stage=ref.stage.label,
                            reasons=reasons or ["no site offers any hardware"]))
    return out


def _move(ref: StageRef, cands: Candidates, pairs: list[tuple[Option, int]],
          pruned: list[Pruned]) -> Move | None:
    prev = cands.previous.get(ref.index)
    if not prev or not any(o.moved for o, _ in pairs):
        return None
    now = sorted({f"{o.site_id}/{o.offer_id}" for o, _ in pairs})
    same = [cands.options[i] for i in cands.by_stage[ref.index]
            if (cands.options[i].site_id, cands.options[i].offer_id) in prev]
    if not same:
        gone = next((p for p in pruned if (p.site_id, p.offer_id) in prev
                     or (p.offer_id is None and p.site_id in {s for s, _ in prev})), None)
        why = (f"the previous option is no longer allowed: {gone.rule.value}: {gone.reason}"
               if gone else "the previous option no longer exists in the catalogs")
    else:
        stay = min(o.objective_micro for o in same) * (ref.units if ref.stage.splittable else 1)
        new = sum(o.objective_micro * u for o, u in pairs)
        why = (f"saves {_money(stay - new)} per period after migration costs" if new < stay
               else "the previous option no longer fits capacity or the other rules")
    return Move(workload=ref.workload.id, stage=ref.stage.label,
                previous=[f"{s}/{o}" for s, o in prev], now=now,
                migration_usd=_usd(sum(o.migration_micro * u for o, u in pairs)), why=why)


def _pruned_lookup(cands: Candidates) -> Callable[[int, bool], list[Pruned]]:
    """Pruned options of one stage (only those carrying priced options if asked), without
    materializing every stage's records (a :class:`PrunedList` rebuilds them per stage)."""
    pl = cands.pruned
    if isinstance(pl, PrunedList):
        return lambda s, priced: pl.of_stage(s, priced_only=priced)
    by_stage: dict[int, list[Pruned]] = defaultdict(list)
    for p in pl:
        by_stage[p.stage].append(p)
    return lambda s, priced: [p for p in by_stage[s] if p.options or not priced]


def build_plan(portfolio: Portfolio, world: World, cands: Candidates, problem: Problem,
               solution: Solution, options: SolveOptions, *, reproducible: bool = False,
               conflicts: list[Conflict] | None = None, diagnosis: str | None = None) -> Plan:
    """Assemble the plan from the solution (placements only when a solution exists)."""
    feasible = solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    x = solution.x
    chosen: dict[int, list[tuple[Option, int]]] = defaultdict(list)
    if feasible:
        for o in np.flatnonzero(x).tolist():
            opt = cands.options[o]
            chosen[opt.stage].append((opt, int(x[o])))
    pruned_of = _pruned_lookup(cands)
    resources, remaining = _resources(cands, chosen)
    artifact = _artifact_egress(problem, x) if feasible else {}
    placements: list[Placement] = []
    moves: list[Move] = []
    risk = pref = 0
    for s in sorted(chosen):
        ref, pairs = cands.stages[s], chosen[s]
        edge_left = dict(artifact.get(s, {}))
        why = _why(ref, world, cands, pairs, artifact.get(s, {}))
        runner = _runner_up(cands, s, [o for o, _ in pairs], remaining)
        rejected = _cheaper_rejected(pruned_of(s, True), [o for o, _ in pairs])
        for opt, units in pairs:
            site, offer = world.sites[opt.site_id], world.offer(opt.site_id, opt.offer_id)
            assert offer is not None
            edge = edge_left.pop(opt.site_id, 0)
            compute, flows = opt.compute_micro * units, opt.egress_micro * units + edge
            migration = opt.migration_micro * units
            risk += opt.risk_micro * units
            pref += opt.preference_micro * units
            placements.append(Placement(
                workload=ref.workload.id, stage=ref.stage.label, kind=ref.stage.kind,
                team=ref.workload.team, site=site.id, provider=site.provider,
                region=site.region, country=site.country, offer=offer.id, purchase=opt.purchase,
                gpu_model=offer.gpu_model, gpus_per_instance=offer.gpu_count,
                replicas=units if ref.stage.splittable else ref.stage.replicas,
                instances=opt.instances * units, hours=opt.hours.quantize(_SIX),
                cost=CostSplit(compute_usd=_usd(compute), egress_usd=_usd(flows),
                               migration_usd=_usd(migration),
                               total_usd=_usd(compute + flows + migration)),
                why=why, runner_up=runner, cheaper_rejected=rejected, moved=opt.moved))
        move = _move(ref, cands, pairs, pruned_of(s, False)) if s in cands.previous else None
        if move:
            moves.append(move)
    objective, bound = solution.objective, solution.bound
    gap = None
    if objective is not None and bound is not None:
        gap = round((objective - bound) / objective, 6) if objective else 0.0
    solver = SolverReport(
        backend=solution.backend, status=solution.status,
        objective_usd=_usd(objective) if objective is not None else None,
        bound_usd=_usd(bound) if bound is not None else None, gap=gap,
        time_limit_s=options.time_limit_s, workers=options.workers, seed=options.seed,
        solve_time_s=None if reproducible else round(solution.solve_time_s, 3),
        build_time_s=None if reproducible else round(solution.stats.get("build_time_s", 0.0), 3),
        detail=solution.detail)
    catalogs = [CatalogRef(provider=c.provider, file=c.path, sha256=c.sha256,
                           fetched_at=c.fetched_at, age_days=None if reproducible else c.age_days)
                for c in world.catalogs]
    counts = (cands.pruned.counts() if isinstance(cands.pruned, PrunedList)
              else Counter(p.rule.value for p in cands.pruned))
    return Plan(portfolio=portfolio.name, status=solution.status, placements=placements,
                resources=resources, totals=_totals(placements, risk, pref), solver=solver,
                catalogs=catalogs, warnings=list(world.warnings),
                unplaced=_unplaced(cands) if not feasible else [],
                conflicts=list(conflicts or []), diagnosis=diagnosis, moves=moves,
                pruned=dict(sorted(counts.items())), inputs=input_digest(portfolio, world))
