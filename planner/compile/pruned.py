"""Pruned options: the rule, a plain-words reason and the rule groups a user could relax.

Large portfolios prune millions of (stage, site, offer) triples, so they are not kept as
objects: each stage keeps its :class:`~planner.compile.screening.Screen` (shared with
similar stages) and its :class:`Pruned` records are worded on demand (iteration,
:meth:`PrunedList.of_stage`). Counts per rule are kept at generation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from planner.compile.options import Option, OptionTable
from planner.compile.pricing import PriceBook, Rows
from planner.compile.rules import SITE_RULES, Rule, SiteAsk, StageRef, rule_group
from planner.compile.screening import RULES, Entry, Screen, ScreenKey


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


def _groups(ref: StageRef, e: Entry) -> tuple[str, ...]:
    """The relaxable rule instances a pruned record breaks: its site rules, then the
    capacity that does not hold its units at once."""
    groups = tuple(rule_group(rule, ref) for rule in e.site_rules)
    return groups + ((f"capacity:{e.capacity}",) if e.capacity else ())


class PrunedList(Sequence[Pruned]):
    """The pruned options of every stage, in generation order; a stage's records (and the
    options they carry, priced by :meth:`~planner.compile.pricing.PriceBook.price`) are
    built when asked for."""

    def __init__(self, book: PriceBook, refs: list[StageRef], screens: list[Screen],
                 counts: Counter[str]) -> None:
        self._book, self._refs, self._screens = book, refs, screens
        self._counts = counts
        self._entries: dict[ScreenKey, list[Entry]] = {}

    def blocked(self, stage: int) -> OptionTable:
        """The priced options a stage's pruned records carry, in generation order."""
        o, p, n, ub = self._screens[stage].blocked
        rows = Rows(np.full(len(o), stage, dtype=np.int64), o, p, n, ub)
        return OptionTable.priced(self._book, rows)

    def _entries_of(self, screen: Screen) -> list[Entry]:
        entries = self._entries.get(screen.key)
        if entries is None:
            entries = self._entries[screen.key] = screen.entries(self._book.market)
        return entries

    def relaxable(self, stage: int) -> tuple[OptionTable, list[tuple[str, ...]]]:
        """The priced options of a stage's pruned records (in their order) and, for each,
        the rule groups that must be dropped to admit it."""
        ref, entries = self._refs[stage], self._entries_of(self._screens[stage])
        tags = [g for e in entries if e.rows for g in [_groups(ref, e)] * e.rows]
        return self.blocked(stage), tags

    def of_stage(self, stage: int, *, priced_only: bool = False) -> list[Pruned]:
        """The pruned records of one stage (with ``priced_only``, those carrying options)."""
        screen, ref = self._screens[stage], self._refs[stage]
        entries = self._entries_of(screen)
        options = list(self.blocked(stage)) if any(e.rows for e in entries) else []
        out: list[Pruned] = []
        at = 0
        for e in entries:
            if e.offer >= 0 and e.hardware < 0:  # blocked by site rules or concurrency
                out.append(self._blocked(ref, e, tuple(options[at:at + e.rows])))
                at += e.rows
            elif not priced_only:
                out.append(self._pruned(ref, screen, e))
        return out

    def _pruned(self, ref: StageRef, screen: Screen, e: Entry) -> Pruned:
        """A whole site broken by a site rule, or an offer by a hardware rule."""
        m = self._book.market
        site = m.sites[e.site]
        if e.offer < 0:
            rule = e.site_rules[0]
            return Pruned(ref.index, site.id, None, rule, self._reason(ref, rule, e.site),
                          _groups(ref, e))
        return Pruned(ref.index, site.id, m.offers[e.offer].id, RULES[e.hardware],
                      screen.hardware.reason[e.offer])

    def _blocked(self, ref: StageRef, e: Entry, options: tuple[Option, ...]) -> Pruned:
        """An offer blocked by site rules a user could relax, or by concurrency."""
        m = self._book.market
        site, offer = m.sites[e.site], m.offers[e.offer]
        if e.site_rules:
            rule = e.site_rules[0]
            reason = self._reason(ref, rule, e.site)
        else:
            rule = Rule.CONCURRENCY
            reason = (f"needs {options[0].instances} × {offer.id} at once; "
                      f"{e.capacity.split(':', 1)[1]} does not hold that many")
        return Pruned(ref.index, site.id, offer.id, rule, reason, _groups(ref, e), options)

    def _reason(self, ref: StageRef, rule: Rule, site: int) -> str:
        """The reason a site rule gives for this stage (naming its workload)."""
        check = dict(SITE_RULES)[rule]
        reason = check(SiteAsk.of(ref), self._book.market.sites[site], self._book.world)
        assert reason is not None, (rule, ref.key)
        return reason

    def counts(self) -> Counter[str]:
        """Pruned options per rule."""
        return Counter(self._counts)

    def __len__(self) -> int:
        return sum(self._counts.values())

    def __iter__(self) -> Iterator[Pruned]:
        for s in range(len(self._screens)):
            yield from self.of_stage(s)

    @overload
    def __getitem__(self, i: int) -> Pruned: ...

    @overload
    def __getitem__(self, i: slice) -> list[Pruned]: ...

    def __getitem__(self, i: int | slice) -> Pruned | list[Pruned]:
        return list(self)[i]
