"""Greedy baseline: hardest stages first, each on its cheapest option that still fits.

Also the warm start (solution hint) for CP-SAT. It cannot prove infeasibility
except when a stage has no candidate at all; when it gets stuck it answers
``unknown``. Its bound is the capacity-free lower bound (cheapest option of
every stage).
"""

from __future__ import annotations

import time

import numpy as np

from planner.solvers.base import Problem, Solution, SolveOptions, SolveStatus


def _usage_by_option(problem: Problem) -> list[list[tuple[int, int]]]:
    per: list[list[tuple[int, int]]] = [[] for _ in range(problem.n_options)]
    for o, r, a in zip(
        problem.use_opt.tolist(), problem.use_res.tolist(), problem.use_amt.tolist(), strict=True
    ):
        per[o].append((r, a))
    return per


def greedy_choice(problem: Problem) -> np.ndarray:
    """Option per stage (-1 where nothing fits). Stages with the fewest options, then the
    largest capacity need, go first; ties by stage index (deterministic)."""
    usage = _usage_by_option(problem)
    remaining = problem.res_cap.astype(np.int64).copy()
    counts = np.diff(problem.stage_ptr)
    need = np.zeros(problem.n_stages, dtype=np.int64)
    for s in range(problem.n_stages):
        opts = problem.options_of(s)
        if len(opts):
            need[s] = min(sum(a for _, a in usage[o]) for o in opts)
    order = sorted(range(problem.n_stages), key=lambda s: (int(counts[s]), -int(need[s]), s))
    choice = np.full(problem.n_stages, -1, dtype=np.int64)
    for s in order:
        for o in problem.options_of(s):  # options are sorted by cost
            if all(remaining[r] >= a for r, a in usage[o]):
                for r, a in usage[o]:
                    remaining[r] -= a
                choice[s] = o
                break
    return choice


class GreedyBackend:
    """The greedy heuristic behind the solver interface."""

    name = "greedy"
    proves_optimality = False

    def solve(self, problem: Problem, options: SolveOptions) -> Solution:
        start = time.perf_counter()
        choice = greedy_choice(problem)
        elapsed = time.perf_counter() - start
        bound = problem.trivial_bound()
        if (np.diff(problem.stage_ptr) == 0).any():
            return Solution(
                self.name,
                SolveStatus.INFEASIBLE,
                choice,
                None,
                None,
                elapsed,
                "a stage has no feasible option",
            )
        if (choice < 0).any():
            return Solution(
                self.name,
                SolveStatus.UNKNOWN,
                choice,
                None,
                bound,
                elapsed,
                "greedy could not fit every stage; try --solver cpsat",
            )
        objective = int(problem.opt_cost[choice].sum())
        status = SolveStatus.OPTIMAL if objective == bound else SolveStatus.FEASIBLE
        return Solution(self.name, status, choice, objective, bound, elapsed)
