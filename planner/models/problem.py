"""The placement problem as arrays: what the compiler produces and every solver consumes.

Built by :func:`planner.compile.arrays.build_problem`; solved by the backends of
:mod:`planner.solvers`, which see nothing of portfolios, catalogs or candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]


def rows_in(row_opt: IntArray, options: IntArray) -> IntArray:
    """The rows whose option (``row_opt``, sorted) is one of ``options`` (sorted), in
    order: each option's rows are one run, found by binary search, so the cost grows with
    the options asked, not with the rows."""
    lo = np.searchsorted(row_opt, options)
    return runs(lo, np.searchsorted(row_opt, options, side="right") - lo)


def runs(lo: IntArray, counts: IntArray) -> IntArray:
    """The positions ``lo[i] .. lo[i] + counts[i] - 1`` of every run ``i``, concatenated."""
    return np.repeat(lo - np.cumsum(counts) + counts, counts) \
        + np.arange(int(counts.sum()), dtype=np.int64)


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
        return self.cost_of_edges(x, [e for e in self.edges if into is None or e.b in into])

    def cost_of_edges(self, x: IntArray, edges: Iterable[PEdge]) -> int:
        """Egress of the pipeline edges ``edges`` for an assignment ``x``."""
        total = 0
        for e in edges:
            sites_a = self.sites_used(x, e.a)
            sites_b = self.sites_used(x, e.b)
            if len(sites_a) != 1:
                continue
            i = next(iter(sites_a))
            total += sum(e.cost.get((i, j), 0) for j in sites_b)
        return total

    def placed_stages(self, x: IntArray) -> NDArray[np.bool_]:
        """Per stage, whether ``x`` places any unit of it."""
        out = np.zeros(self.n_stages, dtype=np.bool_)
        out[np.searchsorted(self.stage_ptr, np.flatnonzero(x > 0), side="right") - 1] = True
        return out

    def placed_rows(self, x: IntArray) -> IntArray:
        """The usage rows of the options ``x`` places, in order."""
        return self.rows_of(np.flatnonzero(x))

    def rows_of(self, options: IntArray) -> IntArray:
        """The usage rows of ``options`` (sorted indices), in order."""
        return rows_in(self.use_opt, options)

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
