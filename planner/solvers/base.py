"""The solver interface: a placement problem as arrays in, units per option out.

Solver types never leave ``planner.solvers``: backends take a :class:`Problem`
and return a :class:`Solution`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from planner.candidates import Candidates, Option
from planner.candidates_fast import LazyOptions
from planner.models.portfolio import ColocationLevel
from planner.models.status import SolveStatus
from planner.models.world import World
from planner.money import cost_micro
from planner.solvers.options import (
    Deadline,
    SolveOptions,
    SolverError,
    default_workers,
    process_age_s,
)

__all__ = ["Backend", "Deadline", "Problem", "Solution", "SolveOptions", "SolveStatus",
           "SolverError", "build_problem", "default_workers", "process_age_s"]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class PEdge:
    """Egress between stage ``a`` and every site of stage ``b``: ``cost[(i, j)]`` micro-dollars
    when ``a`` runs at site index ``i`` and ``b`` uses site index ``j`` (0 when i == j)."""

    a: int
    b: int
    cost: dict[tuple[int, int], int]


@dataclass(frozen=True)
class PColoc:
    """Every site of stage ``b`` must share a group (site, country or provider) with a site
    of stage ``a``; ``group[j]`` is the group of site index ``j``."""

    a: int
    b: int
    group: IntArray
    name: str


@dataclass(frozen=True)
class PBudget:
    name: str
    stages: IntArray
    cap: int


@dataclass(frozen=True)
class Problem:
    """A placement problem as arrays.

    Options of stage ``s`` are ``stage_ptr[s] .. stage_ptr[s+1]-1`` (contiguous). Stage ``s``
    places ``units[s]`` units; option ``o`` takes 0..``opt_ub[o]`` of them. Per unit, option
    ``o`` costs ``opt_cost[o]`` (real) and ``opt_obj[o]`` (objective) micro-dollars and
    uses ``use_amt[k]`` milli-unit-hours of resource ``use_res[k]`` where ``use_opt[k] == o``
    (sparse), against capacity ``res_cap``. Side constraints: pipeline egress edges,
    co-location, spread over ``min_sites``, budgets, provider concentration, move cap.
    ``opt_groups`` (diagnosis only) names the relaxable rules that forbid an option.

    Funding (partial plans, :mod:`planner.solvers.funding`): with ``group_reward`` set,
    stage ``s`` belongs to workload ``stage_group[s]``, and a workload is either placed
    whole or not at all; placing workload ``w`` earns ``group_reward[w]`` (subtracted from
    the objective). Without it every stage must be placed.
    """

    n_stages: int
    stage_ptr: IntArray
    units: IntArray
    opt_cost: IntArray
    opt_obj: IntArray
    opt_compute: IntArray
    opt_ub: IntArray
    opt_site: IntArray
    opt_moved: NDArray[np.bool_]
    use_opt: IntArray
    use_res: IntArray
    use_amt: IntArray
    res_cap: IntArray
    res_names: tuple[str, ...]
    site_names: tuple[str, ...] = ()
    site_provider: tuple[str, ...] = ()
    site_cloud: tuple[bool, ...] = ()
    min_sites: IntArray | None = None
    edges: tuple[PEdge, ...] = ()
    colocations: tuple[PColoc, ...] = ()
    budgets: tuple[PBudget, ...] = ()
    max_share: Fraction | None = None
    max_moves: int | None = None
    opt_groups: tuple[tuple[str, ...], ...] | None = None
    stage_keys: tuple[str, ...] = ()
    stage_group: IntArray | None = None
    group_reward: IntArray | None = None
    group_names: tuple[str, ...] = ()

    @property
    def n_options(self) -> int:
        return int(self.opt_cost.shape[0])

    def options_of(self, stage: int) -> range:
        return range(int(self.stage_ptr[stage]), int(self.stage_ptr[stage + 1]))

    def needs_site_vars(self) -> set[int]:
        """Stages whose set of sites matters to a side constraint."""
        out = {e.a for e in self.edges} | {e.b for e in self.edges}
        out |= {c.a for c in self.colocations} | {c.b for c in self.colocations}
        if self.min_sites is not None:
            out |= {int(s) for s in np.flatnonzero(self.min_sites > 1)}
        return out

    @property
    def funding(self) -> bool:
        """Workloads may be left out (see the class docstring)."""
        return self.group_reward is not None

    def funded(self, x: IntArray) -> list[bool]:
        """Per workload (funding only): every stage of it places units."""
        assert self.stage_group is not None and self.group_reward is not None
        total = np.concatenate([[0], np.cumsum(x)])
        placed = total[self.stage_ptr[1:]] - total[self.stage_ptr[:-1]]
        out = [True] * int(self.group_reward.size)
        for s in range(self.n_stages):
            if placed[s] == 0:
                out[int(self.stage_group[s])] = False
        return out

    def reward(self, x: IntArray) -> int:
        """Σ of the rewards of the funded workloads (0 without funding)."""
        if self.group_reward is None:
            return 0
        return sum(int(r) for r, f in zip(self.group_reward.tolist(), self.funded(x),
                                          strict=True) if f)

    def trivial_bound(self) -> int:
        """Σ over stages of units × the cheapest objective per unit: ignores capacity and
        every side constraint (all of which only add cost), so it is a valid lower bound.
        With funding, each workload adds the smaller of 0 (left out) and its cheapest cost
        minus its reward (a workload with a stage without options is always left out)."""
        if self.n_stages == 0:
            return 0
        counts = np.diff(self.stage_ptr)
        cheapest = np.zeros(self.n_stages, dtype=np.int64)
        nz = counts > 0
        if nz.any():
            cheapest[nz] = np.minimum.reduceat(self.opt_obj, self.stage_ptr[:-1][nz])
        if self.group_reward is None:
            return 0 if (counts == 0).any() else int((cheapest * self.units).sum())
        assert self.stage_group is not None
        per = [0] * int(self.group_reward.size)
        possible = [True] * len(per)
        for s in range(self.n_stages):
            g = int(self.stage_group[s])
            per[g] += int(cheapest[s]) * int(self.units[s])
            possible[g] = possible[g] and bool(nz[s])
        return sum(min(0, c - int(r)) for c, r, ok in
                   zip(per, self.group_reward.tolist(), possible, strict=True) if ok)

    def edge_cost(self, x: IntArray, into: set[int] | None = None) -> int:
        """Egress of the pipeline edges (into the stages ``into``, default all) for an
        assignment ``x`` (units per option)."""
        total = 0
        for e in self.edges:
            if into is not None and e.b not in into:
                continue
            sites_a = self.sites_used(x, e.a)
            sites_b = self.sites_used(x, e.b)
            if len(sites_a) != 1:
                continue
            i = next(iter(sites_a))
            total += sum(e.cost.get((i, j), 0) for j in sites_b)
        return total

    def sites_used(self, x: IntArray, stage: int) -> set[int]:
        r = self.options_of(stage)
        return {int(self.opt_site[o]) for o in r if x[o] > 0}

    def real_cost(self, x: IntArray, stages: set[int]) -> int:
        """Real cost (no spot risk or preference surcharge) of some stages, edges included."""
        total = 0
        for st in stages:
            r = self.options_of(st)
            total += int((self.opt_cost[r.start:r.stop] * x[r.start:r.stop]).sum())
        return total + self.edge_cost(x, stages)

    def objective(self, x: IntArray) -> int:
        """Objective cost of ``x``, minus the rewards of the funded workloads."""
        return int((self.opt_obj * x).sum()) + self.edge_cost(x) - self.reward(x)


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
        site_cloud=tuple(not s.startswith("onprem:") for s in site_names),
        min_sites=arr([r.stage.min_sites for r in cands.stages]),
        edges=tuple(edges), colocations=colocs, budgets=budgets, max_share=share,
        max_moves=cands.max_moves,
        opt_groups=groups,
        stage_keys=tuple(r.key for r in cands.stages),
    )


@dataclass
class Solution:
    """A backend's answer: units per option (all zero where there is no solution)."""

    backend: str
    status: SolveStatus
    x: IntArray
    objective: int | None
    bound: int | None
    solve_time_s: float
    detail: str = ""
    stats: dict[str, float] = field(default_factory=dict)


class Backend(Protocol):
    """What every solver backend offers."""

    name: str
    proves_optimality: bool
    supports_funding: bool
    """Handles :attr:`Problem.funding` (workloads that may be left out, partial plans)."""

    def solve(self, problem: Problem, options: SolveOptions) -> Solution: ...
