"""The greedy backend: the greedy pass, repaired when it gets stuck, never a silent give-up.

1. The greedy pass (:mod:`planner.solvers.greedy_pass`): hardest stages first, each unit
   on its cheapest option that still fits; a stuck unit gets room by moving units of other
   stages to their next-cheapest options (:mod:`planner.solvers.repair`).
2. While stages are stuck, up to :data:`ROUNDS` more passes place the stages stuck so far
   first (as early as their dependencies allow); the pass with the fewest stuck stages is
   kept. With a wall-clock deadline a pass runs only while 3 times the last pass's time
   is left (``deterministic``: always, so the plan does not depend on the machine's load).
3. Stages still stuck (or a pass whose plan breaks a side rule: budgets, concentration,
   move cap, co-location, spread) are **repaired by CP-SAT** (:func:`cpsat_repair`): the
   stuck stages, their co-location / pipeline partners and the stages placed on the
   resources they compete for are freed, every other stage is fixed at the pass's
   placement, and the full model of :class:`~planner.solvers.cpsat.CpSatBackend` is solved
   on that restriction (first plan, then improved for as long again), on a neighbourhood 4
   times as large when that finds nothing, and on the whole problem when it is small.
4. Every plan goes through the shared feasibility check (:func:`finish`). The solution's
   ``detail`` (the plan's ``solver.detail``, printed by ``planner plan``) and ``stats`` say
   what had to be repaired, e.g. ``greedy: 37 stages repaired (52 units of other stages
   moved to free capacity)``. It declines (``unknown``) only when the repair found
   no plan either, and says ``infeasible`` only when CP-SAT proved it on the whole problem
   (or a stage has no candidate at all).

Its bound is the capacity-free lower bound.
With funding (partial plans) the pass declines workloads that do not fit
(:func:`~planner.solvers.greedy_pass.greedy_fund`) and needs no repair.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from planner.models.problem import IntArray, Problem
from planner.solvers.base import Solution, SolveOptions, SolveStatus, decline
from planner.solvers.capabilities import SIDE_CONSTRAINTS, Capabilities, Feature
from planner.solvers.cpsat_model import ModelBuilder, configure, validated
from planner.solvers.decompose import restrict
from planner.solvers.feasibility import finish, violations
from planner.solvers.greedy_pass import Pass, greedy_assign, greedy_fund, greedy_pass

__all__ = ["GreedyBackend", "Start", "cpsat_repair", "greedy_assign", "greedy_start"]

MAX_FREE = 1_000
"""Stages the CP-SAT repair frees around the stuck ones (besides those)."""
WHOLE_MAX_OPTIONS = 100_000
"""The CP-SAT repair falls back to the whole problem only up to this many options."""
ROUNDS = 4
"""Passes the greedy runs again, stuck stages first, before CP-SAT repairs what is left."""
POLISH = 2.0
"""The CP-SAT repair improves its first plan for this many times as long as it took."""
REPAIR_GAP = 0.001
"""CP-SAT's repair stops at this relative gap (of the whole objective, fixed stages
included): it is after a plan, not the optimum."""


@dataclass
class Start:
    """A start plan and how it was made: ``x`` is a plan meeting every rule when ``ok``.
    ``infeasible``: CP-SAT proved that no plan exists. ``stuck``: stages the first pass
    could not fit; ``rounds``: passes run again with the ``first`` stages stuck so far placed
    first; ``repaired``: stages of the kept pass placed after making room; ``moved``: units
    of other stages moved for them; ``freed``: stages the CP-SAT repair re-planned (0 if it
    did not run)."""

    x: IntArray
    ok: bool
    infeasible: bool = False
    stuck: int = 0
    repaired: int = 0
    moved: int = 0
    freed: int = 0
    rounds: int = 0
    first: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def detail(self) -> str:
        """What was repaired, in words (empty when the pass alone made the plan)."""
        return "; ".join(self.notes)

    def stats(self) -> dict[str, float]:
        return {"greedy_stuck_stages": float(self.stuck),
                "greedy_repaired_stages": float(self.repaired),
                "greedy_moved_units": float(self.moved),
                "greedy_cpsat_freed_stages": float(self.freed),
                "greedy_rounds": float(self.rounds)}


def _partners(problem: Problem, stages: set[int]) -> set[int]:
    """Stages linked to ``stages`` by a co-location or a pipeline edge (either way)."""
    out: set[int] = set()
    for c in problem.colocations:
        if c.a in stages or c.b in stages:
            out |= {c.a, c.b}
    for e in problem.edges:
        if e.a in stages or e.b in stages:
            out |= {e.a, e.b}
    return out


def neighbourhood(problem: Problem, x: IntArray, stuck: list[int],
                  limit: int = MAX_FREE) -> list[int]:
    """The stuck stages, their partners, and up to ``limit`` stages placed on a resource
    an option of a stuck stage uses (resources used by the most such options first)."""
    free = set(stuck) | _partners(problem, set(stuck))
    is_free = np.zeros(problem.n_stages, dtype=np.bool_)
    is_free[sorted(free)] = True
    stage_of = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    wanted = is_free[stage_of[problem.use_opt]]
    res, count = np.unique(problem.use_res[wanted], return_counts=True)
    rank = np.full(problem.res_cap.size, res.size, dtype=np.int64)
    rank[res[np.lexsort((res, -count))]] = np.arange(res.size)
    on = (x[problem.use_opt] > 0) & (rank[problem.use_res] < res.size)
    held = stage_of[problem.use_opt[on]]
    order = np.lexsort((held, rank[problem.use_res[on]]))  # by resource rank, then stage
    added = 0
    for t in held[order].tolist():
        if added >= limit:
            break
        if t not in free:
            free.add(t)
            added += 1
    return sorted(free | _partners(problem, free))


def cpsat_repair(problem: Problem, x: IntArray, stuck: list[int], options: SolveOptions,
                 start: Start) -> IntArray | None:
    """A plan from CP-SAT on growing neighbourhoods of the stuck stages (the rest fixed at
    ``x``: :data:`MAX_FREE`, then 4 times as many), then on the whole problem when it is
    small; None when none finds one (sets ``start.infeasible`` when CP-SAT proved the
    whole problem infeasible)."""
    options = options.started()
    tries: list[list[int]] = []
    if stuck:
        for limit in (MAX_FREE, 4 * MAX_FREE):
            free = neighbourhood(problem, x, stuck, limit)
            if not tries or len(free) > len(tries[-1]):
                tries.append(free)
    if problem.n_options <= WHOLE_MAX_OPTIONS and (not tries
                                                   or len(tries[-1]) < problem.n_stages):
        tries.append(list(range(problem.n_stages)))
    for k, free in enumerate(tries):
        assert options.deadline is not None
        share = 1.0 / (len(tries) - k)  # the last try gets all the time left
        start.freed = max(start.freed, len(free))
        got = _solve_free(problem, x, free,
                          options.until(options.deadline.within(options.remaining_s() * share)))
        if isinstance(got, np.ndarray):
            return got
        if got is SolveStatus.INFEASIBLE and len(free) == problem.n_stages:
            start.infeasible = True
            return None
    return None


def _solve_free(problem: Problem, x: IntArray, free: list[int],
                options: SolveOptions) -> IntArray | SolveStatus:
    """CP-SAT (the full model, :class:`~planner.solvers.cpsat.ModelBuilder`) with the
    stages ``free`` free and the others fixed at ``x``: its first plan, then that plan
    improved for :data:`POLISH` times as long as the first took (stopping at a
    :data:`REPAIR_GAP` gap). A plan of the whole problem, or why not (infeasible /
    unknown)."""
    assert options.deadline is not None
    is_free = np.zeros(problem.n_stages, dtype=np.bool_)
    is_free[free] = True
    stage_of = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    keep = np.flatnonzero(is_free[stage_of] | (x > 0)).astype(np.int64)
    sub = restrict(problem, keep, np.where(is_free[stage_of[keep]], problem.opt_ub[keep],
                                           x[keep]))
    t = time.perf_counter()
    first = _cpsat(sub, x[keep], options, first=True)
    if not isinstance(first, np.ndarray):
        return first
    polish = options.deadline.within(POLISH * (time.perf_counter() - t))
    better = _cpsat(sub, first, options.until(polish), first=False)
    if isinstance(better, np.ndarray) and sub.objective(better) < sub.objective(first):
        first = better
    full = np.zeros(problem.n_options, dtype=np.int64)
    full[keep] = first
    return full


def _cpsat(sub: Problem, hint: IntArray, options: SolveOptions,
           first: bool) -> IntArray | SolveStatus:
    """One CP-SAT solve of ``sub`` from ``hint``: stop at its first plan, or at the
    deadline / a :data:`REPAIR_GAP` gap."""
    builder = ModelBuilder(sub)
    model = builder.build()
    validated(model)
    builder.add_hint(hint)
    solver = cp_model.CpSolver()
    # Deterministic: one worker (deterministic without interleaving). OR-Tools 9.15's
    # interleaved search with several workers aborted the process on a hinted repair
    # model ("Check failed: heuristics.fixed_search != nullptr", exit -6; tight s,
    # seed 1, --deterministic), which no Python code can catch.
    configure(solver, dataclasses.replace(options, workers=1)
              if options.deterministic else options)
    solver.parameters.relative_gap_limit = REPAIR_GAP
    solver.parameters.stop_after_first_solution = first
    code = solver.solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return SolveStatus.INFEASIBLE if code == cp_model.INFEASIBLE else SolveStatus.UNKNOWN
    return builder.read(solver)


def _n(count: int, noun: str, plural: str = "s") -> str:
    return f"{count} {noun}" + ("" if count == 1 else plural)


def _passes(problem: Problem, options: SolveOptions, start: Start) -> Pass:
    """The greedy pass, then up to :data:`ROUNDS` more with the stages stuck so far placed
    first (as early as their dependencies allow) while stages are stuck and time is left;
    the pass with the fewest stuck stages."""
    t = time.perf_counter()
    done = greedy_pass(problem)
    start.stuck = len(done.stuck)
    first: frozenset[int] = frozenset()
    best = done
    for _ in range(ROUNDS):
        took = time.perf_counter() - t
        if best.complete or (not options.deterministic and options.remaining_s() < 3 * took):
            break
        first |= frozenset(done.stuck)
        t = time.perf_counter()
        done = greedy_pass(problem, first=first)
        start.rounds += 1
        if len(done.stuck) < len(best.stuck):
            best = done
    start.first = len(first)
    return best


def greedy_start(problem: Problem, options: SolveOptions) -> Start:
    """The greedy pass, repaired (see the module docstring): a start plan that meets every
    rule whenever the repair finds one within ``options``' deadline."""
    options = options.started()
    start = Start(np.zeros(problem.n_options, dtype=np.int64), ok=False)
    done = _passes(problem, options, start)
    start.x, start.repaired, start.moved = done.x, len(done.repaired), done.moved
    if start.rounds:
        start.notes.append(f"{_n(start.stuck, 'stage')} did not fit the first pass, "
                           f"{len(done.stuck)} after {_n(start.rounds, 'more pass', 'es')} "
                           f"with the {start.first} stuck stages first")
    if done.repaired:
        start.notes.append(f"{_n(len(done.repaired), 'stage')} repaired "
                           f"({_n(done.moved, 'unit')} of other stages moved to free capacity)")
    broken = [] if done.stuck else violations(problem, done.x)
    if not done.stuck and not broken:
        start.ok = True
        return _said(start)
    why = (f"{_n(len(done.stuck), 'stage')} did not fit" if done.stuck
           else f"the plan broke {broken[0]}")
    x = cpsat_repair(problem, done.x, done.stuck, options, start)
    if x is not None and not violations(problem, x):
        start.x, start.ok = x, True
        start.notes.append(f"{why}: CP-SAT repaired the plan with "
                           f"{_n(start.freed, 'stage')} free")
    elif start.infeasible:
        start.notes.append(f"{why}: CP-SAT proved that no plan fits")
    else:
        start.notes.append(f"{why} and the repair found no plan; try --solver cpsat")
    return _said(start)


def _said(start: Start) -> Start:
    """The notes as one ``greedy: …`` sentence."""
    if start.notes and not start.notes[0].startswith("greedy: "):
        start.notes[0] = "greedy: " + start.notes[0]
    return start


class GreedyBackend:
    """The greedy heuristic behind the solver interface."""

    name = "greedy"
    capabilities = Capabilities(honours=SIDE_CONSTRAINTS | {Feature.FUNDING},
                                deterministic=True)

    def solve(self, problem: Problem, options: SolveOptions) -> Solution:
        declined = decline(self.name, self.capabilities, problem)
        if declined is not None:
            return declined
        options = options.started()
        t0 = time.perf_counter()
        zeros = np.zeros(problem.n_options, dtype=np.int64)
        if not problem.funding and (np.diff(problem.stage_ptr) == 0).any():
            return Solution(self.name, SolveStatus.INFEASIBLE, zeros, None, None,
                            time.perf_counter() - t0, "a stage has no feasible option")
        if problem.funding:
            return self._fund(problem, t0)
        start = greedy_start(problem, options)
        elapsed = time.perf_counter() - t0
        if start.infeasible:
            status = SolveStatus.INFEASIBLE
        elif start.ok:
            status = SolveStatus.FEASIBLE
        else:
            status = SolveStatus.UNKNOWN
        x = start.x if start.ok else zeros
        sol = Solution(self.name, status, x, problem.objective(x) if start.ok else None,
                       None, elapsed, start.detail, start.stats())
        return finish(problem, sol)

    def _fund(self, problem: Problem, t0: float) -> Solution:
        """Funding: the pass declines what does not fit (a valid partial plan)."""
        x = greedy_fund(problem)
        broken = violations(problem, x)
        if broken:
            return finish(problem, Solution(
                self.name, SolveStatus.UNKNOWN, np.zeros_like(x), None, None,
                time.perf_counter() - t0, f"greedy plan breaks {broken[0]}; try --solver cpsat"))
        return finish(problem, Solution(self.name, SolveStatus.FEASIBLE, x,
                                        problem.objective(x), None, time.perf_counter() - t0))
