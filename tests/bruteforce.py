"""Brute force over a Problem: every assignment of units to options, every constraint
checked directly (no solver code), the cheapest objective. For tiny instances only.

:func:`problems` draws such instances for hypothesis, side constraints included;
:func:`funded_problems` adds workload groups with values and priorities (funding: a
workload is placed whole or not at all, the objective subtracts the rewards of the
placed workloads), which brute force enumerates too."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import strategies as st

from planner.models.problem import PBudget, PColoc, PEdge, Problem


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
        src = _sites(problem, x, e.a)
        if not src:  # left out with its workload (funding)
            continue
        (i,) = src
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
            n = len(_sites(problem, x, s))
            if n < problem.min_sites[s] and not (n == 0 and problem.funding):
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


def _whole(problem: Problem, x: np.ndarray) -> tuple[bool, int]:
    """Funding: every workload placed whole or not at all; the reward of those placed."""
    if problem.stage_group is None or problem.group_reward is None:
        return True, 0
    placed: dict[int, set[bool]] = {}
    for s in range(problem.n_stages):
        on = any(x[o] > 0 for o in problem.options_of(s))
        placed.setdefault(int(problem.stage_group[s]), set()).add(on)
    for g in range(len(problem.group_reward)):
        placed.setdefault(g, {False})
    if any(len(v) > 1 for v in placed.values()):
        return False, 0
    return True, sum(int(problem.group_reward[g]) for g, v in placed.items() if True in v)


def brute_force(problem: Problem) -> int | None:
    """The exact optimum (None if no assignment is feasible). With funding a stage may
    also place nothing, when its whole workload is left out."""
    per_stage = []
    for s in range(problem.n_stages):
        opts = list(problem.options_of(s))
        splits = list(_splits(int(problem.units[s]), opts,
                              [int(problem.opt_ub[o]) for o in opts]))
        per_stage.append(splits + ([{}] if problem.funding else []))
    best = None
    for combo in itertools.product(*per_stage):
        x = np.zeros(problem.n_options, dtype=np.int64)
        for part in combo:
            for o, k in part.items():
                x[o] = k
        whole, reward = _whole(problem, x)
        if whole and feasible(problem, x):
            value = int((problem.opt_obj * x).sum()) + _edges(problem, x) - reward
            best = value if best is None else min(best, value)
    return best


SHARES = [Fraction(1, 3), Fraction(600001, 1000000), Fraction(1, 2), Fraction(3, 4),
          Fraction(2, 3)]
PROVIDERS = ["aws", "azure", "onprem"]


@st.composite
def problems(draw: st.DrawFn, max_stages: int = 8, max_options: int = 4, max_units: int = 3,
             split_stages: int = 2, random_caps: bool = False, side: bool = True) -> Problem:
    """Small random problems for brute force: ≤ ``max_stages`` stages × ≤ ``max_options``
    options, up to ``max_units`` units on the first ``split_stages`` stages (so enumeration
    stays small), 0–3 resources; with ``random_caps`` an option may hold fewer units.

    Options share 1–4 sites of cloud providers and on-prem; with ``side`` every side
    constraint is drawn too: pipeline edges (from single-unit stages), co-location by
    site, provider or an arbitrary grouping, spread, budgets, a provider share cap
    (non-round ones included), a move cap; costs are optionally scaled to ~1e12."""
    n_stages = draw(st.integers(1, max_stages))
    n_res = draw(st.integers(0, 3))
    n_sites = draw(st.integers(1, 4))
    providers = [draw(st.sampled_from(PROVIDERS)) for _ in range(n_sites)]
    counts = [draw(st.integers(1, max_options)) for _ in range(n_stages)]
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_opt = int(ptr[-1])
    scale = draw(st.sampled_from([1, 1, 1, 10**9])) if side else 1
    compute = np.array([draw(st.integers(0, 1000)) for _ in range(n_opt)], dtype=np.int64)
    egress = np.array([draw(st.integers(0, 100)) if side else 0 for _ in range(n_opt)],
                      dtype=np.int64)
    risk = np.array([draw(st.integers(0, 50)) if side else 0 for _ in range(n_opt)],
                    dtype=np.int64)
    compute, egress, risk = compute * scale, egress * scale, risk * scale
    sites = np.array([draw(st.integers(0, n_sites - 1)) for _ in range(n_opt)], dtype=np.int64)
    uo, ur, ua = [], [], []
    for o in range(n_opt):
        for r in range(n_res):
            if draw(st.booleans()):
                uo.append(o)
                ur.append(r)
                ua.append(draw(st.integers(1, 30 if side else 50)))
    caps = np.array([draw(st.integers(0, 200 if side else 120)) for _ in range(n_res)],
                    dtype=np.int64)
    units = np.array([draw(st.integers(1, max_units)) if s < split_stages else 1
                      for s in range(n_stages)], dtype=np.int64)
    ub = np.array([draw(st.integers(1, int(units[s]))) if random_caps else units[s]
                   for s in range(n_stages) for _ in range(counts[s])], dtype=np.int64)
    names = tuple(f"{providers[j]}:s{j}" for j in range(n_sites))
    base = Problem(n_stages=n_stages, stage_ptr=ptr, units=units, opt_cost=compute + egress,
                   opt_obj=compute + egress + risk, opt_compute=compute, opt_ub=ub,
                   opt_site=sites, opt_moved=np.zeros(n_opt, dtype=np.bool_),
                   use_opt=np.array(uo, dtype=np.int64), use_res=np.array(ur, dtype=np.int64),
                   use_amt=np.array(ua, dtype=np.int64), res_cap=caps,
                   res_names=tuple(f"r{i}" for i in range(n_res)), site_names=names,
                   site_provider=tuple(providers), site_cloud=tuple(p != "onprem"
                                                                    for p in providers),
                   min_sites=np.ones(n_stages, dtype=np.int64),
                   stage_keys=tuple(f"w/s{s}" for s in range(n_stages)))
    if not side:
        return base
    return dataclasses.replace(base, **_side_constraints(draw, base, scale))


def _side_constraints(draw: st.DrawFn, p: Problem, scale: int) -> dict[str, Any]:
    """Edges, co-locations, spread, budgets, share cap and move cap for ``p``."""
    n_sites = len(p.site_names)
    pairs = [(a, b) for a in range(p.n_stages) for b in range(a + 1, p.n_stages)]
    edges = []
    for a, b in pairs:
        if p.units[a] == 1 and draw(st.integers(0, 4)) == 0:
            cost = {(i, j): draw(st.integers(0, 300)) * scale for i in range(n_sites)
                    for j in range(n_sites) if i != j}
            edges.append(PEdge(a, b, {k: v for k, v in cost.items() if v}))
    colocs = []
    chain = draw(st.booleans())  # a pipeline: stage s+1 runs with stage s
    for a, b in pairs:
        if (chain and b == a + 1) or draw(st.integers(0, 3)) == 0:
            kind = draw(st.sampled_from(["site", "provider", "any"]))
            keys = (list(range(n_sites)) if kind == "site" else list(p.site_provider)
                    if kind == "provider" else
                    [draw(st.integers(0, 1)) for _ in range(n_sites)])
            index = {k: i for i, k in enumerate(sorted(set(map(str, keys))))}
            group = np.array([index[str(k)] for k in keys], dtype=np.int64)
            colocs.append(PColoc(a, b, group, f"colocation:w/s{b}"))
    reach = [len(set(p.opt_site[p.options_of(s)].tolist())) for s in range(p.n_stages)]
    min_sites = np.array([draw(st.integers(1, max(1, min(int(u), reach[s]))))
                          for s, u in enumerate(p.units.tolist())], dtype=np.int64)
    budgets = []
    per_stage = [int(p.opt_cost[p.options_of(s)].max()) * int(p.units[s])
                 for s in range(p.n_stages)]
    for k in range(draw(st.integers(0, 2))):
        stages = sorted(draw(st.sets(st.integers(0, p.n_stages - 1), min_size=1)))
        top = sum(per_stage[s] for s in stages)
        cap = top * draw(st.integers(50, 150)) // 100
        budgets.append(PBudget(f"budget:b{k}", np.array(stages, dtype=np.int64), cap))
    moved = np.array([draw(st.integers(0, 3)) == 0 for _ in range(p.n_options)], dtype=np.bool_)
    clouds = {q for q, cloud in zip(p.site_provider, p.site_cloud, strict=True) if cloud}
    shares = st.sampled_from(SHARES) if len(clouds) > 1 else st.just(Fraction(1))
    return dict(edges=tuple(edges), colocations=tuple(colocs), min_sites=min_sites,
                budgets=tuple(budgets),
                max_share=draw(st.one_of(st.none(), shares)),
                max_moves=draw(st.one_of(st.none(), st.integers(0, p.n_stages))),
                opt_moved=moved)


@st.composite
def funded_problems(draw: st.DrawFn, max_stages: int = 6, max_options: int = 3) -> Problem:
    """:func:`problems` with stages grouped into workloads (contiguous; edges and
    co-locations kept only inside a workload, as in portfolios), each with a value, no
    value (required when it fits) and a priority, turned into rewards by
    :func:`planner.solvers.funding.rewards`; tight capacities and budgets, so that not
    every workload fits."""
    from planner.solvers.funding import Claim, rewards, with_funding

    p = draw(problems(max_stages=max_stages, max_options=max_options, max_units=2))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, p.n_stages - 1)),
                               min_size=min(1, p.n_stages - 1), max_size=3)))
    cuts = [c for c in cuts if c < p.n_stages]
    group = np.searchsorted(np.array(cuts, dtype=np.int64), np.arange(p.n_stages),
                            side="right").astype(np.int64)
    p = dataclasses.replace(
        p, edges=tuple(e for e in p.edges if group[e.a] == group[e.b]),
        colocations=tuple(c for c in p.colocations if group[c.a] == group[c.b]))
    n = len(cuts) + 1
    scale = int(max(1, p.opt_obj.max() // 1000)) if p.n_options else 1
    claims = [Claim(f"w{g}", draw(st.one_of(st.none(), st.integers(0, 3000).map(
        lambda v, k=scale: Decimal(v * k) / 10**6))), draw(st.sampled_from([0, 0, 1, 2])))
        for g in range(n)]
    return with_funding(p, group.tolist(), [c.name for c in claims], rewards(p, claims))
