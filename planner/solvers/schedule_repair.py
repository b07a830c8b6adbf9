"""Repair a placement whose pools cannot all be scheduled: re-place and schedule again.

1. **Greedy re-placement** (seconds): list scheduling (:func:`~planner.solvers.
   schedule_shift.list_schedule`) in which a stage that cannot run as placed moves, all
   its units, to its cheapest other option that runs in time and keeps every placement
   rule (:func:`~planner.solvers.feasibility.violations`; the moves and the use per period
   they keep are :mod:`planner.solvers.schedule_moves`) — typically from a full on-prem
   pool to a cloud offer without quota. A stage that cannot run at all goes to the front
   of the next pass; each priority rule gets its own passes (in an equal share of the time
   left), and the cheapest answer is kept, after stages move back to cheaper options
   where the pools have room (:mod:`planner.solvers.schedule_reinsert`).
2. **The exact model** (:func:`planner.solvers.schedule_cpsat.solve_schedule`) with the
   time left, when the problem is small enough for it
   (:data:`~planner.solvers.tuning.AUTO_EXACT_OPTIONS`), hinted with step 1's answer;
   the cheaper of the two answers is kept.

``None`` when neither found a schedule in time.
"""

from __future__ import annotations

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing
from planner.parallel import Executor
from planner.solvers.base import Solution, SolveOptions, SolveStatus
from planner.solvers.schedule_cpsat import Scheduled, solve_schedule
from planner.solvers.schedule_moves import StageMoves
from planner.solvers.schedule_reinsert import reinsert
from planner.solvers.schedule_shift import RULES, Moves, Stuck, schedule_list
from planner.solvers.tuning import AUTO_EXACT_OPTIONS

ROUNDS = 6
"""Rounds of the greedy re-placement (each makes more stages yield their pools)."""
MAX_FIRST = 40
"""Stages a repair may move to the front of the list (a stuck stage goes first in the next
pass, with its predecessors) before holders of its pools are made to yield."""
BUMP_SHARE = 0.25
"""Share of the time left that passes with stuck stages moved to the front may take; then
the holders yield, which is what finds a schedule (at hard l a pass takes about 1.5 s, and
40 passes left no time for it: no plan)."""
REINSERT_SHARE = 0.05
"""Share of the time left that re-insertion may take after each rule's pass (at hard m
its passes took 9–11 s of a 60 s limit; the search on the exact model that follows does
more with that time: 2.1 % above the bound without re-insertion, 2.6 % with it)."""
ONE_PASS = frozenset({"wide", "regret"})
"""Rules that get one pass: when it gets stuck, the other rules' answers stand (hard l:
wide first left a 461 h job no room on any of its options, and its 20 passes with stuck
stages first took 31 s of the 120 without a schedule; regret's passes took 20 s there)."""


def _moves(problem: Problem, timing: Timing) -> Moves:
    """The moves a stuck stage may make (:class:`~planner.solvers.schedule_moves.StageMoves`)."""
    return StageMoves(problem, timing)


def one_pass(problem: Problem, timing: Timing, x: IntArray) -> tuple[IntArray, IntArray] | None:
    """One list-scheduling pass in which a stage that cannot run as placed takes its
    cheapest other option that runs (the first pass of step 1): (x, starts), or None
    when a stage cannot run at all. Seconds where the repair takes tens (hard l: 3 s)."""
    try:
        return schedule_list(problem, timing, x, _moves(problem, timing))
    except Stuck:
        return None


def _holders(problem: Problem, x: IntArray, stage: int) -> set[int]:
    """The other stages that hold, as placed in ``x``, a pool some option of ``stage``
    needs."""
    r = problem.options_of(stage)
    mine = (problem.use_opt >= r.start) & (problem.use_opt < r.stop)
    pools = np.unique(problem.use_res[mine])
    rows = np.isin(problem.use_res, pools) & (x[problem.use_opt] > 0)
    stage_of = np.searchsorted(problem.stage_ptr, problem.use_opt[rows], side="right") - 1
    return {int(s) for s in np.unique(stage_of)} - {stage}


def greedy_replace(problem: Problem, timing: Timing, x: IntArray,
                   options: SolveOptions | None = None) -> tuple[IntArray, IntArray] | None:
    """Step 1 of the module docstring: (x, starts) or None, the cheapest over the list
    scheduling rules (:data:`~planner.solvers.schedule_shift.RULES`, each in its share of
    the time left: :func:`_rule_share`), then improved by
    :func:`~planner.solvers.schedule_reinsert.reinsert`. Only the cheapest pass is
    re-inserted: a pass takes a second or two at timed l, re-insertion 13 s, and what
    re-inserting the others could win is less than the search does with that time (timed
    l: $25.38 M and $25.30 M after the passes of ``deadline`` and ``longest``, $24.64 M
    and $24.70 M after re-insertion, 0.2 % apart; timed m: ``regret`` 11 % cheaper than
    the others before and after)."""
    moves = _moves(problem, timing)
    best: tuple[int, IntArray, IntArray] | None = None
    for k, rule in enumerate(RULES):
        if best is not None and options is not None and options.expired():
            break
        got = _replace(problem, timing, x, moves, _rule_share(options, len(RULES) - k), rule)
        if got is None:
            continue
        value = timing.cost(problem, *got)
        if best is None or value < best[0]:
            best = (value, *got)
    if best is None:
        return None
    gx, start, _ = reinsert(problem, timing, best[1], best[2], moves, _share(options))
    return gx, start


def _rule_share(options: SolveOptions | None, rules_left: int) -> SolveOptions | None:
    """An equal share of the time left for each rule still to run: a rule whose passes keep
    getting stuck leaves the others their turn (hard xl: ``deadline``'s passes with stuck
    stages first took 122 s of the 116 s left and found no schedule; ``longest`` then found
    one in 9 s, past the deadline)."""
    if options is None or options.deadline is None:
        return options
    return options.until(options.deadline.within(options.remaining_s() / rules_left))


def _share(options: SolveOptions | None) -> SolveOptions | None:
    """:data:`REINSERT_SHARE` of the time left."""
    if options is None or options.deadline is None:
        return options
    return options.until(options.deadline.within(options.remaining_s() * REINSERT_SHARE))


def _replace(problem: Problem, timing: Timing, x: IntArray, moves: Moves,
             options: SolveOptions | None, rule: str) -> tuple[IntArray, IntArray] | None:
    """List scheduling with moves under ``rule`` (one pass for the rules in
    :data:`ONE_PASS`). A stage that gets stuck goes first (with its predecessors) in the
    next pass, up to :data:`MAX_FIRST` stages and
    :data:`BUMP_SHARE` of the time left; after that, the stages holding the pools it could
    use try their other options first (up to :data:`ROUNDS` rounds)."""
    avoid: set[int] = set()
    first: set[int] = set()
    preds: dict[int, list[int]] = {}
    for p in timing.precedence:
        preds.setdefault(p.after, []).append(p.before)
    bumps_until = None if options is None or options.deadline is None else \
        options.deadline.within(options.remaining_s() * BUMP_SHARE)
    rounds = 0
    while rounds < ROUNDS:
        try:
            return schedule_list(problem, timing, x, moves, frozenset(avoid),
                                 frozenset(first), rule)
        except Stuck as stuck:
            if (options is not None and options.expired()) or rule in ONE_PASS:
                return None
            if stuck.stage not in first and len(first) < MAX_FIRST \
                    and not (bumps_until is not None and bumps_until.expired()):
                first |= _chain(preds, stuck.stage)
                continue
            more = _holders(problem, x, stuck.stage) - avoid
            if not more:
                return None
            avoid |= more
            rounds += 1
    return None


def _chain(preds: dict[int, list[int]], stage: int) -> set[int]:
    """``stage`` and every stage before it along precedence arcs."""
    out, todo = {stage}, [stage]
    while todo:
        for b in preds.get(todo.pop(), []):
            if b not in out:
                out.add(b)
                todo.append(b)
    return out


def repair(problem: Problem, timing: Timing, x: IntArray, options: SolveOptions,
           executor: Executor, exact: bool = True) -> Scheduled | None:
    """A placement and schedule of every stage, or None (module docstring); ``exact``:
    then the exact model on small problems, from the re-placement."""
    best: Scheduled | None = None
    got = greedy_replace(problem, timing, x, options)
    if got is not None:
        gx, start = got
        value = timing.cost(problem, gx, start)
        sol = Solution("repair", SolveStatus.FEASIBLE, gx, value, None, 0.0,
                       "greedy re-placement")
        best = Scheduled(sol, start, np.zeros_like(start))
    if exact and problem.n_options <= AUTO_EXACT_OPTIONS and options.remaining_s() > 0:
        hint = (best.solution.x, best.start) if best is not None else None
        done = solve_schedule(problem, timing, options, hint)
        if done.solution.objective is not None and (
                best is None or done.solution.objective < (best.solution.objective or 0)):
            best = done
    return best
