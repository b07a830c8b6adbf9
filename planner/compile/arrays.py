"""Candidates → :class:`~planner.models.problem.Problem` arrays (the last step of compiling)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from planner.compile.candidates import Candidates
from planner.compile.exact import BoolArray
from planner.compile.options import OptionTable
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
    are added too (after each stage's feasible ones), each tagged with the rule groups
    that forbid it (for the diagnosis)."""
    table = cands.options
    counts = [len(r) for r in cands.by_stage]
    groups: tuple[tuple[str, ...], ...] | None = None
    if include_pruned:
        table, counts, groups = with_pruned(cands)
    return _build(cands, world, counts, *_columns(table), groups)


def with_pruned(cands: Candidates) -> tuple[OptionTable, list[int], tuple[tuple[str, ...], ...]]:
    """The options of the diagnosis problem: each stage's feasible options, then those the
    relaxable rules pruned; the options per stage; the rule groups forbidding each."""
    table = cands.options
    counts = [len(r) for r in cands.by_stage]
    parts: list[OptionTable] = []
    tags: list[tuple[str, ...]] = []
    for s, r in enumerate(cands.by_stage):
        extra, extra_tags = cands.pruned.relaxable(s)
        parts += [table.take(np.arange(r.start, r.stop, dtype=np.int64)), extra]
        tags += [()] * len(r) + extra_tags
        counts[s] += len(extra)
    return OptionTable.concat(table.book, parts), counts, tuple(tags)


def _columns(table: OptionTable) -> tuple[list[str], tuple[IntArray, ...], BoolArray,
                                          tuple[IntArray, IntArray, IntArray]]:
    """The names of the sites options use, the per-option columns of :func:`_build`,
    whether each option moves, and the sparse capacity use (option, resource, amount), in
    option order. The columns are the table's own arrays where they can be (no stacked
    copy: at hard xl's 31 M options a stack of eight columns held 2 GiB for as long as the
    problem lived, through views into it, and the arrays took 20 s to build instead of 5)."""
    market, r, p = table.book.market, table.rows, table.prices
    site = table.site_index()
    used = np.unique(site)
    site_names = sorted(market.sites[i].id for i in used.tolist())
    index = np.full(len(market.sites), -1, dtype=np.int64)
    index[used] = [site_names.index(market.sites[i].id) for i in used.tolist()]
    cols = (p.compute, p.egress, p.migration, p.risk, p.pref, r.ub, index[site])
    res_offer, res_gpu = market.offer_res[r.offer], market.gpu_res[r.offer]
    has_offer, has_gpu = res_offer >= 0, res_gpu >= 0
    per_option = has_offer.astype(np.int64) + has_gpu
    first = np.cumsum(per_option) - per_option  # each option's first usage row
    total = int(per_option.sum())
    opt = np.repeat(np.arange(len(table), dtype=np.int64), per_option)
    res, amt = np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64)
    at = first[has_offer]
    res[at], amt[at] = res_offer[has_offer], p.use_offer[has_offer]
    at = first[has_gpu] + has_offer[has_gpu]
    res[at], amt[at] = res_gpu[has_gpu], p.use_gpu[has_gpu]
    return site_names, cols, p.moved, (opt, res, amt)


def _build(cands: Candidates, world: World, counts: list[int], site_names: list[str],
           cols: tuple[IntArray, ...], moved: BoolArray,
           uses: tuple[IntArray, IntArray, IntArray],
           groups: tuple[tuple[str, ...], ...] | None) -> Problem:
    """The Problem from per-option columns (compute, egress, migration, risk, preference,
    max units, site index), whether it moves and the sparse usage (option, resource, amount)."""
    n_stages = len(counts)
    ptr = np.zeros(n_stages + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(counts)
    res_names = tuple(sorted(cands.capacities))
    compute, egress, migration, risk, pref, max_units, opt_site = cols
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
