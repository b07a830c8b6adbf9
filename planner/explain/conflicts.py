"""Why nothing fits, in words: the conflicting rules the diagnosis finds, named and
described with their numbers, and what the stages caught in the conflict need.

:func:`diagnose` (and :func:`recheck_timed_conflicts`, which re-solves its claims) work
on the exact time-aware model (:mod:`planner.solvers.schedule_diagnosis`): the problem
with the options the rules pruned, its timing, and the names of the portfolio's time
rules; :mod:`planner.explain.timed_conflicts` words the time rules. :func:`recheck_conflicts`
re-solves a claim on the placement model alone, through the backend with the
unsatisfiable-core capability (``unsat_core``, :mod:`planner.solvers.diagnosis`).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from planner.compile.arrays import build_problem
from planner.compile.calendar import dated_golive, inference_hours
from planner.compile.candidates import Candidates
from planner.compile.timing import build_timing
from planner.explain.timed_conflicts import describe_timed, timed_demand, timed_names
from planner.models.plan import Conflict
from planner.models.portfolio import Portfolio, Settings, Stage, StageKind
from planner.models.problem import Problem
from planner.models.timing import Timing
from planner.models.world import World
from planner.solvers import BACKENDS
from planner.solvers.base import ConflictCheck, CoreBackend, SolveOptions, SolverError
from planner.solvers.diagnosis import core_note
from planner.solvers.schedule_diagnosis import (
    TimedNames,
    check_timed_conflict,
    find_timed_core,
)


def describe(name: str, portfolio: Portfolio, world: World, cands: Candidates) -> str:
    """One rule instance in plain words, with its numbers."""
    kind, _, scope = name.partition(":")
    period = world.period_hours
    workloads = {w.id: w for w in portfolio.workloads}
    stages = {r.key: r for r in cands.stages}
    ref = stages.get(scope)
    residency = ref.residency if ref else (workloads[scope].residency
                                           if scope in workloads else None)
    if kind == "residency.jurisdictions" and residency:
        return f"{scope}: data may only be processed in {', '.join(residency.jurisdictions)}"
    if kind == "residency.countries" and residency:
        return f"{scope}: data may only be processed in countries {', '.join(residency.countries)}"
    if kind == "residency.sites" and residency:
        return f"{scope}: data may only be processed at {', '.join(residency.sites)}"
    if kind == "residency.certifications" and residency:
        return f"{scope}: sites must hold {', '.join(residency.certifications)}"
    if kind == "placement.excluded" and scope in workloads:
        pl = workloads[scope].placement
        return (f"{scope}: excludes sites {pl.exclude_sites or '-'} and providers "
                f"{pl.exclude_providers or '-'}")
    if kind == "inference.latency" and ref and ref.stage.latency:
        lat = ref.stage.latency
        return f"{scope}: within {lat.max_ms} ms of users in {', '.join(lat.users)}"
    if kind == "capacity":
        res = scope
        site_part = res.split(":", 1)[1]
        if res.startswith("gpu:"):
            site, model = site_part.rsplit("/", 1)
            quota = world.gpu_quotas[(site, model)]
            return (f"{site} has {quota} {model} GPUs at once "
                    f"({quota * period:,.0f} GPU-hours per period)")
        site, offer = site_part.rsplit("/", 1)
        o = world.offer(site, offer)
        nodes = o.capacity if o else 0
        return (f"{site} has {nodes} × {offer} at once ({(nodes or 0) * period:,.0f} "
                "instance-hours per period)")
    if kind == "budget":
        cap = next(b.cap_micro for b in cands.budgets if f"budget:{b.name}" == name)
        who = "total spend" if scope == "total" else f"spend of team {scope.split(':', 1)[1]}"
        return f"budget: {who} at most ${cap / 1e6:,.2f} per period"
    if kind == "concentration":
        share = portfolio.settings.max_provider_share or 0
        return f"at most {float(share):.0%} of compute spend on {scope}"
    if kind == "colocation" and ref and ref.stage.colocate:
        c = ref.stage.colocate
        return f"{scope} must run at the same {c.level.value} as {c.stage}"
    if kind == "spread" and ref:
        return f"{scope} must spread its replicas over ≥ {ref.stage.min_sites} sites"
    if kind == "moves":
        return f"at most {portfolio.settings.max_moves} stages may move from the previous plan"
    return name


def _gpus_at_once(world: World, site_id: str, models: set[str]) -> dict[str, int | None]:
    """GPUs of each accepted model a site can give at once (None: no limit known)."""
    out: dict[str, int | None] = {}
    for model in sorted(models):
        offers = [o for o in world.offers if o.site_id == site_id and o.gpu_model == model]
        if not offers:
            continue
        quota = world.gpu_quotas.get((site_id, model))
        if quota is not None:
            out[model] = quota
        elif all(o.capacity is not None for o in offers):
            out[model] = int(sum(o.capacity * o.gpu_count for o in offers if o.capacity))
        else:
            out[model] = None
    return out


def _demand(core: list[str], problem: Problem, cands: Candidates, world: World,
            settings: Settings, skip: frozenset[int] = frozenset()) -> list[str]:
    """What the stages caught in the conflict need, next to what their sites can give
    (but for the stages in ``skip``)."""
    involved: set[int] = set()
    groups = problem.opt_groups or ()
    res_in_core = {n.split(":", 1)[1] for n in core if n.startswith("capacity:")}
    for s in range(problem.n_stages):
        for o in problem.options_of(s):
            if set(groups[o]) & set(core):
                involved.add(s)
    stage_of = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    for o, r in zip(problem.use_opt.tolist(), problem.use_res.tolist(), strict=True):
        if problem.res_names[r] in res_in_core:
            involved.add(int(stage_of[o]))
    lines = []
    for s in sorted(involved - skip):
        ref = cands.stages[s]
        st = ref.stage
        # Sites its non-capacity rules allow: where options exist or were pruned only
        # for capacity.
        sites = {cands.options[i].site_id for i in cands.by_stage[s]}
        sites |= {p.site_id for p in cands.pruned.of_stage(s) if p.groups
                  and all(g.startswith("capacity:") for g in p.groups)}
        if st.gpu is None:
            lines.append(f"{st.label} of {ref.workload.id} needs {st.vcpus * st.replicas} vCPUs; "
                         f"its rules allow {len(sites)} site(s)")
            continue
        need = st.gpu.count * (1 if st.splittable else st.replicas)
        models = set(st.gpu.models)
        parts, total, unlimited = [], 0, False
        for site in sorted(sites):
            for model, n in _gpus_at_once(world, site, models).items():
                if n is None:
                    unlimited = True
                    parts.append(f"{site} {model} unlimited")
                else:
                    total += n
                    parts.append(f"{site} {n} {model}")
        rules = [c for c in core if not c.startswith("capacity:")]
        scope = f" under {', '.join(rules)}" if rules else ""
        offer = ("no site" if not parts else
                 f"{'unlimited' if unlimited else total} ({', '.join(parts[:6])}"
                 f"{' …' if len(parts) > 6 else ''})")
        lines.append(f"{st.label} of {ref.workload.id} needs {need} × "
                     f"{'/'.join(st.gpu.models)} at once for {_hours(settings, st)} h{scope}"
                     f"{_gang(world, sites, models, st.nodes)}; its sites offer {offer}")
    return lines


def _hours(settings: Settings, st: Stage) -> str:
    """The hours a stage holds its units: an inference stage with a go-live date serves
    from it to the horizon end, not its ``hours`` (which then say nothing); those to a
    hundredth, without trailing zeros (a horizon starting at 06:30:17 made them
    ``2112.000000000000000000000000``)."""
    if st.kind is not StageKind.INFERENCE or not dated_golive(st):
        return str(st.hours)
    return f"{inference_hours(settings, st).quantize(Decimal('0.01')).normalize():f}"


def _gang(world: World, sites: set[str], models: set[str], nodes: int | None) -> str:
    """For a stage whose replicas run as gangs of ``nodes`` instances of one offer: that,
    and the most instances of one accepted offer its sites have at once (a gang cannot
    use GPUs spread over several offers, so GPU totals alone mislead)."""
    if nodes is None or nodes <= 1:
        return ""
    offers = [o for o in world.offers if o.site_id in sites and o.gpu_model in models]
    limited = [o for o in offers if o.capacity is not None]
    most = ("" if not limited or len(limited) < len(offers) else
            f" (its sites have at most {max(o.capacity or 0 for o in limited)} "
            "of one offer at once)")
    return f", each replica on {nodes} whole instances of one offer at once{most}"


def core_backend() -> CoreBackend:
    """The first registered backend that declares the unsatisfiable-core capability."""
    for cls in BACKENDS.values():
        if cls.capabilities.unsat_core:
            backend = cls()
            if isinstance(backend, CoreBackend):
                return backend
    raise SolverError("no solver backend can find conflicting rules (unsat_core)")


def _summary(conflicts: list[Conflict], note: str, demand: list[str]) -> str:
    summary = f"{len(conflicts)} rule(s) conflict: " + "; ".join(
        c.message for c in conflicts) + f". {note}."
    if demand:
        summary += " Demand: " + "; ".join(demand) + "."
    return summary


def recheck_conflicts(cands: Candidates, world: World, rules: list[str],
                      options: SolveOptions) -> ConflictCheck:
    """Re-solve an infeasibility claim (the plan's ``conflicts``): the named rules together
    admit no plan, and dropping any one of them admits one; with none named, no plan
    exists at all (see :meth:`~planner.solvers.base.CoreBackend.check_conflict`)."""
    problem = build_problem(cands, world, include_pruned=True)
    return core_backend().check_conflict(problem, rules, options)


def timed_problem(portfolio: Portfolio, world: World, cands: Candidates
                  ) -> tuple[Problem, Timing, TimedNames]:
    """The diagnosis problem (with the options rules pruned), its timing, and the names of
    the portfolio's time rules."""
    problem = build_problem(cands, world, include_pruned=True)
    timing = build_timing(portfolio, cands, problem, world.gpu_quotas, include_pruned=True)
    return problem, timing, timed_names(portfolio, cands, problem, timing)


def _describe_any(name: str, portfolio: Portfolio, world: World, cands: Candidates) -> str:
    timed = describe_timed(name, portfolio, cands)
    return timed if timed is not None else describe(name, portfolio, world, cands)


def diagnose(portfolio: Portfolio, world: World, cands: Candidates,
             options: SolveOptions) -> tuple[list[Conflict], str]:
    """A minimal set of conflicting rules, and a summary in plain words, within the
    deadline of ``options`` (if any), on the exact time-aware model (plans are schedules):
    the placement rules and the time rules (deadlines, windows, precedence arcs, outages;
    :mod:`planner.explain.timed_conflicts`). The summary says what the stages caught in
    the conflict need, and for those a time rule constrains, when, and what their pools
    have free then."""
    problem, timing, names = timed_problem(portfolio, world, cands)
    found = find_timed_core(problem, timing, options, names)
    if found.rules is None:
        return [], ("no schedule was found, but no set of relaxable rules could be shown to "
                    "conflict within the time limit; raise --time-limit")
    if not found.rules:
        return [], ("the conflict lies in facts no rule can relax: a stage does not fit in "
                    "the horizon, or no offer has its GPU model, is sold to the subscription, "
                    "holds a replica or a node of its gang on one instance, or runs it within "
                    "its window (see unplaced)")
    core = list(found.rules)
    conflicts = [Conflict(rule=name, message=_describe_any(name, portfolio, world, cands))
                 for name in core]
    timed, stages = timed_demand(core, portfolio, cands, problem, timing, names)
    demand = timed + _demand(core, problem, cands, world, portfolio.settings, skip=stages)
    return conflicts, _summary(conflicts, core_note(found), demand)


def recheck_timed_conflicts(portfolio: Portfolio, world: World, cands: Candidates,
                            rules: list[str], options: SolveOptions) -> ConflictCheck:
    """:func:`recheck_conflicts` on the exact time-aware model (time rules included): the
    claims :func:`diagnose` makes."""
    problem, timing, names = timed_problem(portfolio, world, cands)
    return check_timed_conflict(problem, timing, rules, options, names)
