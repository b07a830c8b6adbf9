"""Candidates: every feasible (stage, site, offer, purchase option), and why the rest were pruned.

The rules live in :mod:`planner.compile.rules` (one function per rule) and pricing in
:mod:`planner.compile.pricing`. Pruned options keep their rule, reason and (for rules a
user could relax) their priced options, so plans can say why a cheaper site was
not taken and the diagnosis can re-admit them behind assumption literals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import overload

from planner.compile.pricing import (
    Option,
    capacities,
    fixed_flows_micro,
    gpu_resource,
    instances_per_unit,
    max_units,
    offer_resource,
    price_options,
)
from planner.compile.rules import OFFER_RULES, SITE_RULES, Rule, StageRef, rule_group
from planner.models.portfolio import ColocationLevel, Portfolio, StageKind
from planner.models.world import Offer, Site, World
from planner.money import to_micro

__all__ = ["Budget", "Candidates", "Colocation", "Edge", "Option", "Pruned", "PrunedList", "Rule",
           "StageRef", "generate", "gpu_resource", "offer_resource", "stage_refs"]


@dataclass(frozen=True)
class Pruned:
    """Options ruled out before solving, with the rule, a plain-words reason, the rule
    group a user could relax (empty for hardware facts) and the priced options."""

    stage: int
    site_id: str
    offer_id: str | None
    rule: Rule
    reason: str
    groups: tuple[str, ...] = ()
    """Every relaxable rule instance that must be dropped to admit these options."""
    options: tuple[Option, ...] = ()


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
    options: Sequence[Option]
    """A list, or :class:`~planner.compile.candidates_fast.LazyOptions` in large-portfolio mode."""
    by_stage: Sequence[Sequence[int]]
    pruned: Sequence[Pruned]
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


SiteInfo = tuple[tuple[Rule, str], ...]
"""The site rules a stage breaks at one site (empty: allowed)."""
OfferInfo = tuple[Rule, str] | tuple[int, int | None, str]
"""Per offer: the hardware rule it breaks, or (instances per unit, units that fit, resource)."""


@dataclass
class _Context:
    """What every stage's pass reads: the world, capacities and the memoized rule results."""

    portfolio: Portfolio
    world: World
    caps: dict[str, int]
    sites: list[Site]
    offers_at: dict[str, list[Offer]]
    keep_pruned_options: bool
    previous: dict[int, list[tuple[str, str]]]


def _site_key(ref: StageRef) -> tuple[object, ...]:
    """Everything the site rules read from a stage (the workload id only where a reason
    names it)."""
    r, pl, st = ref.residency, ref.workload.placement, ref.stage
    named = bool(r.sites or pl.exclude_sites or pl.exclude_providers)
    return (r.model_dump_json(), pl.model_dump_json(),
            st.latency.model_dump_json() if st.latency else None,
            ref.workload.id if named else None)


def _offer_key(ref: StageRef) -> tuple[object, ...]:
    """Everything the hardware rules, instance count and fit read from a stage."""
    st = ref.stage
    return (st.gpu.model_dump_json() if st.gpu else None, st.vcpus, st.memory_gib,
            st.splittable, st.replicas)


def _site_infos(ctx: _Context, ref: StageRef) -> list[SiteInfo]:
    return [tuple((rule, r) for rule, check in SITE_RULES if (r := check(ref, site, ctx.world)))
            for site in ctx.sites]


def _offer_infos(ctx: _Context, ref: StageRef) -> list[list[OfferInfo]]:
    out: list[list[OfferInfo]] = []
    for site in ctx.sites:
        row: list[OfferInfo] = []
        for offer in ctx.offers_at[site.id]:
            hard = next(((rule, r) for rule, check in OFFER_RULES
                         if (r := check(ref.stage, offer))), None)
            if hard:
                row.append(hard)
                continue
            n = instances_per_unit(ref, offer)
            fit, resource = max_units(ctx.world, offer, n)
            row.append((n, fit, resource))
        out.append(row)
    return out


def _stage_pass(ctx: _Context, ref: StageRef, site_infos: list[SiteInfo],
                offer_infos: list[list[OfferInfo]], *, options: list[Option] | None = None,
                pruned: list[Pruned] | None = None, counts: Counter[str] | None = None,
                priced_only: bool = False) -> None:
    """One stage over every site and offer, in world order: its options go to ``options``,
    its pruned options to ``pruned`` (only those carrying priced options with
    ``priced_only``) and their rules to ``counts`` — each only when given."""
    prev = ctx.previous.get(ref.index)
    want_all = pruned is not None and not priced_only
    out: list[Pruned] = pruned if pruned is not None else []
    opts: list[Option] = options if options is not None else []
    units = ref.units
    for site, reasons, infos in zip(ctx.sites, site_infos, offer_infos, strict=True):
        flows: int | None = None
        if reasons and not ctx.keep_pruned_options:
            if counts is not None:
                counts[reasons[0][0].value] += 1
            if want_all:
                groups = tuple(rule_group(rule, ref) for rule, _ in reasons)
                out.append(Pruned(ref.index, site.id, None, *reasons[0], groups))
            continue
        for offer, info in zip(ctx.offers_at[site.id], infos, strict=True):
            if isinstance(info[0], Rule):
                if counts is not None:
                    counts[info[0].value] += 1
                if want_all:
                    out.append(Pruned(ref.index, site.id, offer.id, info[0], str(info[1])))
                continue
            n, fit, resource = info
            units_cap = units if fit is None else min(fit, units)
            blocked = bool(reasons) or units_cap < 1
            if blocked and counts is not None:
                counts[(reasons[0][0] if reasons else Rule.CONCURRENCY).value] += 1
            if (blocked and pruned is None) or (not blocked and options is None):
                continue
            if flows is None:
                flows = fixed_flows_micro(ctx.world, ref, site)
            priced = price_options(ctx.world, ctx.portfolio, ref, site, offer, ctx.caps, prev,
                            max(units_cap, 1), n, flows)
            if not blocked:
                opts.extend(priced)
                continue
            why = list(reasons)
            more = tuple(rule_group(rule, ref) for rule, _ in reasons)
            if units_cap < 1:
                more += (f"capacity:{resource}",)
                why.append((Rule.CONCURRENCY, f"needs {n} × {offer.id} at once; "
                            f"{resource.split(':', 1)[1]} does not hold that many"))
            out.append(Pruned(ref.index, site.id, offer.id, *why[0], more, tuple(priced)))


class PrunedList(Sequence[Pruned]):
    """The pruned options of every stage, in generation order.

    Large portfolios prune millions of (stage, site, offer) triples, so they are not kept
    as objects: each stage keeps references to the memoized rule results it shares with
    similar stages, and its :class:`Pruned` records are rebuilt on demand (iteration,
    :meth:`of_stage`). Counts per rule are kept at generation.
    """

    def __init__(self, ctx: _Context) -> None:
        self._ctx = ctx
        self._stages: list[tuple[StageRef, list[SiteInfo], list[list[OfferInfo]]]] = []
        self._counts: Counter[str] = Counter()

    def _add(self, ref: StageRef, site_infos: list[SiteInfo],
             offer_infos: list[list[OfferInfo]]) -> None:
        self._stages.append((ref, site_infos, offer_infos))

    def of_stage(self, stage: int, *, priced_only: bool = False) -> list[Pruned]:
        """The pruned options of one stage (with ``priced_only``, those carrying options)."""
        ref, site_infos, offer_infos = self._stages[stage]
        out: list[Pruned] = []
        _stage_pass(self._ctx, ref, site_infos, offer_infos, pruned=out,
                    priced_only=priced_only)
        return out

    def counts(self) -> Counter[str]:
        """Pruned options per rule."""
        return Counter(self._counts)

    def __len__(self) -> int:
        return sum(self._counts.values())

    def __iter__(self) -> Iterator[Pruned]:
        for s in range(len(self._stages)):
            yield from self.of_stage(s)

    @overload
    def __getitem__(self, i: int) -> Pruned: ...

    @overload
    def __getitem__(self, i: slice) -> list[Pruned]: ...

    def __getitem__(self, i: int | slice) -> Pruned | list[Pruned]:
        return list(self)[i]


def generate(portfolio: Portfolio, world: World, *,
             previous: dict[str, list[tuple[str, str]]] | None = None,
             keep_pruned_options: bool = True) -> Candidates:
    """Every feasible option per stage (sorted by objective, then names), every pruned one,
    and the side constraints. ``previous`` maps a stage key (``workload/stage``) to the
    (site, offer) pairs it used in the previous plan. With ``keep_pruned_options`` the
    options pruned by a relaxable rule are priced too (for explanations and diagnosis).

    Rule results are memoized per stage signature (what the site rules and the hardware
    rules read from a stage), so each rule runs once per (signature, site or offer).
    Without ``keep_pruned_options`` and ``previous`` (large-portfolio mode) the options are
    priced as arrays (:mod:`planner.compile.candidates_fast`): the same options in the same order,
    ``Option`` objects built only when indexed."""
    refs = stage_refs(portfolio)
    offers_at: dict[str, list[Offer]] = {sid: [] for sid in world.sites}
    for o in world.offers:
        offers_at[o.site_id].append(o)
    prev_by_index = {r.index: previous[r.key] for r in refs if previous and r.key in previous}
    ctx = _Context(portfolio, world, capacities(world),
                   [s for s in world.sites.values() if offers_at[s.id]], offers_at,
                   keep_pruned_options, prev_by_index)
    pruned = PrunedList(ctx)
    site_memo: dict[tuple[object, ...], list[SiteInfo]] = {}
    offer_memo: dict[tuple[object, ...], list[list[OfferInfo]]] = {}
    keys: list[tuple[tuple[object, ...], tuple[object, ...]]] = []
    for ref in refs:
        sk, ok = _site_key(ref), _offer_key(ref)
        if sk not in site_memo:
            site_memo[sk] = _site_infos(ctx, ref)
        if ok not in offer_memo:
            offer_memo[ok] = _offer_infos(ctx, ref)
        pruned._add(ref, site_memo[sk], offer_memo[ok])
        keys.append((sk, ok))
    if not keep_pruned_options and not prev_by_index:
        # Large-portfolio mode: options priced as arrays, Option objects built on demand.
        from planner.compile.candidates_fast import generate_arrays

        def count_pass(ref: StageRef, counts: Counter[str]) -> None:
            sk, ok = keys[ref.index]
            _stage_pass(ctx, ref, site_memo[sk], offer_memo[ok], counts=counts)

        lazy, ranges = generate_arrays(ctx, refs, keys, site_memo, offer_memo,
                                       pruned._counts, count_pass)
        cands = Candidates(refs, lazy, ranges, pruned, ctx.caps)
    else:
        options: list[Option] = []
        by_stage: list[list[int]] = []
        for ref, (sk, ok) in zip(refs, keys, strict=True):
            mine: list[Option] = []
            _stage_pass(ctx, ref, site_memo[sk], offer_memo[ok], options=mine,
                        counts=pruned._counts)
            mine.sort(key=lambda o: (o.objective_micro, o.site_id, o.offer_id,
                                     o.purchase.value))
            by_stage.append(list(range(len(options), len(options) + len(mine))))
            options.extend(mine)
        cands = Candidates(refs, options, by_stage, pruned, ctx.caps)
    cands.previous = prev_by_index
    _side_constraints(portfolio, refs, cands)
    return cands
