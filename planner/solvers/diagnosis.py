"""Why nothing fits: a small set of rules that together admit no plan.

Every relaxable rule instance ("group") gets an assumption literal: residency,
certification, exclusion and latency rules of each workload or stage (options
they pruned are re-admitted behind them), each capacity resource, each budget,
each provider-concentration cap, each co-location and spread rule, and the move
cap. CP-SAT, solving under all assumptions, returns sufficient assumptions for
infeasibility (an unsatisfiable core); a deletion filter then shrinks the core:
a rule is dropped from it when the rest is still infeasible. What remains is
minimal: relaxing any one of its rules (together with everything outside the
set) admits a plan. Each rule is then re-checked alone — with every other rule
of the portfolio in force — and the diagnosis says whether dropping it alone
suffices.

Every solve reads the deadline of the :class:`~planner.solvers.base.SolveOptions` it is
given: when time runs out the set found so far is reported (still conflicting, maybe not
minimal) and the summary says so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from planner.compile.arrays import build_problem
from planner.compile.candidates import Candidates
from planner.models.plan import Conflict
from planner.models.portfolio import Portfolio
from planner.models.problem import Problem
from planner.models.world import World
from planner.solvers.base import SolveOptions
from planner.solvers.cpsat import ModelBuilder, configure, validated


@dataclass
class _Guarded:
    problem: Problem
    literals: dict[str, cp_model.IntVar]
    model: cp_model.CpModel


def _guarded_model(problem: Problem) -> _Guarded:
    literals: dict[str, cp_model.IntVar] = {}
    builder = ModelBuilder(problem)

    def guard(name: str) -> cp_model.IntVar:
        if name not in literals:
            literals[name] = builder.model.new_bool_var(f"rule[{name}]")
        return literals[name]

    builder.guard = guard
    model = builder.build(with_objective=False)
    validated(model, "diagnosis")
    return _Guarded(problem, literals, model)


def _feasible(g: _Guarded, enforced: list[str], options: SolveOptions) -> bool | None:
    """Solve with ``enforced`` rules on and every other rule free; None if undecided (also
    when the deadline has passed)."""
    if options.deadline is not None and options.deadline.expired():
        return None
    g.model.clear_assumptions()
    g.model.add_assumptions([g.literals[n] for n in enforced])
    solver = cp_model.CpSolver()
    configure(solver, options)
    code = solver.solve(g.model)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return True
    if code == cp_model.INFEASIBLE:
        return False
    return None


def _core(g: _Guarded, options: SolveOptions) -> list[str] | None:
    names = sorted(g.literals)
    g.model.clear_assumptions()
    g.model.add_assumptions([g.literals[n] for n in names])
    solver = cp_model.CpSolver()
    configure(solver, dataclasses.replace(options, workers=1))
    if solver.solve(g.model) != cp_model.INFEASIBLE:
        return None
    index = {g.literals[n].index: n for n in names}
    return sorted(index[i] for i in solver.sufficient_assumptions_for_infeasibility())


def _deletion_filter(g: _Guarded, core: list[str],
                     options: SolveOptions) -> tuple[list[str], bool]:
    """The core shrunk until dropping any rule admits a plan; False when time ran out
    before every rule was tried (the set still conflicts, but may not be minimal)."""
    kept = list(core)
    complete = True
    for name in list(core):
        trial = [n for n in kept if n != name]
        verdict = _feasible(g, trial, options)
        if verdict is False:
            kept = trial
        elif verdict is None:
            complete = False
    return kept, complete


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
        return f"{site} has {nodes} × {offer} ({(nodes or 0) * period:,.0f} instance-hours)"
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


def _demand(core: list[str], problem: Problem, cands: Candidates, world: World) -> list[str]:
    """What the stages caught in the conflict need, next to what their sites can give."""
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
    for s in sorted(involved):
        ref = cands.stages[s]
        st = ref.stage
        # Sites its non-capacity rules allow: where options exist or were pruned only
        # for capacity.
        sites = {cands.options[i].site_id for i in cands.by_stage[s]}
        sites |= {p.site_id for p in cands.pruned if p.stage == s and p.groups
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
                     f"{'/'.join(st.gpu.models)} at once for {st.hours} h{scope}; "
                     f"its sites offer {offer}")
    return lines


def diagnose(portfolio: Portfolio, world: World, cands: Candidates,
             options: SolveOptions) -> tuple[list[Conflict], str]:
    """A minimal set of conflicting rules, and a summary in plain words, within the
    deadline of ``options`` (if any)."""
    problem = build_problem(cands, world, include_pruned=True)
    guarded = _guarded_model(problem)
    core = _core(guarded, options)
    if core is None:
        return [], ("no plan was found, but no set of relaxable rules could be shown to "
                    "conflict within the time limit; raise --time-limit")
    if not core:
        return [], ("the conflict lies in hardware facts no rule can relax (no offer has the "
                    "GPU model, or it is restricted for the subscription)")
    core, minimal = _deletion_filter(guarded, core, options)
    alone = {}
    everything = sorted(guarded.literals)
    for name in core:
        alone[name] = _feasible(guarded, [n for n in everything if n != name], options)
    conflicts = [Conflict(rule=name, message=describe(name, portfolio, world, cands))
                 for name in core]
    demand = _demand(core, problem, cands, world)
    if not minimal or any(v is None for v in alone.values()):
        tail = ("a conflicting set of rules; the time limit ran out before it was shown to be "
                "minimal (raise --time-limit)")
    elif all(alone.values()):
        tail = "dropping any one of these rules makes the portfolio feasible"
    else:
        not_enough = [n for n, ok in alone.items() if not ok]
        tail = ("a minimal conflicting set; dropping one of "
                f"{', '.join(sorted(set(core) - set(not_enough))) or 'them'} alone admits a plan, "
                f"while {', '.join(not_enough)} also takes part in another conflict")
    summary = f"{len(core)} rule(s) conflict: " + "; ".join(
        c.message for c in conflicts) + f". {tail}."
    if demand:
        summary += " Demand: " + "; ".join(demand) + "."
    return conflicts, summary


@dataclass(frozen=True)
class ConflictCheck:
    """Whether an infeasible plan's claim holds: ``True`` confirmed, ``False`` refuted,
    ``None`` undecided within the time limit; and why, in plain words."""

    holds: bool | None
    message: str


def recheck_conflicts(cands: Candidates, world: World, rules: list[str],
                      options: SolveOptions) -> ConflictCheck:
    """Re-solve an infeasibility claim: the named rules together admit no plan (every
    other rule free), and dropping any one of them admits one. With no rules named, the
    claim is that no plan exists at all (every rule in force)."""
    guarded = _guarded_model(build_problem(cands, world, include_pruned=True))
    unknown = [r for r in rules if r not in guarded.literals]
    if unknown:
        return ConflictCheck(False, f"{', '.join(unknown)}: not a rule of this portfolio")
    enforced = list(rules) if rules else sorted(guarded.literals)
    together = _feasible(guarded, enforced, options)
    if together is None:
        return ConflictCheck(None, "could not decide within the time limit whether the "
                                   "conflicting rules admit a plan (raise --time-limit)")
    if together:
        what = f"with {', '.join(rules)} all in force" if rules else "with every rule in force"
        return ConflictCheck(False, f"a plan exists {what}")
    for name in rules:
        alone = _feasible(guarded, [n for n in rules if n != name], options)
        if alone is None:
            return ConflictCheck(None, f"could not decide within the time limit whether "
                                       f"dropping {name} admits a plan (raise --time-limit)")
        if not alone:
            return ConflictCheck(False, f"not minimal: without {name} the other rules still "
                                        "admit no plan")
    if not rules:
        return ConflictCheck(True, "no plan exists with every rule in force")
    return ConflictCheck(True, f"{len(rules)} rule(s) admit no plan together ("
                               f"{', '.join(rules)}), and dropping any one of them admits one")
