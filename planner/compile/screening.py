"""Screening: which options of a stage exist, which the rules prune, and why.

A stage's options are the rows (offer, purchase) of every offer in the market, screened
by the rules of :mod:`planner.compile.rules`: the site rules (per site), the hardware
rules (per offer, whole instances included), the window rule (per GPU model: does a
training or testing run fit its window) and concurrency (do the units fit at once).
Rules read a stage only through its asks (:class:`~planner.compile.rules.SiteAsk`,
:class:`~planner.compile.rules.HardwareAsk`, :class:`~planner.compile.rules.TimeAsk`),
so their results are memoized per ask (a stage whose run fits its window on every
offer has no time ask: nothing to memoize apart), and
a stage's whole screen — its :class:`Screen` — per the arguments it is a function of
(:class:`ScreenKey`). Nothing is grouped by a hand-written key.

Pruned options: with ``keep_pruned`` every option blocked by a rule a user could relax
(a site rule, concurrency) is kept as a row, for explanations and diagnosis; without, a
site that breaks a site rule is pruned as a whole and only options blocked by concurrency
alone are kept. Kept rows are priced when a stage's pruned records are asked for
(:class:`~planner.compile.pruned.PrunedList`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

import numpy as np

from planner.compile.calendar import horizon, whole, window
from planner.compile.exact import BoolArray, IntArray
from planner.compile.market import PURCHASES, Market, max_units, purchases
from planner.compile.pricing import commitments_allowed, instances_per_unit, run_hours
from planner.compile.rules import (
    OFFER_RULES,
    SITE_RULES,
    HardwareAsk,
    Rule,
    SiteAsk,
    StageRef,
    TimeAsk,
    window_fit,
)
from planner.models.portfolio import Settings, Stage, StageKind
from planner.models.world import World

RULES: tuple[Rule, ...] = tuple(Rule)
"""Rules by index (rule codes in arrays)."""


@dataclass(frozen=True)
class ScreenKey:
    """Everything a stage's screen depends on."""

    site: SiteAsk
    """Anonymous: the site rules decide without the workload's name."""
    hardware: HardwareAsk
    spot: bool
    commit: bool
    units: int
    time: TimeAsk | None = None
    """Only when the stage's run overruns its window on some offer (:func:`time_ask`)."""


@dataclass(frozen=True)
class SiteVerdicts:
    """Per market site, the site rules it breaks for one ask (in rule order)."""

    broken: tuple[tuple[Rule, ...], ...]

    @cached_property
    def first(self) -> IntArray:
        """Per site, the code of the first rule it breaks (−1: allowed)."""
        return np.array([RULES.index(b[0]) if b else -1 for b in self.broken], dtype=np.int64)


@dataclass(frozen=True)
class HardwareVerdicts:
    """Per market offer, for one ask: the first hardware rule it breaks and why, or the
    instances per unit, the units that fit at once and the binding resource."""

    rule: IntArray
    """Code of the broken rule (−1: none)."""
    reason: tuple[str, ...]
    n: IntArray
    fit: IntArray
    """Units that fit at once (−1: unlimited)."""
    resource: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """One pruned record of a stage, before it is worded: a whole site (``offer`` −1) or
    one offer, the site rules it breaks, its hardware rule (−1) and, when its units do not
    fit at once, the binding resource; ``rows``: the priced options it carries."""

    site: int
    offer: int
    site_rules: tuple[Rule, ...]
    hardware: int
    capacity: str
    rows: int


@dataclass(frozen=True)
class Screen:
    """The screened options of every stage sharing a :class:`ScreenKey`, in generation
    order (offer, then purchase): feasible rows and the blocked rows to price."""

    key: ScreenKey
    sites: SiteVerdicts
    hardware: HardwareVerdicts
    keep_pruned: bool
    feasible: tuple[IntArray, IntArray, IntArray, IntArray]
    """offer, purchase, instances per unit, units that fit at once (≥ 1)."""
    blocked: tuple[IntArray, IntArray, IntArray, IntArray]
    counts: Counter[str]
    """Pruned records per rule."""

    def entries(self, market: Market) -> list[Entry]:
        """The pruned records, in generation order (site, offer)."""
        hw, out = self.hardware, []
        per_offer = self._per_offer_rows()
        for pos, _site in enumerate(market.sites):
            broken = self.sites.broken[pos]
            offers = np.flatnonzero(market.site_of == pos).tolist()
            if broken and not self.keep_pruned:
                out.append(Entry(pos, -1, broken, -1, "", 0))
                continue
            for o in offers:
                if hw.rule[o] >= 0:
                    out.append(Entry(pos, o, (), int(hw.rule[o]), "", 0))
                    continue
                fit = int(hw.fit[o])
                short = hw.resource[o] if fit >= 0 and min(fit, self.key.units) < 1 else ""
                if broken or short:
                    out.append(Entry(pos, o, broken, -1, short, per_offer.get(o, 0)))
        return out

    def _per_offer_rows(self) -> dict[int, int]:
        offers = self.blocked[0]
        distinct, counts = np.unique(offers, return_counts=True)
        return dict(zip(distinct.tolist(), counts.tolist(), strict=True))


class Screener:
    """Screens stages, memoizing rule results per ask and screens per :class:`ScreenKey`."""

    def __init__(self, world: World, market: Market, settings: Settings,
                 keep_pruned: bool) -> None:
        self.world, self.market, self.settings = world, market, settings
        self.keep_pruned = keep_pruned
        self._sites: dict[SiteAsk, SiteVerdicts] = {}
        self._hardware: dict[HardwareAsk, HardwareVerdicts] = {}
        self.screens: dict[ScreenKey, Screen] = {}
        self._buyable = {(spot, commit): self._purchasable(spot, commit)
                         for spot in (False, True) for commit in (False, True)}

    def key(self, ref: StageRef) -> ScreenKey:
        return ScreenKey(SiteAsk.of(ref, anonymous=True), HardwareAsk.of(ref.stage), ref.stage.spot,
                         commitments_allowed(self.settings, ref.stage, self.world.period_hours),
                         ref.units, time_ask(self.settings, ref.stage))

    def screen(self, key: ScreenKey) -> Screen:
        got = self.screens.get(key)
        if got is None:
            got = self.screens[key] = self._screen(key)
        return got

    def _purchasable(self, spot: bool, commit: bool) -> BoolArray:
        """Per (offer, purchase): may a stage with ``spot`` / ``commit`` buy it that way."""
        m = self.market
        out = np.zeros((len(m.offers), len(PURCHASES)), dtype=np.bool_)
        for o, offer in enumerate(m.offers):
            for p in purchases(m.sites[int(m.site_of[o])], offer, spot, commit):
                out[o, PURCHASES.index(p)] = True
        return out

    def site_verdicts(self, ask: SiteAsk) -> SiteVerdicts:
        got = self._sites.get(ask)
        if got is None:
            got = self._sites[ask] = SiteVerdicts(tuple(
                tuple(rule for rule, check in SITE_RULES if check(ask, site, self.world))
                for site in self.market.sites))
        return got

    def hardware_verdicts(self, ask: HardwareAsk) -> HardwareVerdicts:
        got = self._hardware.get(ask)
        if got is None:
            got = self._hardware[ask] = self._hardware_verdicts(ask)
        return got

    def _hardware_verdicts(self, ask: HardwareAsk) -> HardwareVerdicts:
        rule, reason, n, fit, resource = [], [], [], [], []
        for offer in self.market.offers:
            for r, check in OFFER_RULES:
                why = check(ask, offer)
                if why is not None:
                    rule.append(RULES.index(r))
                    reason.append(why)
                    n.append(0)
                    fit.append(-1)
                    resource.append("")
                    break
            else:
                k = instances_per_unit(ask, offer)
                units, binding = max_units(self.world, offer, k)
                rule.append(-1)
                reason.append("")
                n.append(k)
                fit.append(-1 if units is None else units)
                resource.append(binding)
        return HardwareVerdicts(np.array(rule, dtype=np.int64), tuple(reason),
                                np.array(n, dtype=np.int64), np.array(fit, dtype=np.int64),
                                tuple(resource))

    def _late(self, hw: HardwareVerdicts, time: TimeAsk) -> HardwareVerdicts:
        """``hw`` with every usable offer the run overruns its window on pruned by the window
        rule (after the hardware rules: a stage's first broken rule is the one reported)."""
        rule, reason = hw.rule.copy(), list(hw.reason)
        n, fit, resource = hw.n.copy(), hw.fit.copy(), list(hw.resource)
        code = RULES.index(Rule.WINDOW)
        for o in np.flatnonzero(hw.rule < 0).tolist():
            why = window_fit(time, self.market.offers[o])
            if why is not None:
                rule[o], reason[o], n[o], fit[o], resource[o] = code, why, 0, -1, ""
        return HardwareVerdicts(rule, tuple(reason), n, fit, tuple(resource))

    def _screen(self, key: ScreenKey) -> Screen:
        m = self.market
        sites, hw = self.site_verdicts(key.site), self.hardware_verdicts(key.hardware)
        if key.time is not None:
            hw = self._late(hw, key.time)
        site_rule = sites.first[m.site_of]
        cap = np.where(hw.fit < 0, key.units, np.minimum(hw.fit, key.units))
        usable = hw.rule < 0
        allowed = site_rule < 0
        feasible = usable & allowed & (cap >= 1)
        blocked = usable & ~feasible & (allowed | self.keep_pruned)
        buyable = self._buyable[(key.spot, key.commit)]
        counts: Counter[str] = Counter()
        seen = allowed | self.keep_pruned  # offers looked at one by one
        _count(counts, hw.rule[seen & ~usable])
        _count(counts, np.where(allowed, RULES.index(Rule.CONCURRENCY), site_rule)[blocked])
        if not self.keep_pruned:
            _count(counts, sites.first[sites.first >= 0])
        return Screen(key, sites, hw, self.keep_pruned, _rows(feasible, buyable, hw.n, cap),
                      _rows(blocked, buyable, hw.n, np.maximum(cap, 1)), counts)


def time_ask(settings: Settings, stage: Stage) -> TimeAsk | None:
    """What the window rule reads from a training or testing stage whose run overruns its
    window on some GPU model it accepts: its run hours per model
    (:func:`~planner.compile.pricing.run_hours`) and its window in whole hours, to the
    deadline when it is hard, else to the horizon end (:mod:`planner.compile.calendar`).
    None when nothing can overrun: inference (it runs from its go-live to the horizon end)
    and runs that fit on every model (checked first without building the ask for undated
    stages, the common case)."""
    if stage.kind is StageKind.INFERENCE:
        return None
    if stage.earliest_start is None and stage.deadline is None:
        slowest = min(stage.gpu.models.values()) if stage.gpu else Decimal(1)
        if stage.hours / slowest <= horizon(settings):
            return None
    ask = _time_ask(settings, stage)
    return ask if ask.any_late() else None


def _time_ask(settings: Settings, stage: Stage) -> TimeAsk:
    w = window(settings, stage)
    hard = stage.deadline is not None and not w.soft
    due = whole(settings, w).due if hard else horizon(settings)
    models: tuple[str | None, ...] = tuple(stage.gpu.models) if stage.gpu else (None,)
    release = whole(settings, w).release
    exact = (w.release, w.due) if hard else (w.release, Decimal(due))
    inward = exact if (exact[0] != release or exact[1] != due) else None
    return TimeAsk(tuple((m, run_hours(settings, stage, m)) for m in models),
                   release, due, "deadline" if hard else "horizon end", inward)


def _count(counts: Counter[str], codes: IntArray) -> None:
    for code, k in zip(*np.unique(codes, return_counts=True), strict=True):
        counts[RULES[int(code)].value] += int(k)


def _rows(offers: BoolArray, buyable: BoolArray, n: IntArray, ub: IntArray
          ) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(offer, purchase, instances, units cap) of every buyable purchase of ``offers``."""
    o, p = np.nonzero(offers[:, None] & buyable)
    return o.astype(np.int64), p.astype(np.int64), n[o], ub[o].astype(np.int64)
