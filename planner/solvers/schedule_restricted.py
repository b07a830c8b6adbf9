"""The exact model over a few options per stage: polish a plan too large for the full model.

Above :data:`~planner.solvers.schedule_plan.POLISH_MAX_OPTIONS` options the exact
time-aware model (:mod:`planner.solvers.schedule_cpsat`) is too large to improve a plan
in the time left, and the greedy repair (:mod:`planner.solvers.schedule_repair`) that
produced the plan decides every stage alone, in list order. Here CP-SAT decides them
together, but only among the options that matter: per stage, the options of the
placement (what the placement model wanted), of the plan (what runs now), and its
:data:`CHEAPEST` cheapest options. Windows, precedence, capacity at every instant and
every placement rule hold as in the full model, so its plans are plans of the whole
problem; its bound is not (options are left out) and is dropped. The plan is the hint,
so the answer never costs more.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing
from planner.solvers.base import SolveOptions
from planner.solvers.decompose import opt_stage, restrict
from planner.solvers.schedule_cpsat import Scheduled, solve_schedule

CHEAPEST = 0
"""Cheapest options per stage kept besides those of the placement and the plan (measured
at timed m, 60 s: 0 → 29.9 % above the bound, 3 → 42.3 %; more options, slower search)."""


def kept_options(problem: Problem, *xs: IntArray, cheapest: int = CHEAPEST) -> IntArray:
    """The options of the module docstring (sorted indices)."""
    keep = np.zeros(problem.n_options, dtype=np.bool_)
    for x in xs:
        keep |= x > 0
    st = opt_stage(problem)
    order = np.lexsort((np.arange(problem.n_options), problem.opt_obj, st))
    first = problem.stage_ptr[st[order]]
    rank = np.arange(problem.n_options) - first
    keep[order[rank < cheapest]] = True
    return np.flatnonzero(keep)


def restrict_timing(problem: Problem, timing: Timing, keep: IntArray) -> Timing:
    """``timing`` for ``restrict(problem, keep)`` (usage rows of the kept options)."""
    mask = np.zeros(problem.n_options, dtype=np.bool_)
    mask[keep] = True
    return dataclasses.replace(timing, opt_hours=timing.opt_hours[keep],
                               use_now=timing.use_now[mask[problem.use_opt]])


def polish(problem: Problem, timing: Timing, placement: IntArray, x: IntArray,
           start: IntArray, options: SolveOptions,
           cheapest: int = CHEAPEST) -> Scheduled | None:
    """The exact model over the kept options from the plan ``(x, start)``, within the
    time left: the cheaper plan on the whole problem's options (bound dropped), or None
    when it found nothing cheaper."""
    keep = kept_options(problem, placement, x, cheapest=cheapest)
    sub = restrict(problem, keep)
    sub_timing = restrict_timing(problem, timing, keep)
    done = solve_schedule(sub, sub_timing, options, (x[keep], start))
    if done.solution.objective is None:
        return None
    value = problem.objective(x) + timing.late_penalty(problem, x, start)
    if done.solution.objective >= value:
        return None
    full = np.zeros(problem.n_options, dtype=np.int64)
    full[keep] = done.solution.x
    sol = dataclasses.replace(done.solution, x=full, bound=None)
    return Scheduled(sol, done.start, done.end)
