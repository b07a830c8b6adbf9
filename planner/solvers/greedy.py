"""Greedy baseline: hardest stages first, each unit on its cheapest option that still fits.

Also the warm start (solution hint) for CP-SAT. Stages go in dependency order
(topological over co-location and pipeline-edge dependencies: a stage that must
run with, or receives data from, another stage goes after it and sees its
sites); among the stages that are ready, the hardest go first. It cannot prove
infeasibility except when a stage has no candidate at all; when it gets stuck,
or its result breaks any rule of the shared feasibility check (budgets,
concentration, move cap, co-location, spread), it declines with ``unknown``.
Its bound is the capacity-free lower bound.
"""

from __future__ import annotations

import heapq
import time
from collections import defaultdict

import numpy as np

from planner.solvers.base import IntArray, Problem, Solution, SolveOptions, SolveStatus
from planner.solvers.feasibility import finish, violations


def _usage_by_option(problem: Problem) -> list[list[tuple[int, int]]]:
    per: list[list[tuple[int, int]]] = [[] for _ in range(problem.n_options)]
    for o, r, a in zip(problem.use_opt.tolist(), problem.use_res.tolist(),
                       problem.use_amt.tolist(), strict=True):
        per[o].append((r, a))
    return per


def dependencies(problem: Problem) -> dict[int, set[int]]:
    """Stage → the stages it depends on (co-location partner, pipeline-edge source)."""
    deps: dict[int, set[int]] = defaultdict(set)
    for c in problem.colocations:
        deps[c.b].add(c.a)
    for e in problem.edges:
        deps[e.b].add(e.a)
    return deps


def _order(problem: Problem, usage: list[list[tuple[int, int]]]) -> list[int]:
    """Stages in dependency order; among ready stages, fewest options and largest need
    first. Stages on a dependency cycle (none in valid input) go last, by the same key."""
    counts = np.diff(problem.stage_ptr)
    need = np.zeros(problem.n_stages, dtype=np.int64)
    for s in range(problem.n_stages):
        opts = problem.options_of(s)
        if len(opts):
            need[s] = min(sum(a for _, a in usage[o]) for o in opts)

    def key(s: int) -> tuple[int, int, int]:
        return (int(counts[s]), -int(need[s]), s)

    deps = dependencies(problem)
    waiting = {s: len(d) for s, d in deps.items()}
    after: dict[int, list[int]] = defaultdict(list)
    for s, d in deps.items():
        for a in d:
            after[a].append(s)
    ready = [key(s) for s in range(problem.n_stages) if not waiting.get(s)]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        s = heapq.heappop(ready)[2]
        order.append(s)
        for b in after[s]:
            waiting[b] -= 1
            if waiting[b] == 0:
                heapq.heappush(ready, key(b))
    placed = set(order)
    return order + sorted((s for s in range(problem.n_stages) if s not in placed), key=key)


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


class GreedyBackend:
    """The greedy heuristic behind the solver interface."""

    name = "greedy"
    proves_optimality = False

    def solve(self, problem: Problem, options: SolveOptions) -> Solution:
        start = time.perf_counter()
        x, complete = greedy_assign(problem)
        elapsed = time.perf_counter() - start
        zeros = np.zeros_like(x)
        if (np.diff(problem.stage_ptr) == 0).any():
            return Solution(self.name, SolveStatus.INFEASIBLE, zeros, None, None,
                            elapsed, "a stage has no feasible option")
        if not complete:
            return finish(problem, Solution(
                self.name, SolveStatus.UNKNOWN, zeros, None, None, elapsed,
                "greedy could not fit every stage; try --solver cpsat"))
        broken = violations(problem, x)
        if broken:
            return finish(problem, Solution(
                self.name, SolveStatus.UNKNOWN, zeros, None, None, elapsed,
                f"greedy plan breaks {broken[0]}; try --solver cpsat"))
        return finish(problem, Solution(self.name, SolveStatus.FEASIBLE, x,
                                        problem.objective(x), None, elapsed))
