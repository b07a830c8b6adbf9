"""The small problem a runner-up swap is checked on.

A swap changes one stage ``s``; every other stage keeps its incumbent units. Only the
rules touching ``s`` can change, so the problem keeps

* the stage ``s`` (its used options and the option the unit moves to) and the stages tied
  to it by a pipeline edge or a co-location rule (their used options), with the edges and
  co-location rules among them;
* every other stage folded into constants: capacity minus what the others use, budget
  caps minus what the others spend (their pipeline egress included), the move cap minus
  the other stages that moved, and, for the provider-concentration caps, one fixed
  "ballast" stage per provider carrying the others' compute spend.

The constants come from :class:`Totals`, computed once per incumbent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, PBudget, PColoc, PEdge, Problem

__all__ = ["Totals", "edge_cost", "swap_problem", "used_sites"]


def used_sites(problem: Problem, x: IntArray, stage: int, change: dict[int, int]) -> set[int]:
    """Sites a stage uses under ``x`` with the units of ``change`` overriding it."""
    r = problem.options_of(stage)
    return {int(problem.opt_site[o]) for o in r if change.get(o, int(x[o])) > 0}


def edge_cost(problem: Problem, x: IntArray, e: PEdge, change: dict[int, int]) -> int:
    """Egress of one pipeline edge, as :meth:`Problem.edge_cost` counts it."""
    src = used_sites(problem, x, e.a, change)
    if len(src) != 1:
        return 0
    i = next(iter(src))
    return sum(e.cost.get((i, j), 0) for j in used_sites(problem, x, e.b, change))


def _per_stage(problem: Problem, values: IntArray) -> IntArray:
    c = np.concatenate([[0], np.cumsum(values)])
    return c[problem.stage_ptr[1:]] - c[problem.stage_ptr[:-1]]


@dataclass(frozen=True)
class Totals:
    """What the incumbent uses: per resource, per stage (real cost, moved), per edge
    (egress), per budget (spend) and per site (compute)."""

    res_used: IntArray
    stage_cost: IntArray
    stage_moved: NDArray[np.bool_]
    edge_cost: IntArray
    budget_spend: IntArray
    site_compute: IntArray

    @classmethod
    def of(cls, p: Problem, x: IntArray) -> Totals:
        res_used = np.zeros(len(p.res_cap), dtype=np.int64)
        np.add.at(res_used, p.use_res, p.use_amt * x[p.use_opt])
        stage_cost = _per_stage(p, p.opt_cost * x)
        moved = _per_stage(p, ((x > 0) & p.opt_moved).astype(np.int64)) > 0
        edges = np.array([edge_cost(p, x, e, {}) for e in p.edges], dtype=np.int64)
        spend = np.array([_spend(p, b, stage_cost, edges) for b in p.budgets], dtype=np.int64)
        n_sites = max(len(p.site_names), int(p.opt_site.max()) + 1 if p.n_options else 0)
        site_compute = np.zeros(n_sites, dtype=np.int64)
        np.add.at(site_compute, p.opt_site, p.opt_compute * x)
        return cls(res_used, stage_cost, moved, edges, spend, site_compute)


def _spend(p: Problem, b: PBudget, stage_cost: IntArray, edges: IntArray) -> int:
    members = set(b.stages.tolist())
    return int(stage_cost[b.stages].sum()) + sum(
        int(edges[k]) for k, e in enumerate(p.edges) if e.b in members)


def _tied(p: Problem, stage: int) -> list[int]:
    """The stage and the stages tied to it by a pipeline edge or a co-location rule."""
    out = {stage}
    for a, b in [(e.a, e.b) for e in p.edges] + [(c.a, c.b) for c in p.colocations]:
        if stage in (a, b):
            out |= {a, b}
    return sorted(out)


def swap_problem(p: Problem, x: IntArray, totals: Totals, stage: int, source: int,
                 option: int) -> tuple[Problem, IntArray]:
    """The small problem of the swap (one unit of ``stage`` from ``source`` to ``option``)
    and the units of each of its options after the swap."""
    stages = _tied(p, stage)
    index = {t: k for k, t in enumerate(stages)}
    change = {source: int(x[source]) - 1, option: int(x[option]) + 1}
    per_stage = [sorted({o for o in p.options_of(t) if x[o] > 0} | ({option} if t == stage
                                                                      else set()))
                 for t in stages]
    opts = np.array([o for lst in per_stage for o in lst], dtype=np.int64)
    fixed = np.array([change.get(int(o), int(x[o])) for o in opts], dtype=np.int64)
    mask = np.isin(p.use_opt, opts)
    use_opt = np.searchsorted(opts, p.use_opt[mask])
    inside_used = np.zeros(len(p.res_cap), dtype=np.int64)
    np.add.at(inside_used, p.use_res[mask], p.use_amt[mask] * x[p.use_opt[mask]])
    edges = [(k, e) for k, e in enumerate(p.edges) if e.a in index and e.b in index]
    ballast = _ballast(p, x, totals, opts)
    n_sites = len(totals.site_compute)
    counts = [len(lst) for lst in per_stage] + [1] * len(ballast)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    zeros = np.zeros(len(ballast), dtype=np.int64)

    def col(values: IntArray, extra: IntArray = zeros) -> IntArray:
        return np.concatenate([values[opts], extra]).astype(np.int64)

    sub = Problem(
        n_stages=len(counts), stage_ptr=ptr,
        units=np.concatenate([p.units[stages], np.ones(len(ballast), dtype=np.int64)]),
        opt_cost=col(p.opt_cost), opt_obj=col(p.opt_obj),
        opt_compute=col(p.opt_compute, np.array([c for _, c, _ in ballast], dtype=np.int64)),
        opt_ub=col(p.opt_ub, zeros + 1),
        opt_site=col(p.opt_site, np.arange(n_sites, n_sites + len(ballast), dtype=np.int64)),
        opt_moved=np.concatenate([p.opt_moved[opts], zeros.astype(np.bool_)]),
        use_opt=use_opt.astype(np.int64), use_res=p.use_res[mask], use_amt=p.use_amt[mask],
        res_cap=p.res_cap - (totals.res_used - inside_used), res_names=p.res_names,
        site_names=_pad(p.site_names, n_sites, "") + tuple(f"ballast:{q}" for q, _, _ in ballast),
        site_provider=_pad(p.site_provider, n_sites, "") + tuple(q for q, _, _ in ballast),
        site_cloud=_pad(p.site_cloud, n_sites, False) + tuple(c for _, _, c in ballast),
        min_sites=(None if p.min_sites is None else
                   np.concatenate([p.min_sites[stages], zeros + 1]).astype(np.int64)),
        edges=tuple(PEdge(index[e.a], index[e.b], e.cost) for _, e in edges),
        colocations=tuple(
            PColoc(index[c.a], index[c.b],
                   np.concatenate([c.group, np.arange(len(ballast)) + int(c.group.max()) + 1]),
                   c.name)
            for c in p.colocations if c.a in index and c.b in index),
        budgets=_budgets(p, totals, index, edges),
        max_share=p.max_share,
        max_moves=(None if p.max_moves is None else
                   p.max_moves - int(totals.stage_moved.sum())
                   + int(totals.stage_moved[stages].sum())),
        stage_keys=tuple(p.stage_keys[t] if p.stage_keys else f"stage{t}" for t in stages)
        + tuple(f"ballast:{q}" for q, _, _ in ballast),
    )
    return sub, np.concatenate([fixed, zeros + 1])


def _pad(values: tuple[Any, ...], n: int, fill: object) -> tuple[Any, ...]:
    return tuple(values) + (fill,) * (n - len(values))


def _ballast(p: Problem, x: IntArray, totals: Totals, opts: IntArray
             ) -> list[tuple[str, int, bool]]:
    """Per provider (for the concentration caps): the compute spend of the other stages."""
    if p.max_share is None:
        return []
    inside = np.zeros(len(totals.site_compute), dtype=np.int64)
    np.add.at(inside, p.opt_site[opts], p.opt_compute[opts] * x[opts])
    outside = totals.site_compute - inside
    out = []
    for q in sorted(set(p.site_provider)):
        sites = [j for j, name in enumerate(p.site_provider) if name == q]
        cloud = any(p.site_cloud[j] for j in sites)
        out.append((q, int(outside[sites].sum()), cloud))
    return out


def _budgets(p: Problem, totals: Totals, index: dict[int, int],
             edges: list[tuple[int, PEdge]]) -> tuple[PBudget, ...]:
    """Budgets touching the kept stages, their caps less what the other stages spend."""
    out = []
    for k, b in enumerate(p.budgets):
        kept = [int(t) for t in b.stages.tolist() if int(t) in index]
        if not kept:
            continue
        members = set(b.stages.tolist())
        inside = int(totals.stage_cost[kept].sum()) + sum(
            int(totals.edge_cost[j]) for j, e in edges if e.b in members)
        cap = b.cap - (int(totals.budget_spend[k]) - inside)
        out.append(PBudget(b.name, np.array([index[t] for t in kept], dtype=np.int64), cap))
    return tuple(out)
