"""Repair a placement whose pools cannot all be scheduled: re-place and schedule again.

1. **Greedy re-placement** (instant): list scheduling (:func:`~planner.solvers.
   schedule_shift.list_schedule`) in which a stage that cannot run as placed moves, all
   its units, to its cheapest other option that runs in time and keeps every placement
   rule (:func:`~planner.solvers.feasibility.violations`) — typically from a full on-prem
   pool to a cloud offer without quota.
2. **The exact model** (:func:`planner.solvers.schedule_cpsat.solve_schedule`) with the
   time left, when the problem is small enough for it
   (:data:`~planner.solvers.tuning.AUTO_EXACT_OPTIONS`), hinted with step 1's answer;
   the cheaper of the two answers is kept.

``None`` when neither found a schedule in time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing
from planner.parallel import Executor
from planner.solvers.base import Solution, SolveOptions, SolveStatus
from planner.solvers.feasibility import violations
from planner.solvers.schedule_cpsat import Scheduled, solve_schedule
from planner.solvers.schedule_shift import Moves, list_schedule
from planner.solvers.tuning import AUTO_EXACT_OPTIONS

MOVES_PER_STAGE = 40
"""Other options a stuck stage tries (cheapest first) before the greedy gives up."""


def _moves(problem: Problem) -> Moves:
    def moves(s: int, x: IntArray) -> Iterator[IntArray]:
        r = problem.options_of(s)
        units = int(x[r.start:r.stop].sum())
        cand = [o for o in r if int(problem.opt_ub[o]) >= units and x[o] != units]
        cand.sort(key=lambda o: (int(problem.opt_obj[o]), o))
        for o in cand[:MOVES_PER_STAGE]:
            alt = x.copy()
            alt[r.start:r.stop] = 0
            alt[o] = units
            if not violations(problem, alt):
                yield alt
    return moves


def greedy_replace(problem: Problem, timing: Timing, x: IntArray) -> tuple[IntArray,
                                                                           IntArray] | None:
    """Step 1 of the module docstring: (x, starts) or None."""
    return list_schedule(problem, timing, x, _moves(problem))


def repair(problem: Problem, timing: Timing, x: IntArray, options: SolveOptions,
           executor: Executor) -> Scheduled | None:
    """A placement and schedule of every stage, or None (module docstring)."""
    best: Scheduled | None = None
    got = greedy_replace(problem, timing, x)
    if got is not None:
        gx, start = got
        value = problem.objective(gx) + timing.late_penalty(problem, gx, start)
        sol = Solution("repair", SolveStatus.FEASIBLE, gx, value, None, 0.0,
                       "greedy re-placement")
        best = Scheduled(sol, start, np.zeros_like(start))
    if problem.n_options <= AUTO_EXACT_OPTIONS and options.remaining_s() > 0:
        hint = (best.solution.x, best.start) if best is not None else None
        done = solve_schedule(problem, timing, options, hint)
        if done.solution.objective is not None and (
                best is None or done.solution.objective < (best.solution.objective or 0)):
            best = done
    return best
