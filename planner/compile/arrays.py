"""Candidates → :class:`~planner.models.problem.Problem` arrays (the last step of compiling)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from planner.compile.candidates import Candidates, Option
from planner.compile.candidates_fast import LazyOptions
from planner.models.portfolio import ColocationLevel
from planner.models.problem import IntArray, PBudget, PColoc, PEdge, Problem
from planner.models.world import SiteKind, World
from planner.money import cost_micro


def _site_groups(level: ColocationLevel, sites: list[str], country: dict[str, str],
                 provider: dict[str, str]) -> IntArray:
    if level is ColocationLevel.SITE:
        keys = sites
    elif level is ColocationLevel.COUNTRY:
        keys = [country[s] for s in sites]
    else:
        keys = [provider[s] for s in sites]
    index = {k: i for i, k in enumerate(sorted(set(keys)))}
    return np.array([index[k] for k in keys], dtype=np.int64)


def build_problem(cands: Candidates, world: World, *, include_pruned: bool = False) -> Problem:
    """Arrays from candidates. With ``include_pruned`` the options pruned by relaxable rules
    are added too, each tagged with the rule groups that forbid it (for the diagnosis)."""
    if include_pruned:
        per_stage: list[list[tuple[Option, tuple[str, ...]]]] = [
            [(cands.options[i], ()) for i in opts] for opts in cands.by_stage]
        for p in cands.pruned:
            if p.groups:
                per_stage[p.stage].extend((o, p.groups) for o in p.options)
        flat = [pair for lst in per_stage for pair in lst]
        options = [o for o, _ in flat]
        counts = [len(lst) for lst in per_stage]
    elif isinstance(cands.options, LazyOptions):  # large-portfolio mode: already arrays
        return _build(cands, world, *_lazy_columns(cands.options))
    else:  # options are already grouped by stage, in stage order
        options = [cands.options[i] for opts in cands.by_stage for i in opts]
        counts = [len(opts) for opts in cands.by_stage]
    site_names = sorted({o.site_id for o in options})
    site_index = {s: i for i, s in enumerate(site_names)}
    res_index = {name: i for i, name in enumerate(sorted(cands.capacities))}
    # One pass over the options (the only per-option Python loop), then numpy.
    rows = []
    use_opt, use_res, use_amt = [], [], []
    for i, o in enumerate(options):
        rows.append((o.compute_micro, o.egress_micro, o.migration_micro, o.risk_micro,
                     o.preference_micro, o.max_units, site_index[o.site_id], o.moved))
        for name, amount in o.usage:
            use_opt.append(i)
            use_res.append(res_index[name])
            use_amt.append(amount)
    cols = np.array(rows, dtype=np.int64).reshape(len(rows), 8).T
    uses = (np.array(use_opt, dtype=np.int64), np.array(use_res, dtype=np.int64),
            np.array(use_amt, dtype=np.int64))
    return _build(cands, world, counts, site_names, cols, uses,
                  tuple(g for _, g in flat) if include_pruned else None)


def _lazy_columns(lazy: LazyOptions) -> tuple[list[int], list[str], IntArray,
                                              tuple[IntArray, IntArray, IntArray], None]:
    """The per-option columns of :func:`build_problem` straight from the arrays."""
    c = lazy.cols
    n = len(lazy)
    counts = np.diff(lazy.ptr).tolist()
    ids = lazy.site_ids()
    used = np.unique(c["triple"]) if n else np.zeros(0, dtype=np.int64)
    site_names = sorted({ids[t] for t in used.tolist()})
    index = {s: i for i, s in enumerate(site_names)}
    tsite = np.array([index.get(s, -1) for s in ids], dtype=np.int64)
    zero = np.zeros(n, dtype=np.int64)
    cols = np.stack([c["compute"], c["egress"], zero, c["risk"], c["pref"], c["ub"],
                     tsite[c["triple"]] if n else zero, zero])
    opt = np.arange(n, dtype=np.int64)
    has1, has2 = c["res1"] >= 0, c["res2"] >= 0
    o = np.concatenate([opt[has1], opt[has2]])
    which = np.concatenate([np.zeros(int(has1.sum()), dtype=np.int64),
                            np.ones(int(has2.sum()), dtype=np.int64)])
    order = np.lexsort((which, o))
    res = np.concatenate([c["res1"][has1], c["res2"][has2]])[order]
    amt = np.concatenate([c["amt1"][has1], c["amt2"][has2]])[order]
    return counts, site_names, cols, (o[order], res, amt), None


def _build(cands: Candidates, world: World, counts: list[int], site_names: list[str],
           cols: IntArray, uses: tuple[IntArray, IntArray, IntArray],
           groups: tuple[tuple[str, ...], ...] | None) -> Problem:
    """The Problem from per-option columns (compute, egress, migration, risk, preference,
    max units, site index, moved) and the sparse usage (option, resource, amount)."""
    n_stages = len(counts)
    ptr = np.zeros(n_stages + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(counts)
    res_names = tuple(sorted(cands.capacities))
    compute, egress, migration, risk, pref, max_units, opt_site, moved_int = cols
    moved = moved_int.astype(np.bool_)
    opt_cost = compute + egress + migration
    stage_of = np.repeat(np.arange(n_stages, dtype=np.int64), counts)
    country = {s: world.sites[s].country for s in site_names}
    provider = {s: world.sites[s].provider for s in site_names}
    units = np.array([r.units for r in cands.stages], dtype=np.int64)

    def arr(values: list[int]) -> IntArray:
        return np.array(values, dtype=np.int64)

    edges = []
    for e in cands.edges:
        sa = np.unique(opt_site[ptr[e.a]:ptr[e.a + 1]]).tolist()
        sb = np.unique(opt_site[ptr[e.b]:ptr[e.b + 1]]).tolist()
        cost = {}
        for i in sa:
            for j in sb:
                if i != j:
                    src, dst = world.sites[site_names[i]], world.sites[site_names[j]]
                    c = cost_micro(src.egress_per_gb_to(dst), e.gb)
                    if c:
                        cost[(i, j)] = c
        edges.append(PEdge(e.a, e.b, cost))
    colocs = tuple(
        PColoc(c.a, c.b, _site_groups(c.level, site_names, country, provider),
               f"colocation:{cands.stages[c.b].key}")
        for c in cands.colocations)
    budgets = tuple(PBudget(f"budget:{b.name}", arr(list(b.stages)), b.cap_micro)
                    for b in cands.budgets)
    share = (Fraction(cands.max_provider_share) if cands.max_provider_share is not None
             else None)
    return Problem(
        n_stages=n_stages, stage_ptr=ptr, units=units,
        opt_cost=opt_cost, opt_obj=opt_cost + risk + pref, opt_compute=compute,
        opt_ub=np.minimum(max_units, units[stage_of]), opt_site=opt_site, opt_moved=moved,
        use_opt=uses[0], use_res=uses[1], use_amt=uses[2],
        res_cap=arr([cands.capacities[n] for n in res_names]), res_names=res_names,
        site_names=tuple(site_names), site_provider=tuple(provider[s] for s in site_names),
        site_cloud=tuple(world.sites[s].kind is SiteKind.CLOUD for s in site_names),
        min_sites=arr([r.stage.min_sites for r in cands.stages]),
        edges=tuple(edges), colocations=colocs, budgets=budgets, max_share=share,
        max_moves=cands.max_moves,
        opt_groups=groups,
        stage_keys=tuple(r.key for r in cands.stages),
    )
