"""Turn a solver's units-per-option into a :class:`Plan`: costs, utilization, reasons, moves."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal

import numpy as np

from planner.compile.candidates import Candidates, Option, Pruned, PrunedList, Rule, StageRef
from planner.explain.runner_up import Explainer, runner_up, signed, stay_reason
from planner.explain.schedule_swap import ScheduleSwaps
from planner.inputs.digest import input_digest
from planner.models.plan import (
    Alternative,
    CatalogRef,
    Conflict,
    CostSplit,
    Dropped,
    Move,
    Placement,
    Plan,
    ResourceUse,
    SolverReport,
    Totals,
    Unplaced,
)
from planner.models.portfolio import Portfolio, StageKind
from planner.models.problem import IntArray, Problem
from planner.models.status import SolveStatus
from planner.models.timing import Timing
from planner.models.world import Purchase, World
from planner.money import USAGE_SCALE, micro_to_usd
from planner.solvers.base import Solution, SolveOptions
from planner.solvers.tuning import ANALYSE_MAX_STAGES

_SIX = Decimal("0.000001")
_usd = micro_to_usd


def _money(micro: int) -> str:
    """Micro-dollars for a sentence: ``$1,639.94``."""
    return f"${micro / 1_000_000:,.2f}"


def _runner_up(ex: Explainer, stage: int) -> Alternative | None:
    """The cheapest option not taken, the plan's cost change with it, and the rule (or the
    cost) that keeps it out (see :mod:`planner.explain.runner_up`)."""
    return runner_up(ex, stage)


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


def _first_reason(best: Option, cheapest: Option, runner: Alternative | None,
                  qual: str) -> str:
    """Cheapest option, or chosen over the cheaper runner-up: the same cost delta as
    ``runner_up.delta_usd`` (the plan's cost change if the stage used it)."""
    if best.objective_micro <= cheapest.objective_micro:
        return "cheapest feasible option for this stage"
    if runner is None or (runner.site, runner.offer, runner.purchase) != (
            cheapest.site_id, cheapest.offer_id, cheapest.purchase):
        return (f"chosen {qual} over the cheaper-per-unit {cheapest.site_id}/{cheapest.offer_id} "
                f"({cheapest.purchase.value})")
    micro = int(runner.delta_usd * 1_000_000)
    return (f"chosen {qual} over the cheaper-per-unit {runner.site}/{runner.offer} "
            f"({runner.purchase.value}); using it would change the plan's cost by "
            f"{signed(micro)} (see the runner-up)")


def _why(ref: StageRef, world: World, cands: Candidates, chosen: list[tuple[Option, int]],
         artifact: dict[str, int], runner: Alternative | None, qual: str) -> list[str]:
    opts = [o for o, _ in chosen]
    cheapest = cands.options[cands.by_stage[ref.index][0]]
    best = min(opts, key=lambda o: o.objective_micro)
    why = [_first_reason(best, cheapest, runner, qual)]
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
    for term in sorted({o.purchase.value for o in opts if o.purchase.is_commitment}):
        why.append(f"{term}: always-on, so a {term[-2]}-year commitment is priced per hour over "
                   "the planning period (the commitment's term outlives the period)")
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


def _resources(cands: Candidates, chosen: dict[int, list[tuple[Option, int]]],
               blocking: set[str] | None = None) -> list[ResourceUse]:
    """Use of every limited resource; binding when a cheaper option of some stage does not
    fit in what is left, or a runner-up's check found the swap breaks its capacity."""
    named = {n.split(":", 1)[1] for n in blocking or () if n.startswith("capacity:")}
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
            binding=name in blocked or name in named))
    return out


def _value(portfolio: Portfolio, placements: list[Placement]) -> Decimal | None:
    """Σ value_usd of the placed workloads, when any workload has a value."""
    if all(w.value_usd is None for w in portfolio.workloads):
        return None
    placed = {p.workload for p in placements}
    return sum((w.value_usd for w in portfolio.workloads
                if w.id in placed and w.value_usd is not None), Decimal(0))


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
                  by_provider=dict(sorted(groups["provider"].items())),
                  by_site=dict(sorted(groups["site"].items())),
                  by_team=dict(sorted(groups["team"].items())),
                  by_kind=dict(sorted(groups["kind"].items())))


_STAGE_SHAPE = (Rule.FIT, Rule.WINDOW)
"""Rules whose fix is in the stage itself: their example names the stage's input path."""


def _nodes(ref: StageRef, opt: Option) -> int:
    """Instances each replica runs on at once: an option's instances per unit are its
    replicas × that (:func:`planner.compile.pricing.instances_per_unit`)."""
    per_unit = 1 if ref.stage.splittable else ref.stage.replicas
    nodes, rest = divmod(opt.instances, per_unit)
    assert nodes >= 1 and not rest, (ref.key, opt.instances, per_unit)
    return nodes


def unplaced_stages(cands: Candidates) -> list[Unplaced]:
    """Stages without any feasible option, with the rules that pruned their options."""
    by_stage: dict[int, Counter[Rule]] = defaultdict(Counter)
    examples: dict[tuple[int, Rule], str] = {}
    for p in cands.pruned:
        by_stage[p.stage][p.rule] += 1
        examples.setdefault((p.stage, p.rule), p.reason)
    out = []
    order = list(dict.fromkeys(r.workload.id for r in cands.stages))
    for ref in cands.stages:
        if cands.by_stage[ref.index]:
            continue
        j = [s.label for s in ref.workload.stages].index(ref.stage.label)
        path = f"workloads[{order.index(ref.workload.id)}].stages[{j}]: "
        reasons = [f"{n} option{'s' if n > 1 else ''} pruned by {rule.value}, e.g. "
                   f"{path if rule in _STAGE_SHAPE else ''}{examples[(ref.index, rule)]}"
                   for rule, n in sorted(by_stage[ref.index].items())]
        out.append(Unplaced(workload=ref.workload.id, stage=ref.stage.label,
                            reasons=reasons or ["no site offers any hardware"]))
    return out


def _move(ref: StageRef, ex: Explainer, pairs: list[tuple[Option, int]],
          pruned: list[Pruned]) -> Move | None:
    cands = ex.cands
    prev = cands.previous.get(ref.index)
    if not prev or not any(o.moved for o, _ in pairs):
        return None
    now = sorted({f"{o.site_id}/{o.offer_id}" for o, _ in pairs})
    same_idx = [i for i in cands.by_stage[ref.index]
                if (cands.options[i].site_id, cands.options[i].offer_id) in prev]
    same = [cands.options[i] for i in same_idx]
    if not same:
        gone = next((p for p in pruned if (p.site_id, p.offer_id) in prev
                     or (p.offer_id is None and p.site_id in {s for s, _ in prev})), None)
        why = (f"the previous option is no longer allowed: {gone.rule.value}: {gone.reason}"
               if gone else "the previous option is no longer offered (not in the catalogs, or its "
               "region is not among the portfolio's cloud regions)")
    else:
        stay = min(o.objective_micro for o in same) * (ref.units if ref.stage.splittable else 1)
        new = sum(o.objective_micro * u for o, u in pairs)
        why = (f"saves {_money(stay - new)} per period after migration costs" if new < stay
               else stay_reason(ex, ref.index, same_idx[0]))
    return Move(workload=ref.workload.id, stage=ref.stage.label,
                previous=[f"{s}/{o}" for s, o in prev], now=now,
                migration_usd=_usd(sum(o.migration_micro * u for o, u in pairs)), why=why)


def _cost_bound(bound: int | None, shift: int) -> int | None:
    """A partial plan's bound on its cost: the funding bound plus the rewards of the
    workloads it places (a bound on any plan that places the same ones), or None when that
    is below 0, which says nothing of a cost (the rewards of unvalued workloads are large
    on purpose: a generated 1,000-stage portfolio reported a gap of 11,454 %)."""
    if bound is None:
        return None
    return bound + shift if bound + shift >= 0 else None


def _explainer(portfolio: Portfolio, world: World, cands: Candidates, problem: Problem,
               solution: Solution, options: SolveOptions, timing: Timing | None = None,
               start: IntArray | None = None) -> Explainer:
    """The context of the runner-up and move reasons (status and gap word the claims; with
    the plan's schedule, a runner-up must also run in time)."""
    gap = None
    shift = problem.reward(solution.x)  # funding rewards left out, as in the report
    bound = _cost_bound(solution.bound, shift)
    if solution.objective is not None and bound is not None:
        objective = solution.objective + shift
        gap = (objective - bound) / objective if objective else 0.0
    feasible = solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    schedule = ScheduleSwaps(problem, timing, solution.x, start) \
        if feasible and timing is not None and start is not None and \
        problem.n_stages <= ANALYSE_MAX_STAGES else None
    return Explainer(portfolio, world, cands, problem, solution.x, solution.status, gap,
                     deadline=None if options.deterministic else options.deadline,
                     schedule=schedule)


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
               conflicts: list[Conflict] | None = None, diagnosis: str | None = None,
               dropped: list[Dropped] | None = None, timing: Timing | None = None,
               start: IntArray | None = None) -> Plan:
    """Assemble the plan from the solution (placements only when a solution exists); with
    ``dropped`` workloads the plan is ``partial``; with the solution's ``timing`` and
    ``start``, a runner-up's reasons check it could run in time. The solver's objective
    and bound leave out the funding rewards (:mod:`planner.solvers.funding`): both are
    shifted by the rewards of the placed workloads, so the objective is the plan's cost
    again and the bound a valid lower bound on the cost of placing those workloads."""
    feasible = solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    x = solution.x
    chosen: dict[int, list[tuple[Option, int]]] = defaultdict(list)
    if feasible:
        for o in np.flatnonzero(x).tolist():
            opt = cands.options[o]
            chosen[opt.stage].append((opt, int(x[o])))
    pruned_of = _pruned_lookup(cands)
    ex = _explainer(portfolio, world, cands, problem, solution, options, timing, start)
    runners = {s: _runner_up(ex, s) for s in sorted(chosen)}
    stage_moves = {s: _move(cands.stages[s], ex, chosen[s], pruned_of(s, False))
                   for s in sorted(chosen) if s in cands.previous}
    resources = _resources(cands, chosen, ex.blocking)
    artifact = _artifact_egress(problem, x) if feasible else {}
    placements: list[Placement] = []
    moves: list[Move] = []
    risk = pref = 0
    for s in sorted(chosen):
        ref, pairs = cands.stages[s], chosen[s]
        edge_left = dict(artifact.get(s, {}))
        runner = runners[s]
        why = _why(ref, world, cands, pairs, artifact.get(s, {}), runner, ex.qual)
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
                nodes_per_replica=_nodes(ref, opt),
                instances=opt.instances * units, hours=opt.hours.quantize(_SIX),
                cost=CostSplit(compute_usd=_usd(compute), egress_usd=_usd(flows),
                               migration_usd=_usd(migration),
                               total_usd=_usd(compute + flows + migration)),
                why=why, runner_up=runner, cheaper_rejected=rejected, moved=opt.moved))
        move = stage_moves.get(s)
        if move:
            moves.append(move)
    objective, bound = solution.objective, solution.bound
    if objective is not None:
        shift = problem.reward(x)
        objective += shift
        bound = _cost_bound(bound, shift)
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
    totals = _totals(placements, risk, pref).model_copy(
        update={"value_usd": _value(portfolio, placements)})
    return Plan(portfolio=portfolio.name,
                status=SolveStatus.PARTIAL if feasible and dropped else solution.status,
                placements=placements, resources=resources, totals=totals, solver=solver,
                catalogs=catalogs, warnings=list(world.warnings),
                unplaced=unplaced_stages(cands) if not feasible or dropped else [],
                dropped=list(dropped or []),
                conflicts=list(conflicts or []), diagnosis=diagnosis, moves=moves,
                pruned=dict(sorted(counts.items())), inputs=input_digest(portfolio, world))
