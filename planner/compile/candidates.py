"""Candidates: every feasible (stage, site, offer, purchase option), and why the rest were pruned.

The rules live in :mod:`planner.compile.rules` (one function per rule), screening stages
by them in :mod:`planner.compile.screening`, and pricing in :mod:`planner.compile.pricing`
(one vectorized function for every option of every stage). Options are a table of priced
rows (:class:`~planner.compile.options.OptionTable`) whose :class:`Option` view is built
when indexed. Pruned options keep their rule, reason and (for rules a user could relax)
their priced options, so plans can say why a cheaper site was not taken and the
diagnosis can re-admit them behind assumption literals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from planner.compile.exact import IntArray
from planner.compile.market import Market, gpu_resource, offer_resource
from planner.compile.options import Option, OptionTable, sort_per_stage
from planner.compile.pricing import PriceBook, Rows
from planner.compile.pruned import Pruned, PrunedList
from planner.compile.rules import Rule, StageRef
from planner.compile.screening import Screen, Screener, ScreenKey
from planner.models.portfolio import ColocationLevel, Portfolio, StageKind
from planner.models.world import World
from planner.money import to_micro

__all__ = ["Budget", "Candidates", "Colocation", "Edge", "Option", "Pruned", "PrunedList", "Rule",
           "StageRef", "generate", "gpu_resource", "offer_resource", "stage_refs"]


@dataclass(frozen=True)
class Edge:
    """Data moved from stage ``a``'s site to every site of stage ``b`` (free on the same site)."""

    a: int
    b: int
    gb: Decimal


@dataclass(frozen=True)
class Colocation:
    """Stage ``b`` must share ``level`` (site, country or provider) with stage ``a``."""

    a: int
    b: int
    level: ColocationLevel


@dataclass(frozen=True)
class Budget:
    """A hard cap (micro-dollars) on the real cost of a set of stages."""

    name: str
    stages: tuple[int, ...]
    cap_micro: int


@dataclass
class Candidates:
    """The options per stage, the capacity of every resource, and the side constraints."""

    stages: list[StageRef]
    options: OptionTable
    """Every feasible option, stage by stage, each stage's sorted by objective then names."""
    by_stage: Sequence[range]
    """The options of every stage (a range into ``options``)."""
    pruned: PrunedList
    capacities: dict[str, int] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    colocations: list[Colocation] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    max_provider_share: Decimal | None = None
    max_moves: int | None = None
    previous: dict[int, list[tuple[str, str]]] = field(default_factory=dict)


def stage_refs(portfolio: Portfolio) -> list[StageRef]:
    """All stages of the portfolio in file order."""
    refs: list[StageRef] = []
    for w in portfolio.workloads:
        for st in w.stages:
            refs.append(StageRef(len(refs), w, st))
    return refs


def _side_constraints(portfolio: Portfolio, refs: list[StageRef], cands: Candidates) -> None:
    """Pipeline edges, co-location and budgets from the portfolio."""
    by_key = {r.key: r.index for r in refs}
    for r in refs:
        w, st = r.workload, r.stage
        train = w.training()
        if (train is not None and st.kind is not StageKind.TRAINING and w.model.size_gb > 0):
            cands.edges.append(Edge(by_key[f"{w.id}/{train.label}"], r.index, w.model.size_gb))
        if st.colocate is not None:
            cands.colocations.append(Colocation(by_key[f"{w.id}/{st.colocate.stage}"], r.index,
                                                st.colocate.level))
    settings = portfolio.settings
    if settings.budget_usd is not None:
        cands.budgets.append(Budget("total", tuple(r.index for r in refs),
                                    to_micro(settings.budget_usd)))
    for team, cap in sorted(settings.team_budgets.items()):
        cands.budgets.append(Budget(f"team:{team}", tuple(r.index for r in refs
                                                          if r.workload.team == team),
                                    to_micro(cap)))
    cands.max_provider_share = settings.max_provider_share
    cands.max_moves = settings.max_moves


def generate(portfolio: Portfolio, world: World, *,
             previous: dict[str, list[tuple[str, str]]] | None = None,
             keep_pruned_options: bool = True) -> Candidates:
    """Every feasible option per stage (sorted by objective, then names), every pruned one,
    and the side constraints. ``previous`` maps a stage key (``workload/stage``) to the
    (site, offer) pairs it used in the previous plan. With ``keep_pruned_options`` the
    options pruned by a relaxable rule are priced too (for explanations and diagnosis).

    Every stage is screened by the rules (:mod:`planner.compile.screening`, memoized per
    what the rules read) and all feasible options of all stages are priced at once as
    arrays (:mod:`planner.compile.pricing`); :class:`Option` objects are built only when
    indexed. The options of pruned records are priced by the same function when a
    stage's records are asked for."""
    refs = stage_refs(portfolio)
    prev_by_index = {r.index: previous[r.key] for r in refs if previous and r.key in previous}
    market = Market(world)
    book = PriceBook(portfolio, world, market, refs, prev_by_index)
    screener = Screener(world, market, portfolio.settings, keep_pruned_options)
    screens = [screener.screen(screener.key(ref)) for ref in refs]
    counts: Counter[str] = Counter()
    for key, k in Counter(s.key for s in screens).items():
        for rule, n in screener.screens[key].counts.items():
            counts[rule] += n * k
    options = OptionTable.priced(book, _stage_rows(screens, lambda s: s.feasible))
    sort_per_stage(options, market.order())
    p = _ptr(options.rows.stage, len(refs)).tolist()
    by_stage = [range(p[s], p[s + 1]) for s in range(len(refs))]
    pruned = PrunedList(book, refs, screens, counts)
    cands = Candidates(refs, options, by_stage, pruned, market.capacities)
    cands.previous = prev_by_index
    _side_constraints(portfolio, refs, cands)
    return cands


def _ptr(stage: IntArray, n_stages: int) -> IntArray:
    """Start of every stage's rows (rows sorted by stage), and the end."""
    ptr = np.zeros(n_stages + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(stage, minlength=n_stages))
    return ptr


def _stage_rows(screens: list[Screen], part: Callable[[Screen], tuple[IntArray, ...]]) -> Rows:
    """The rows ``part`` of every stage's screen, stage by stage (screens are shared by
    similar stages: their rows are laid out once, then gathered per stage)."""
    first: dict[ScreenKey, int] = {}
    tables: list[tuple[IntArray, ...]] = []
    which = np.zeros(len(screens), dtype=np.int64)
    for s, screen in enumerate(screens):
        k = first.get(screen.key)
        if k is None:
            k = first[screen.key] = len(tables)
            tables.append(part(screen))
        which[s] = k
    if not tables:
        return Rows.concat([])
    sizes = np.array([len(t[0]) for t in tables], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    cols = [np.concatenate([t[c] for t in tables]) for c in range(4)]
    lengths = sizes[which]
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    idx = np.repeat(starts[which] - (ends - lengths), lengths) + np.arange(total)
    stage = np.repeat(np.arange(len(screens), dtype=np.int64), lengths)
    return Rows(stage, *(c[idx] for c in cols))
