"""A partial plan's claim about the workloads it leaves out, re-solved.

A workload without ``value_usd`` is required whenever it fits (README, "Partial plans"):
the planner places as many such workloads as fit. So a partial plan that drops one claims
it does not fit together with the workloads the plan places. That is re-solved here on
the exact time-aware path: the portfolio cut to the placed workloads and the dropped one,
every stage required. A plan found refutes the claim of a plan that says it is optimal
(placing it too is better at its priority level and no worse at any other) and shows a
plan not proven optimal to be improvable; none found within the time limit leaves it
undecided; the solver proving no plan confirms it. The re-solves share the time limit.
Workloads with a value may be left out because their value does not pay for their cost,
which only the whole optimization can tell: they are not re-solved.

The checks of the plan itself (every placed workload whole, every rule, the totals) are
the verifier's (:mod:`planner.verify.check`, which reuses no solver code); this re-solve,
like the re-check of an infeasible plan's conflicts (:mod:`planner.explain.conflicts`),
runs after them, from :func:`planner.api.verify_report`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.timing import build_timing
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio
from planner.models.status import SolveStatus
from planner.models.world import World
from planner.solvers import AUTO, choose_backend, get_backend
from planner.solvers.base import SolveOptions
from planner.solvers.schedule_plan import place_and_schedule


@dataclass
class DroppedCheck:
    """What re-solving the dropped workloads without a value found."""

    fits: list[tuple[int, str]] = field(default_factory=list)
    """(index in ``dropped``, workload) of those a plan with the placed ones was found for:
    the plan's claim is refuted."""
    confirmed: list[str] = field(default_factory=list)
    """Workloads proven not to fit with the placed ones."""
    undecided: list[str] = field(default_factory=list)
    """Workloads the re-solve decided neither way within its time limit."""


def check_dropped_fit(portfolio: Portfolio, world: World, plan: Plan,
                      previous: dict[str, list[tuple[str, str]]] | None, options: SolveOptions
                      ) -> DroppedCheck:
    """Re-solve each dropped workload without a value together with the placed ones (see
    the module docstring); each solve gets ``options``' time limit."""
    out = DroppedCheck()
    placed = {p.workload for p in plan.placements}
    workloads = {w.id: w for w in portfolio.workloads}
    todo = [(i, d) for i, d in enumerate(plan.dropped)
            if (w := workloads.get(d.workload)) is not None and w.value_usd is None
            and d.workload not in placed]  # unknown or placed: verify.check's violations
    if todo:  # the time limit for all of them together
        options = dataclasses.replace(options, time_limit_s=max(
            1.0, options.time_limit_s / len(todo)))
    for i, d in todo:
        sub = portfolio.model_copy(update={"workloads": [
            x for x in portfolio.workloads if x.id in placed or x.id == d.workload]})
        fits = _fits(sub, world, previous, options)
        if fits is None:
            out.undecided.append(d.workload)
        elif fits:
            out.fits.append((i, d.workload))
        else:
            out.confirmed.append(d.workload)
    return out


def _fits(portfolio: Portfolio, world: World, previous: dict[str, list[tuple[str, str]]] | None,
          options: SolveOptions) -> bool | None:
    """Whether every workload of ``portfolio`` can be placed together (None: undecided)."""
    cands = generate(portfolio, world, previous=previous)
    problem = build_problem(cands, world)
    if (np.diff(problem.stage_ptr) == 0).any():
        return False  # a stage with no option at all
    timing = build_timing(portfolio, cands, problem, world.gpu_quotas)
    backend = get_backend(choose_backend(AUTO, problem.n_options, problem.funding))
    got = place_and_schedule(problem, timing, backend, options).solution
    if got.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        return True
    return False if got.status is SolveStatus.INFEASIBLE else None
