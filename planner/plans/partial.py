"""Partial plans: plan what fits, fund what matters (orchestration around the solver).

* :func:`funding_problem` turns a :class:`~planner.solvers.base.Problem` into one where
  workloads may be left out (rewards from ``value_usd``/``priority``,
  :mod:`planner.solvers.funding`);
* :func:`needs_funding` says when to start from it: values or priorities given, or a
  workload with a stage that has no feasible option at all;
* :func:`explain_dropped` says, for every workload a plan leaves out, why: the stages
  without options (and the workload's own diagnosis), its value below its cost, or the
  rules it conflicts with when placed together with the planned workloads (the
  diagnosis of that sub-portfolio), and what adding it would cost (a re-solve with it
  forced in, within the deadline).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

from planner.compile.candidates import Candidates, generate
from planner.explain.conflicts import diagnose
from planner.models.plan import Dropped
from planner.models.portfolio import Portfolio
from planner.models.problem import Problem
from planner.models.status import SolveStatus
from planner.models.timing import Timing
from planner.models.world import World
from planner.money import micro_to_usd
from planner.solvers.base import Backend, Solution, SolveOptions
from planner.solvers.funding import Claim, forcing, real_objective, rewards, with_funding
from planner.solvers.options import Deadline
from planner.solvers.schedule_plan import place_and_schedule
from planner.solvers.tuning import (
    DROPPED_SHARE,
    EXPLAIN_MIN_S,
    EXPLAIN_S_PER_STAGE,
    MAX_EXPLAINED,
    MAX_EXPLAINED_OPTIONS,
)

Previous = dict[str, list[tuple[str, str]]] | None


def valued(portfolio: Portfolio) -> bool:
    """Some workload carries a value or a non-default priority."""
    return any(w.value_usd is not None or w.priority != 0 for w in portfolio.workloads)


def impossible(cands: Candidates) -> list[str]:
    """Workloads with a stage that has no feasible option (in portfolio order)."""
    out: list[str] = []
    for ref in cands.stages:
        if not cands.by_stage[ref.index] and ref.workload.id not in out:
            out.append(ref.workload.id)
    return out


def needs_funding(portfolio: Portfolio, cands: Candidates) -> bool:
    return valued(portfolio) or bool(impossible(cands))


def funding_problem(portfolio: Portfolio, cands: Candidates, problem: Problem) -> Problem:
    """``problem`` with every workload all-or-nothing and rewarded (see the module doc)."""
    index = {w.id: i for i, w in enumerate(portfolio.workloads)}
    claims = [Claim(w.id, w.value_usd, w.priority) for w in portfolio.workloads]
    groups = [index[ref.workload.id] for ref in cands.stages]
    return with_funding(problem, groups, [c.name for c in claims], rewards(problem, claims))


def _sub(portfolio: Portfolio, keep: set[str]) -> Portfolio:
    return portfolio.model_copy(update={
        "workloads": [w for w in portfolio.workloads if w.id in keep]})


def _cheapest(problem: Problem, g: int) -> int:
    assert problem.stage_group is not None
    return sum(int(problem.opt_obj[problem.stage_ptr[s]]) * int(problem.units[s])
               for s in range(problem.n_stages) if int(problem.stage_group[s]) == g)


def _usd(micro: int) -> str:
    return f"${micro / 1e6:,.2f}"


@dataclasses.dataclass
class DropContext:
    """What :func:`explain_dropped` needs besides the solution."""

    portfolio: Portfolio
    world: World
    cands: Candidates
    problem: Problem
    backend: Backend
    options: SolveOptions
    previous: Previous = None
    say: Callable[[str], None] = lambda _msg: None
    timing: Timing | None = None
    """When set, re-solves place and schedule (the plan's time-aware model)."""


def explain_dropped(ctx: DropContext, solution: Solution) -> list[Dropped]:
    """Why each workload the solution leaves out is left out (see the module doc)."""
    p = ctx.problem
    funded = p.funded(solution.x)
    names = list(p.group_names)
    placed = {n for n, f in zip(names, funded, strict=True) if f}
    hopeless = set(impossible(ctx.cands))
    out = []
    left = [g for g, f in enumerate(funded) if not f]
    explained = min(len(left), MAX_EXPLAINED) if p.n_options <= MAX_EXPLAINED_OPTIONS else 0
    need = max(EXPLAIN_MIN_S, EXPLAIN_S_PER_STAGE * p.n_stages)
    for k, g in enumerate(left):
        w = ctx.portfolio.workloads[g]
        share = _share(ctx.options, len(left) - k, explained)
        full = k < explained and (ctx.options.deterministic or share.remaining_s() >= need)
        if w.id in hopeless:
            entry = _no_option(ctx, w.id, share if full else None)
        else:
            entry = _lost(ctx, solution, g, placed, share if full else None)
        out.append(entry.model_copy(update={"value_usd": w.value_usd,
                                            "priority": w.priority}))
    return out


def _share(options: SolveOptions, parts: int, explained: int) -> SolveOptions:
    """The options of one explanation: an equal share of the time left, or, in
    deterministic mode, a fixed share of the time limit in deterministic seconds
    (:data:`DROPPED_SHARE` over the workloads explained in full). The wall clock left
    after the solve differs from run to run: it explained a workload in one run and gave
    the short reason in the next, or gave its re-solve another budget."""
    if options.deterministic:
        return dataclasses.replace(options, deadline=None, time_limit_s=max(
            0.01, DROPPED_SHARE * options.time_limit_s / max(1, explained)))
    return options.until(_slice(options.deadline, parts))


def _slice(deadline: Deadline | None, parts: int) -> Deadline:
    """An equal share of the time left, for one of ``parts`` remaining workloads."""
    if deadline is None:
        return Deadline.after(5.0)
    return deadline.within(deadline.remaining() / max(1, parts))


def _no_option(ctx: DropContext, wid: str, options: SolveOptions | None) -> Dropped:
    stages = [r.stage.label for r in ctx.cands.stages
              if r.workload.id == wid and not ctx.cands.by_stage[r.index]]
    reasons = [f"no feasible option for stage{'s' if len(stages) > 1 else ''} "
               f"{', '.join(stages)} (see unplaced)"]
    if options is None:
        return Dropped(workload=wid, reasons=reasons)
    sub = _sub(ctx.portfolio, {wid})
    conflicts, note = diagnose(sub, ctx.world, generate(sub, ctx.world,
                                                        previous=ctx.previous), options)
    return Dropped(workload=wid, reasons=[*reasons, note], conflicts=conflicts)


def _lost(ctx: DropContext, solution: Solution, g: int, placed: set[str],
          options: SolveOptions | None) -> Dropped:
    p = ctx.problem
    assert p.group_reward is not None
    wid = p.group_names[g]
    cheap = _cheapest(p, g)
    reward = int(p.group_reward[g])
    w = ctx.portfolio.workloads[g]
    if w.value_usd is not None and reward <= cheap:
        return Dropped(workload=wid, reasons=[
            f"its value {_usd(reward)} does not cover its cheapest cost {_usd(cheap)}"])
    if options is None:
        return Dropped(workload=wid, reasons=[
            "does not fit with the planned workloads (not analysed further: time limit or "
            "large portfolio)"])
    ctx.say(f"{wid} left out: re-solving with it forced in")
    if options.deadline is not None:  # half of the wall-clock share, the rest after it
        forced = options.until(options.deadline.within(options.remaining_s() / 2))
        diagnosis = options
    else:  # deterministic: half of the share each, in deterministic seconds (the
        # re-solve's heuristic phases read a wall deadline of as many seconds; the
        # command's time limit let a search run 28 s per dropped workload at 1,000 stages)
        diagnosis = forced = dataclasses.replace(options,
                                                 time_limit_s=options.time_limit_s / 2)
    add_cost, drops, note = _forced(ctx, solution, g, forced)
    sub = _sub(ctx.portfolio, placed | {wid})
    sub_cands = generate(sub, ctx.world, previous=ctx.previous)
    conflicts, summary = diagnose(sub, ctx.world, sub_cands, diagnosis)
    if conflicts:
        first = (f"lost to {', '.join(c.rule for c in conflicts)}: placed together with the "
                 f"planned workloads, {summary[0].lower()}{summary[1:]}")
    elif add_cost is not None and not drops:
        first = (f"it fits, but adds {_usd(int(add_cost * 10**6))} to the plan's objective, "
                 f"more than it brings")
    else:
        first = "does not fit with the planned workloads"
    return Dropped(workload=wid, reasons=[first, note], conflicts=conflicts,
                   add_cost_usd=add_cost, add_drops=drops)


def _forced(ctx: DropContext, solution: Solution, g: int,
            options: SolveOptions) -> tuple[Decimal | None, list[str], str]:
    """Re-solve with workload ``g`` forced in: the cost change, who is dropped instead."""
    p = ctx.problem
    forced = forcing(p, g)
    sol = (place_and_schedule(forced, ctx.timing, ctx.backend, options).solution
           if ctx.timing is not None else ctx.backend.solve(forced, options))
    proven = sol.status is SolveStatus.INFEASIBLE or (
        sol.status is SolveStatus.OPTIMAL and not forced.funded(sol.x)[g])
    if proven:  # its forcing reward outweighs everything else, yet the optimum leaves it out
        return None, [], ("no plan places it with every rule in force, whichever other "
                          "workloads are left out (proven by re-solving with it forced in)")
    if sol.objective is None or not forced.funded(sol.x)[g]:
        return None, [], ("re-solving with it forced in found no plan that places it "
                          "within the time limit")
    now = real_objective(p, solution.x)
    then = real_objective(p, sol.x)
    before = p.funded(solution.x)
    after = forced.funded(sol.x)
    drops = [p.group_names[i] for i, (b, a) in enumerate(zip(before, after, strict=True))
             if b and not a]
    delta = then - now
    tail = f", leaving out {', '.join(drops)} instead" if drops else ""
    value = _value_change(ctx.portfolio, before, after)
    if value:
        tail += f" (value {'+' if value >= 0 else '−'}${abs(value):,.2f})"
    return micro_to_usd(delta), drops, (f"forcing it in changes the plan's cost by "
                                        f"{'+' if delta >= 0 else '−'}{_usd(abs(delta))}{tail}")


def _value_change(portfolio: Portfolio, before: list[bool], after: list[bool]) -> Decimal:
    """Σ value_usd gained minus lost between two funded sets."""
    return sum(((w.value_usd or Decimal(0)) * (int(a) - int(b)) for w, b, a in
                zip(portfolio.workloads, before, after, strict=True)), Decimal(0))
