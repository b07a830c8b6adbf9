"""Pricing options: instances, run hours, integer costs and capacity usage per unit.

Units: a stage is placed in ``units`` — 1 for most stages, one per replica for
inference stages whose replicas may be split over sites. An option runs
``instances`` instances per unit (its replicas × the nodes each runs on at once,
:func:`instances_per_unit`) for ``hours`` hours each (training and testing
hours are the stage's reference hours divided by the GPU's relative speed;
inference hours are per planning period). Per unit it consumes
``instances × hours`` instance-hours of its (site, offer) and
``instances × gpus × hours`` GPU-hours of its (site, GPU model), counted in
milli-unit-hours (rounded up). Money per unit is integer micro-dollars:

* compute      = price(offer, purchase) × instances × hours
* spot risk    = price × ``spot_risk_uplift`` × instances × hours (spot options only)
* preference   = price × ``preference_weight`` × instances × hours (outside preferred sites)
* data flows   = egress rate × GB per unit (:func:`flow_source`)
* migration    = ``move_fixed_usd`` + egress rate from the previous site × moved GB
  (:func:`moved_data_gb`), for options away from the previous plan.

Every option of every stage is priced here, by :meth:`PriceBook.price`, over arrays of
(stage, offer, purchase) rows — the one place these formulas live. Each term is computed
exactly as :mod:`planner.money` would round it (:mod:`planner.compile.exact`). The
per-stage and per-offer quantities the rows gather are defined by the small functions
below, one per quantity.

Magnitudes: see :mod:`planner.compile.magnitudes`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from planner.compile.calendar import inference_hours
from planner.compile.exact import (
    BoolArray,
    Factor,
    IntArray,
    Limit,
    Products,
    Table,
    money,
    usage,
)
from planner.compile.magnitudes import (
    MAX_STAGE_MICRO,
    MAX_STAGE_USAGE,
    TERMS,
    Violation,
    Violations,
    money_error,
    usage_error,
)
from planner.compile.market import PURCHASES, Market
from planner.compile.rules import HardwareAsk, StageRef, nodes_per_replica
from planner.errors import InputError
from planner.models.portfolio import Portfolio, Settings, Stage, StageKind
from planner.models.world import Offer, Purchase, Site, World
from planner.money import to_micro

_SPOT = PURCHASES.index(Purchase.SPOT)
CHUNK = 1 << 19
"""Rows priced at once."""


def instances_per_unit(ask: HardwareAsk, offer: Offer) -> int:
    """Instances for one unit: every replica it holds runs on its own whole instances of the
    offer — one, or its gang (:func:`planner.compile.rules.nodes_per_replica`). Resources
    are never pooled across replicas or across instances beyond a declared gang; an offer
    a replica does not fit is pruned by :func:`planner.compile.rules.replica_fits` first."""
    nodes = nodes_per_replica(ask, offer)
    if nodes is None:
        raise ValueError(f"{offer.id} was not screened: a replica does not fit it")
    return nodes * ask.per_unit


def run_hours(settings: Settings, stage: Stage, gpu_model: str | None) -> Decimal:
    """Hours each instance runs on an offer carrying ``gpu_model``: reference hours / GPU
    speed for training and testing; an inference stage's billed hours
    (:func:`planner.compile.calendar.inference_hours`)."""
    if stage.kind is StageKind.INFERENCE:
        return inference_hours(settings, stage)
    if stage.gpu is None or gpu_model is None:
        return stage.hours
    return stage.hours / stage.gpu.models[gpu_model]


def commitments_allowed(settings: Settings, stage: Stage, period_hours: Decimal) -> bool:
    """A 1-/3-year commitment may price a stage only when the portfolio allows commitments
    and the stage runs the whole planning period: always-on inference (hours ≥ period).

    Simplification: a commitment's term (1 or 3 years) outlives the planning period; it is
    priced per hour over the period (commit rate × hours), as if the capacity kept being
    used after the period. The plan shows it as ``commit_1y`` / ``commit_3y``."""
    return (settings.allow_commitments and stage.kind is StageKind.INFERENCE
            and inference_hours(settings, stage) >= period_hours)


def flow_source(ref: StageRef) -> tuple[str | None, Decimal]:
    """Data flows with one fixed end, per unit: the site whose egress rate applies (None:
    the stage's own site, out to the internet) and the GB — the dataset into training,
    test data into testing (both from the dataset's home), inference responses to users."""
    w, stage = ref.workload, ref.stage
    if stage.kind is StageKind.TRAINING:
        return w.dataset.home, w.dataset.size_gb
    if stage.kind is StageKind.TESTING:
        return w.dataset.home, w.dataset.test_gb
    return None, stage.response_gb / ref.units


def moved_data_gb(ref: StageRef) -> Decimal:
    """Data a stage takes along when it moves: the dataset for training, test data and the
    model for testing, the model for inference."""
    w = ref.workload
    if ref.stage.kind is StageKind.TRAINING:
        return w.dataset.size_gb
    if ref.stage.kind is StageKind.TESTING:
        return w.dataset.test_gb + w.model.size_gb
    return w.model.size_gb


Preference = tuple[tuple[str, ...], tuple[str, ...]]
"""A workload's preferred sites and providers."""


def preference(ref: StageRef) -> Preference:
    pl = ref.workload.placement
    return tuple(pl.prefer_sites), tuple(pl.prefer_providers)


def preferred(prefer: Preference, site: Site) -> bool:
    """No preference surcharge: the workload prefers nothing, or this site or its provider."""
    sites, providers = prefer
    return not (sites or providers) or site.id in sites or site.provider in providers


@dataclass(frozen=True)
class Rows:
    """Options as rows: stage, offer (a :class:`Market` index), purchase (index into
    :data:`PURCHASES`), instances per unit and units that fit at once."""

    stage: IntArray
    offer: IntArray
    purchase: IntArray
    n: IntArray
    ub: IntArray

    def __len__(self) -> int:
        return len(self.stage)

    def take(self, idx: IntArray) -> Rows:
        return Rows(self.stage[idx], self.offer[idx], self.purchase[idx], self.n[idx],
                    self.ub[idx])

    def slice(self, start: int, stop: int) -> Rows:
        return Rows(self.stage[start:stop], self.offer[start:stop],
                    self.purchase[start:stop], self.n[start:stop], self.ub[start:stop])

    def columns(self) -> list[IntArray]:
        return [self.stage, self.offer, self.purchase, self.n, self.ub]

    @classmethod
    def concat(cls, parts: list[Rows]) -> Rows:
        if not parts:
            z = np.zeros(0, dtype=np.int64)
            return cls(z, z, z, z, z)
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("stage", "offer", "purchase", "n", "ub")))


@dataclass(frozen=True)
class Prices:
    """Per row: the money terms (micro-dollars per unit), whether it moves from the
    previous plan, and the capacity use of the offer and of the site's GPU model
    (milli-unit-hours per unit; 0 where the resource is not limited)."""

    compute: IntArray
    egress: IntArray
    risk: IntArray
    pref: IntArray
    migration: IntArray
    moved: BoolArray
    use_offer: IntArray
    use_gpu: IntArray

    def take(self, idx: IntArray) -> Prices:
        return Prices(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    @classmethod
    def empty(cls, size: int) -> Prices:
        return cls(*(np.zeros(size, dtype=np.bool_ if f == "moved" else np.int64)
                     for f in cls.__dataclass_fields__))

    def fill(self, start: int, part: Prices) -> None:
        """Copy ``part`` into rows ``start`` onwards."""
        for f in self.__dataclass_fields__:
            column = getattr(part, f)
            getattr(self, f)[start:start + len(column)] = column

    def columns(self) -> list[NDArray[np.generic]]:
        return [getattr(self, f) for f in self.__dataclass_fields__]

    @classmethod
    def concat(cls, parts: list[Prices]) -> Prices:
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in cls.__dataclass_fields__))


class _Table:
    """Distinct decimals, numbered on first sight (``exact``: 40 and 40.0 stay apart)."""

    def __init__(self, exact: bool = False) -> None:
        self.values: list[Decimal] = []
        self._index: dict[object, int] = {}
        self._exact = exact

    def id(self, value: Decimal) -> int:
        key = str(value) if self._exact else value
        got = self._index.get(key)
        if got is None:
            got = self._index[key] = len(self.values)
            self.values.append(value)
        return got


class PriceBook:
    """Prices any rows of (stage, offer, purchase) for one portfolio, world and previous plan.

    Built once per candidate generation: the per-stage quantities (hours per GPU model,
    data flows, preferences, previous placement) as tables and indices, then
    :meth:`price` gathers them for the rows asked."""

    def __init__(self, portfolio: Portfolio, world: World, market: Market,
                 refs: list[StageRef], previous: dict[int, list[tuple[str, str]]]) -> None:
        self.portfolio, self.world, self.market, self.refs = portfolio, world, market, refs
        self.units = np.array([r.units for r in refs], dtype=np.int64)
        self.hours = _Table(exact=True)
        self.gb = _Table()
        self._rates: dict[str | None, int] = {}
        self.rates: list[Decimal] = []
        prefs: dict[Preference, int] = {}
        settings = portfolio.settings
        hours_id, flow_row, flow_gb, pref_row = [], [], [], []
        for ref in refs:
            row = [self.hours.id(run_hours(settings, ref.stage, None))] * (len(market.models) + 1)
            for model in ref.stage.gpu.models if ref.stage.gpu is not None else ():
                if model in market.model_col:
                    hours = run_hours(settings, ref.stage, model)
                    row[market.model_col[model]] = self.hours.id(hours)
            hours_id.append(row)
            source, gb = flow_source(ref)
            flow_row.append(self._rate_row(source))
            flow_gb.append(self.gb.id(gb))
            pref_row.append(prefs.setdefault(preference(ref), len(prefs)))
        self.hours_id = np.array(hours_id, dtype=np.int64).reshape(len(refs), -1)
        self.flow_row = np.array(flow_row, dtype=np.int64)
        self.flow_gb = np.array(flow_gb, dtype=np.int64)
        self.pref_row = np.array(pref_row, dtype=np.int64)
        self.preferred = np.array([[preferred(p, site) for site in market.sites] for p in prefs],
                                  dtype=np.bool_).reshape(len(prefs), len(market.sites))
        self._previous(previous)
        self.hours_t, self.gb_t = Table.of(self.hours.values), Table.of(self.gb.values)
        self.rates_t = Table.of(self.rates)
        self.gpus_t = Table.of(market.gpu_counts)

    def _prices(self, po: IntArray, scale: Decimal | None = None) -> Factor:
        """The hourly price of (offer, purchase) ``po`` per row (times ``scale``)."""
        if scale is None:
            return self.market.price_table[po]
        used, index = np.unique(po, return_inverse=True)
        prices = self.market.prices
        return Table.of([prices[k] * scale for k in used.tolist()])[index.reshape(-1)]

    def _rate_row(self, source: str | None) -> int:
        """The row of egress rates from ``source`` (None: each site to the internet) to
        every site of the market."""
        row = self._rates.get(source)
        if row is None:
            row = self._rates[source] = len(self._rates)
            if source is None:
                self.rates += [s.egress.internet_per_gb for s in self.market.sites]
            else:
                home = self.world.sites[source]
                self.rates += [home.egress_per_gb_to(s) for s in self.market.sites]
        return row

    def _previous(self, previous: dict[int, list[tuple[str, str]]]) -> None:
        """Re-planning: per stage, the (stage, offer) keys it used, the row of rates from its
        previous site (−1: unknown) and the GB it takes along."""
        m = self.market
        self.fixed = to_micro(self.portfolio.settings.move_fixed_usd)
        self.has_prev = np.zeros(len(self.refs), dtype=np.bool_)
        self.old_row = np.full(len(self.refs), -1, dtype=np.int64)
        self.moved_gb = np.zeros(len(self.refs), dtype=np.int64)
        keys = []
        for s, pairs in previous.items():
            if not pairs:
                continue
            self.has_prev[s] = True
            keys += [s * len(m.offers) + o for o in (m.offer_index.get(p) for p in pairs)
                     if o is not None]
            if pairs[0][0] in self.world.sites:
                self.old_row[s] = self._rate_row(pairs[0][0])
            self.moved_gb[s] = self.gb.id(moved_data_gb(self.refs[s]))
        self.prev_keys = np.array(sorted(keys), dtype=np.int64)

    def hours_of(self, stage: int, offer: int) -> Decimal:
        """Run hours of one option."""
        return self.hours.values[int(self.hours_id[stage, self.market.model_col_of[offer]])]

    def price(self, rows: Rows) -> Prices:
        """Every term of every row; raises the first too-large term in generation order
        (stage, offer, purchase), worded by :mod:`planner.compile.magnitudes`. Rows are
        priced in chunks of :data:`CHUNK` (bounded temporaries)."""
        out = Prices.empty(len(rows))
        worst: tuple[tuple[int, int, int, int], Rows, Violation] | None = None
        for start in range(0, len(rows), CHUNK):
            part = rows.slice(start, start + CHUNK)
            bad = Violations()
            out.fill(start, self._price(part, bad))
            first = bad.first([part.stage, part.offer, part.purchase])
            if first is not None:
                key = (int(part.stage[first.row]), int(part.offer[first.row]),
                       int(part.purchase[first.row]), first.term)
                if worst is None or key < worst[0]:
                    worst = (key, part, first)
        if worst is not None:
            raise self._error(worst[1], worst[2])
        return out

    def _price(self, rows: Rows, bad: Violations) -> Prices:
        m, s, o = self.market, rows.stage, rows.offer
        units = self.units[s]
        cash, cap = Limit(MAX_STAGE_MICRO, units), Limit(MAX_STAGE_USAGE, units)
        po = o * len(PURCHASES) + rows.purchase
        n = Factor.ints(rows.n)
        hours = self.hours_t[self.hours_id[s, m.model_col_of[o]]]
        site = m.site_of[o]
        cfg = self.portfolio.settings
        compute = bad.money("compute cost", money([self._prices(po), n, hours], cash))
        risk = self._money(bad, "spot risk", rows.purchase == _SPOT, cash,
                           lambda i: [self._prices(po[i], cfg.spot_risk_uplift), n.take(i),
                                      hours.take(i)])
        pref = self._money(bad, "preference surcharge", ~self.preferred[self.pref_row[s], site],
                           cash, lambda i: [self._prices(po[i], cfg.preference_weight),
                                            n.take(i), hours.take(i)])
        rate = self.rates_t[self.flow_row[s] * len(m.sites) + site]
        egress = bad.money("data transfer cost", money([rate, self.gb_t[self.flow_gb[s]]], cash))
        migration, moved = self._migration(bad, rows, cash)
        use_offer = self._usage(bad, "capacity use of the offer", m.offer_res[o], [n, hours],
                                cap)
        use_gpu = self._usage(bad, "capacity use of the GPU model", m.gpu_res[o],
                              [n, self.gpus_t[o], hours], cap)
        return Prices(compute, egress, risk, pref, migration, moved, use_offer, use_gpu)

    @staticmethod
    def _money(bad: Violations, what: str, mask: BoolArray, limit: Limit,
               factors: Callable[[IntArray], list[Factor]]) -> IntArray:
        """A money term on the rows of ``mask`` (0 elsewhere; ``factors`` of those rows)."""
        out = np.zeros(len(mask), dtype=np.int64)
        idx = np.flatnonzero(mask)
        if idx.size:
            got = money(factors(idx), Limit(limit.total, limit.times[idx]))
            out[idx] = bad.money(what, got, idx)
        return out

    @staticmethod
    def _usage(bad: Violations, what: str, resource: IntArray, factors: list[Factor],
               limit: Limit) -> IntArray:
        """Capacity use of ``resource`` (−1: not limited, 0 used) per row."""
        out = np.zeros(len(resource), dtype=np.int64)
        idx = np.flatnonzero(resource >= 0)
        if idx.size:
            got = usage([f.take(idx) for f in factors], Limit(limit.total, limit.times[idx]))
            out[idx] = bad.usage(what, got, idx, resource[idx])
        return out

    def _migration(self, bad: Violations, rows: Rows, limit: Limit
                   ) -> tuple[IntArray, BoolArray]:
        """Re-planning: the cost of moving a unit away from the previous plan, and whether
        it moves (any option but the previous (site, offer) pairs)."""
        s, m = rows.stage, self.market
        moved = self.has_prev[s] & ~np.isin(s * len(m.offers) + rows.offer, self.prev_keys)
        out = np.where(moved, self.fixed, 0).astype(np.int64)
        idx = np.flatnonzero(moved & (self.old_row[s] >= 0))
        if idx.size:
            si = s[idx]
            rate = self.rates_t[self.old_row[si] * len(m.sites) + m.site_of[rows.offer[idx]]]
            got = money([rate, self.gb_t[self.moved_gb[si]]], Limit(limit.total, limit.times[idx]))
            over = {row: self.fixed + value for row, value in got.over.items()}
            out[idx] += bad.money("migration cost", Products(got.values, over), idx)
            out[idx[list(over)]] = 0
        bad.total("migration cost", out, limit.times, limit.total)
        return out, moved

    def _error(self, rows: Rows, first: Violation) -> InputError:
        ref = self.refs[int(rows.stage[first.row])]
        offer = self.market.offers[int(rows.offer[first.row])]
        if first.resource >= 0:
            return usage_error(self.portfolio, ref, self.market.res_names[first.resource],
                               first.value)
        return money_error(self.portfolio, ref, f"{offer.site_id}/{offer.id}",
                           TERMS[first.term], first.value)
