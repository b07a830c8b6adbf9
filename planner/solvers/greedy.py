"""Greedy baseline: hardest stages first, each unit on its cheapest option that still fits.

Also the warm start (solution hint) for CP-SAT. Stages that depend on another
stage (co-location, pipeline egress) go after it and see its site. It cannot
prove infeasibility except when a stage has no candidate at all; when it gets
stuck, or its result breaks a budget, concentration or move cap, it answers
``unknown``. Its bound is the capacity-free lower bound.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

from planner.solvers.base import IntArray, Problem, Solution, SolveOptions, SolveStatus


def _usage_by_option(problem: Problem) -> list[list[tuple[int, int]]]:
    per: list[list[tuple[int, int]]] = [[] for _ in range(problem.n_options)]
    for o, r, a in zip(problem.use_opt.tolist(), problem.use_res.tolist(),
                       problem.use_amt.tolist(), strict=True):
        per[o].append((r, a))
    return per


def _order(problem: Problem, usage: list[list[tuple[int, int]]]) -> list[int]:
    counts = np.diff(problem.stage_ptr)
    need = np.zeros(problem.n_stages, dtype=np.int64)
    for s in range(problem.n_stages):
        opts = problem.options_of(s)
        if len(opts):
            need[s] = min(sum(a for _, a in usage[o]) for o in opts)
    dependent = {c.b for c in problem.colocations} | {e.b for e in problem.edges}
    return sorted(range(problem.n_stages),
                  key=lambda s: (s in dependent, int(counts[s]), -int(need[s]), s))


def _allowed_sites(problem: Problem, x: IntArray, s: int) -> set[int] | None:
    allowed: set[int] | None = None
    for c in problem.colocations:
        if c.b != s:
            continue
        groups = {int(c.group[i]) for i in problem.sites_used(x, c.a)}
        if not groups:
            continue
        sites = {j for j in range(len(problem.site_names)) if int(c.group[j]) in groups}
        allowed = sites if allowed is None else allowed & sites
    return allowed


def _edge_penalty(problem: Problem, x: IntArray, s: int) -> dict[int, int]:
    """Extra cost of the first unit at each site, from edges whose source is placed."""
    extra: dict[int, int] = defaultdict(int)
    for e in problem.edges:
        if e.b != s:
            continue
        src = problem.sites_used(x, e.a)
        if len(src) == 1:
            i = next(iter(src))
            for (ii, j), c in e.cost.items():
                if ii == i:
                    extra[j] += c
    return extra


def greedy_assign(problem: Problem) -> tuple[IntArray, bool]:
    """Units per option, and whether every stage got all its units."""
    usage = _usage_by_option(problem)
    remaining = problem.res_cap.astype(np.int64).copy()
    x = np.zeros(problem.n_options, dtype=np.int64)
    min_sites = problem.min_sites if problem.min_sites is not None else np.ones(
        problem.n_stages, dtype=np.int64)
    for s in _order(problem, usage):
        allowed = _allowed_sites(problem, x, s)
        extra = _edge_penalty(problem, x, s)
        units, k = int(problem.units[s]), int(min_sites[s])
        used_sites: set[int] = set()
        for placed in range(units):
            must_spread = len(used_sites) < k and units - placed <= k - len(used_sites)
            best, best_cost = -1, 0
            for o in problem.options_of(s):  # sorted by objective per unit
                site = int(problem.opt_site[o])
                if allowed is not None and site not in allowed:
                    continue
                if x[o] >= problem.opt_ub[o] or (must_spread and site in used_sites):
                    continue
                if not all(remaining[r] >= a for r, a in usage[o]):
                    continue
                c = int(problem.opt_obj[o]) + (extra.get(site, 0) if site not in used_sites else 0)
                if best < 0 or c < best_cost:
                    best, best_cost = o, c
            if best < 0:
                return x, False
            x[best] += 1
            used_sites.add(int(problem.opt_site[best]))
            for r, a in usage[best]:
                remaining[r] -= a
    return x, True


def side_constraints_hold(problem: Problem, x: IntArray) -> bool:
    """Budgets, provider concentration and the move cap (checked after the greedy pass)."""
    for b in problem.budgets:
        if problem.real_cost(x, set(b.stages.tolist())) > b.cap:
            return False
    if problem.max_share is not None:
        total = int((problem.opt_compute * x).sum())
        for p in sorted(set(problem.site_provider)):
            idx = [j for j, q in enumerate(problem.site_provider) if q == p]
            if not problem.site_cloud[idx[0]]:
                continue
            mine = int((problem.opt_compute * x)[np.isin(problem.opt_site, idx)].sum())
            if mine * problem.max_share.denominator > problem.max_share.numerator * total:
                return False
    if problem.max_moves is not None:
        moved = {s for s in range(problem.n_stages)
                 for o in problem.options_of(s) if x[o] > 0 and problem.opt_moved[o]}
        if len(moved) > problem.max_moves:
            return False
    return True


class GreedyBackend:
    """The greedy heuristic behind the solver interface."""

    name = "greedy"
    proves_optimality = False

    def solve(self, problem: Problem, options: SolveOptions) -> Solution:
        start = time.perf_counter()
        x, complete = greedy_assign(problem)
        elapsed = time.perf_counter() - start
        bound = problem.trivial_bound()
        if (np.diff(problem.stage_ptr) == 0).any():
            return Solution(self.name, SolveStatus.INFEASIBLE, np.zeros_like(x), None, None,
                            elapsed, "a stage has no feasible option")
        if not complete:
            return Solution(self.name, SolveStatus.UNKNOWN, np.zeros_like(x), None, bound,
                            elapsed, "greedy could not fit every stage; try --solver cpsat")
        if not side_constraints_hold(problem, x):
            return Solution(self.name, SolveStatus.UNKNOWN, np.zeros_like(x), None, bound,
                            elapsed, "greedy plan breaks a budget, concentration or move cap; "
                            "try --solver cpsat")
        objective = problem.objective(x)
        status = SolveStatus.OPTIMAL if objective == bound else SolveStatus.FEASIBLE
        return Solution(self.name, status, x, objective, bound, elapsed)
