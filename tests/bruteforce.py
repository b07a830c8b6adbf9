"""Brute force over a Problem: every assignment of units to options, every constraint
checked directly (no solver code), the cheapest objective. For tiny instances only."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
from hypothesis import strategies as st

from planner.solvers.base import Problem


def _splits(units: int, opts: list[int], ub: list[int]) -> Iterator[dict[int, int]]:
    if not opts:
        if units == 0:
            yield {}
        return
    first, rest = opts[0], opts[1:]
    for k in range(min(units, ub[0]) + 1):
        for tail in _splits(units - k, rest, ub[1:]):
            yield {first: k, **tail} if k else tail


def _sites(problem: Problem, x: np.ndarray, s: int) -> set[int]:
    return {int(problem.opt_site[o]) for o in problem.options_of(s) if x[o] > 0}


def _edges(problem: Problem, x: np.ndarray, into: set[int] | None = None) -> int:
    total = 0
    for e in problem.edges:
        if into is not None and e.b not in into:
            continue
        (i,) = _sites(problem, x, e.a)
        total += sum(e.cost.get((i, j), 0) for j in _sites(problem, x, e.b))
    return total


def feasible(problem: Problem, x: np.ndarray) -> bool:
    used = np.zeros(len(problem.res_cap), dtype=np.int64)
    for o, r, a in zip(problem.use_opt, problem.use_res, problem.use_amt, strict=True):
        used[r] += a * x[o]
    if (used > problem.res_cap).any():
        return False
    if problem.min_sites is not None:
        for s in range(problem.n_stages):
            if len(_sites(problem, x, s)) < problem.min_sites[s]:
                return False
    for c in problem.colocations:
        groups_a = {int(c.group[i]) for i in _sites(problem, x, c.a)}
        if any(int(c.group[j]) not in groups_a for j in _sites(problem, x, c.b)):
            return False
    for b in problem.budgets:
        stages = set(b.stages.tolist())
        cost = sum(int(problem.opt_cost[o]) * int(x[o]) for s in stages
                   for o in problem.options_of(s))
        if cost + _edges(problem, x, stages) > b.cap:
            return False
    if problem.max_share is not None:
        total = int((problem.opt_compute * x).sum())
        for p in set(problem.site_provider):
            sites = [j for j, q in enumerate(problem.site_provider) if q == p]
            if not problem.site_cloud[sites[0]]:
                continue
            mine = sum(int(problem.opt_compute[o] * x[o]) for o in range(problem.n_options)
                       if problem.opt_site[o] in sites)
            if mine > problem.max_share * total:
                return False
    if problem.max_moves is not None:
        moved = sum(any(x[o] > 0 and problem.opt_moved[o] for o in problem.options_of(s))
                    for s in range(problem.n_stages))
        if moved > problem.max_moves:
            return False
    return True


def brute_force(problem: Problem) -> int | None:
    """The exact optimum (None if no assignment is feasible)."""
    per_stage = []
    for s in range(problem.n_stages):
        opts = list(problem.options_of(s))
        per_stage.append(list(_splits(int(problem.units[s]), opts,
                                      [int(problem.opt_ub[o]) for o in opts])))
    best = None
    for combo in itertools.product(*per_stage):
        x = np.zeros(problem.n_options, dtype=np.int64)
        for part in combo:
            for o, k in part.items():
                x[o] = k
        if feasible(problem, x):
            value = int((problem.opt_obj * x).sum()) + _edges(problem, x)
            best = value if best is None else min(best, value)
    return best


@st.composite
def problems(draw: st.DrawFn, max_stages: int = 8, max_options: int = 4, max_units: int = 3,
             split_stages: int = 2, random_caps: bool = False) -> Problem:
    """Small random problems for brute force: ≤ ``max_stages`` stages × ≤ ``max_options``
    options, up to ``max_units`` units on the first ``split_stages`` stages (so enumeration
    stays small), 0–3 resources; with ``random_caps`` an option may hold fewer units."""
    n_stages = draw(st.integers(1, max_stages))
    n_res = draw(st.integers(0, 3))
    counts = [draw(st.integers(1, max_options)) for _ in range(n_stages)]
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_opt = int(ptr[-1])
    costs = np.array([draw(st.integers(0, 1000)) for _ in range(n_opt)], dtype=np.int64)
    uo, ur, ua = [], [], []
    for o in range(n_opt):
        for r in range(n_res):
            if draw(st.booleans()):
                uo.append(o)
                ur.append(r)
                ua.append(draw(st.integers(1, 50)))
    caps = np.array([draw(st.integers(0, 120)) for _ in range(n_res)], dtype=np.int64)
    units = np.array([draw(st.integers(1, max_units)) if s < split_stages else 1
                      for s in range(n_stages)], dtype=np.int64)
    ub = np.array([draw(st.integers(1, int(units[s]))) if random_caps else units[s]
                   for s in range(n_stages) for _ in range(counts[s])], dtype=np.int64)
    return Problem(n_stages=n_stages, stage_ptr=ptr, units=units, opt_cost=costs, opt_obj=costs,
                   opt_compute=costs, opt_ub=ub, opt_site=np.arange(n_opt, dtype=np.int64),
                   opt_moved=np.zeros(n_opt, dtype=np.bool_), use_opt=np.array(uo, dtype=np.int64),
                   use_res=np.array(ur, dtype=np.int64), use_amt=np.array(ua, dtype=np.int64),
                   res_cap=caps, res_names=tuple(f"r{i}" for i in range(n_res)),
                   site_names=tuple(f"aws:s{i}" for i in range(n_opt)))
