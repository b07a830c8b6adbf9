r"""Problem transformations for large portfolios: exact reduction, restriction, components.

All functions are vectorized (numpy / scipy.sparse) and keep every side constraint of
:class:`~planner.solvers.base.Problem` intact.

Binding resources
    A resource r can bind only if Σ_s U_s · max_{o∈O_s} u_{o,r} > C_r; the others can
    never be exceeded and are ignored for reduction and splitting.

Exact dominance reduction (:func:`reduce_dominated`)
    For a stage s in no side constraint (no edge, co-location, spread, budget; and the
    problem has no provider cap or move cap), let F_s be its options using no binding
    resource, sorted by objective f_o, and f*_s the objective of the cheapest prefix of
    F_s whose ``ub`` covers U_s. Any option with f_o ≥ f*_s (other than that prefix) is
    dominated: moving its units to the prefix costs no more and frees capacity. Removing
    dominated options leaves the optimum unchanged.

Restriction (:func:`restrict`)
    Same stages and side constraints, a subset of options, optionally with lowered
    ``ub`` (fixing a stage at the incumbent: only its chosen options, ub = chosen units).

Components (:func:`components`, :func:`subset_stages`)
    Stages are linked when they share a binding resource through any option, or appear
    in one edge, co-location or budget; a provider cap or a move cap links everything.
    Components are independent: the optimum (and any valid lower bound) of the whole is
    the sum over components.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.models.problem import IntArray, Problem

BoolArray = NDArray[np.bool_]


def opt_stage(problem: Problem) -> IntArray:
    """The stage of every option."""
    return np.repeat(np.arange(problem.n_stages, dtype=np.int64), np.diff(problem.stage_ptr))


def unlimited_options(problem: Problem) -> BoolArray:
    """The options that use no limited resource (room for them never runs out)."""
    return np.bincount(problem.use_opt, weights=problem.use_amt,
                       minlength=problem.n_options) == 0


def binding_resources(problem: Problem) -> BoolArray:
    """Resources whose capacity some assignment could exceed."""
    n_res = problem.res_cap.size
    if not problem.use_opt.size:
        return np.zeros(n_res, dtype=np.bool_)
    st = opt_stage(problem)[problem.use_opt]
    key = st * n_res + problem.use_res
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    peak = np.maximum.reduceat(problem.use_amt[order], starts)
    k = key_sorted[starts]
    need = peak * problem.units[k // n_res]
    worst = np.bincount(k % n_res, weights=need.astype(np.float64), minlength=n_res)
    return worst > problem.res_cap


def option_binds(problem: Problem, binding: BoolArray) -> BoolArray:
    """Options that use at least one binding resource."""
    out = np.zeros(problem.n_options, dtype=np.bool_)
    if problem.use_opt.size:
        out[problem.use_opt[binding[problem.use_res]]] = True
    return out


def constrained_stages(problem: Problem) -> BoolArray:
    """Stages in some side constraint (all stages if a global cap is set)."""
    mask = np.zeros(problem.n_stages, dtype=np.bool_)
    if problem.max_share is not None or problem.max_moves is not None:
        mask[:] = True
        return mask
    for s in problem.needs_site_vars():
        mask[s] = True
    for b in problem.budgets:
        mask[b.stages] = True
    return mask


def _option_fields(problem: Problem) -> list[str]:
    n = problem.n_options
    out = []
    for f in dataclasses.fields(problem):
        if not f.name.startswith("opt_"):
            continue
        v = getattr(problem, f.name)
        if isinstance(v, np.ndarray | tuple) and len(v) == n:
            out.append(f.name)
    return out


FEW_OPTIONS = 16
""":func:`restrict` finds the usage rows of its options by binary search when they are
fewer than one in this many (the search on the exact model keeps a few thousand of hard
l's 2.6 M options per neighbourhood: a pass over every row took 46 ms of each)."""


def restrict(problem: Problem, keep: IntArray, ub: IntArray | None = None) -> Problem:
    """The problem with only options ``keep`` (sorted indices), optionally with new upper
    bounds ``ub`` (aligned with ``keep``). Stages, resources, sites and side constraints
    are unchanged."""
    n = problem.n_options
    changes: dict[str, Any] = {}
    for name in _option_fields(problem):
        v = getattr(problem, name)
        changes[name] = v[keep] if isinstance(v, np.ndarray) else tuple(v[i] for i in keep)
    if ub is not None:
        changes["opt_ub"] = ub.astype(np.int64)
    stage = np.searchsorted(problem.stage_ptr, keep, side="right") - 1
    counts = np.bincount(stage, minlength=problem.n_stages)
    ptr = np.zeros(problem.n_stages + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(counts)
    if keep.size * FEW_OPTIONS < n:  # a few options: binary search, not a pass over every row
        rows = problem.rows_of(keep)
        use_opt = np.searchsorted(keep, problem.use_opt[rows])
    else:
        new_index = np.full(n, -1, dtype=np.int64)
        new_index[keep] = np.arange(keep.size)
        rows = np.flatnonzero(new_index[problem.use_opt] >= 0)
        use_opt = new_index[problem.use_opt[rows]]
    changes.update(
        stage_ptr=ptr,
        use_opt=use_opt,
        use_res=problem.use_res[rows],
        use_amt=problem.use_amt[rows],
    )
    return dataclasses.replace(problem, **changes)


def reduce_dominated(problem: Problem) -> IntArray:
    """Indices of the options that survive the exact dominance reduction (sorted)."""
    n = problem.n_options
    if n == 0:
        return np.arange(0, dtype=np.int64)
    st = opt_stage(problem)
    binds = option_binds(problem, binding_resources(problem))
    free_stage = ~constrained_stages(problem)
    # Threshold f*_s: fill the stage's units with its cheapest non-binding options.
    nb = np.flatnonzero(~binds)
    order = nb[np.lexsort((problem.opt_obj[nb], st[nb]))]
    ub = problem.opt_ub[order]
    csum = np.cumsum(ub)
    stage_o = st[order]
    first = np.searchsorted(stage_o, np.arange(problem.n_stages))
    before = np.r_[0, csum][first][stage_o]
    filled_before = csum - before - ub
    in_prefix = filled_before < problem.units[stage_o]
    covered = np.zeros(problem.n_stages, dtype=np.int64)
    np.add.at(covered, stage_o, ub)
    thresh = np.full(problem.n_stages, np.iinfo(np.int64).max, dtype=np.int64)
    ok_stage = covered >= problem.units
    last_of_prefix = order[in_prefix]
    last_obj = np.full(problem.n_stages, -1, dtype=np.int64)
    np.maximum.at(last_obj, st[last_of_prefix], problem.opt_obj[last_of_prefix])
    thresh[ok_stage] = last_obj[ok_stage]
    keep = np.ones(n, dtype=np.bool_)
    dominated = free_stage[st] & (problem.opt_obj >= thresh[st])
    keep &= ~dominated
    keep[last_of_prefix] = True  # the prefix itself stays
    return np.flatnonzero(keep).astype(np.int64)


def components(problem: Problem) -> tuple[int, IntArray]:
    """Number of independent components and the component of every stage."""
    n_s = problem.n_stages
    if n_s == 0:
        return 0, np.zeros(0, dtype=np.int64)
    if problem.max_share is not None or problem.max_moves is not None:
        return 1, np.zeros(n_s, dtype=np.int64)
    binding = binding_resources(problem)
    st = opt_stage(problem)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    # Stage — resource links (resources are nodes n_s .. n_s + R - 1).
    m = binding[problem.use_res]
    rows.append(st[problem.use_opt[m]])
    cols.append(n_s + problem.use_res[m])
    # Edges and co-locations link two stages; budgets link their members to a budget node.
    pairs = [(e.a, e.b) for e in problem.edges] + [(c.a, c.b) for c in problem.colocations]
    if pairs:
        arr = np.array(pairs, dtype=np.int64)
        rows.append(arr[:, 0])
        cols.append(arr[:, 1])
    base = n_s + problem.res_cap.size
    for k, b in enumerate(problem.budgets):
        rows.append(b.stages.astype(np.int64))
        cols.append(np.full(b.stages.size, base + k, dtype=np.int64))
    size = base + len(problem.budgets)
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(r.size), (r, c)), shape=(size, size))
    _n, labels = connected_components(graph, directed=False)
    # Renumber the stage labels 0..k-1 in order of first appearance (deterministic).
    _, first, inverse = np.unique(labels[:n_s], return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    comp = rank[inverse].astype(np.int64)
    return int(comp.max()) + 1, comp


def subset_stages(problem: Problem, stages: IntArray) -> tuple[Problem, IntArray]:
    """The sub-problem of a set of stages closed under side constraints (e.g. a union of
    components), renumbered; also the original indices of its options."""
    stages = np.sort(stages.astype(np.int64))
    new_stage = np.full(problem.n_stages, -1, dtype=np.int64)
    new_stage[stages] = np.arange(stages.size)
    keep = np.flatnonzero(new_stage[opt_stage(problem)] >= 0).astype(np.int64)
    sub = restrict(problem, keep)
    counts = np.diff(sub.stage_ptr)[stages]
    ptr = np.zeros(stages.size + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(counts)
    inside = set(stages.tolist())
    changes: dict[str, Any] = dict(
        n_stages=int(stages.size),
        stage_ptr=ptr,
        units=problem.units[stages],
        edges=tuple(
            dataclasses.replace(e, a=int(new_stage[e.a]), b=int(new_stage[e.b]))
            for e in problem.edges
            if e.a in inside and e.b in inside
        ),
        colocations=tuple(
            dataclasses.replace(c, a=int(new_stage[c.a]), b=int(new_stage[c.b]))
            for c in problem.colocations
            if c.a in inside and c.b in inside
        ),
        budgets=tuple(
            dataclasses.replace(b, stages=new_stage[b.stages])
            for b in problem.budgets
            if (new_stage[b.stages] >= 0).all()
        ),
    )
    if problem.min_sites is not None:
        changes["min_sites"] = problem.min_sites[stages]
    return dataclasses.replace(sub, **changes), keep
