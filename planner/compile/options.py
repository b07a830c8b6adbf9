"""Options as a table of priced rows, and the :class:`Option` view of one row.

The solver's arrays are built straight from the table's columns
(:func:`planner.compile.arrays.build_problem`); explanations, plan building and the
diagnosis read options one at a time as :class:`Option` objects, built from the same
columns when indexed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import overload

import numpy as np

from planner.compile.exact import IntArray
from planner.compile.market import PURCHASES
from planner.compile.pricing import PriceBook, Prices, Rows
from planner.models.world import Purchase


@dataclass(frozen=True)
class Option:
    """One way to run a stage (per unit): integer costs and capacity usage."""

    stage: int
    site_id: str
    offer_id: str
    purchase: Purchase
    instances: int
    hours: Decimal
    compute_micro: int
    egress_micro: int
    usage: tuple[tuple[str, int], ...]
    max_units: int = 1
    migration_micro: int = 0
    risk_micro: int = 0
    preference_micro: int = 0
    moved: bool = False

    @property
    def cost_micro(self) -> int:
        """Real cost per unit: compute + fixed data flows + migration."""
        return self.compute_micro + self.egress_micro + self.migration_micro

    @property
    def objective_micro(self) -> int:
        """What the optimizer minimizes per unit: cost + spot risk + preference surcharge."""
        return self.cost_micro + self.risk_micro + self.preference_micro


class OptionTable(Sequence[Option]):
    """Priced options as columns (``rows``, ``prices``); indexing builds an :class:`Option`."""

    def __init__(self, book: PriceBook, rows: Rows, prices: Prices) -> None:
        self.book, self.rows, self.prices = book, rows, prices

    @classmethod
    def priced(cls, book: PriceBook, rows: Rows) -> OptionTable:
        return cls(book, rows, book.price(rows))

    def take(self, idx: IntArray) -> OptionTable:
        return OptionTable(self.book, self.rows.take(idx), self.prices.take(idx))

    @classmethod
    def concat(cls, book: PriceBook, parts: list[OptionTable]) -> OptionTable:
        if not parts:
            return cls.priced(book, Rows.concat([]))
        return cls(book, Rows.concat([p.rows for p in parts]),
                   Prices.concat([p.prices for p in parts]))

    @property
    def objective(self) -> IntArray:
        """What the optimizer minimizes per unit, per option."""
        p = self.prices
        return p.compute + p.egress + p.migration + p.risk + p.pref

    def site_index(self) -> IntArray:
        """Market site position of every option."""
        return self.book.market.site_of[self.rows.offer]

    def __len__(self) -> int:
        return len(self.rows)

    def _one(self, i: int) -> Option:
        if i < 0:
            i += len(self)
        r, p, m = self.rows, self.prices, self.book.market
        s, o = int(r.stage[i]), int(r.offer[i])
        offer = m.offers[o]
        usage = []
        if m.offer_res[o] >= 0:
            usage.append((m.res_names[int(m.offer_res[o])], int(p.use_offer[i])))
        if m.gpu_res[o] >= 0:
            usage.append((m.res_names[int(m.gpu_res[o])], int(p.use_gpu[i])))
        return Option(s, offer.site_id, offer.id, PURCHASES[int(r.purchase[i])], int(r.n[i]),
                      self.book.hours_of(s, o), int(p.compute[i]), int(p.egress[i]),
                      tuple(usage), int(r.ub[i]), int(p.migration[i]), int(p.risk[i]),
                      int(p.pref[i]), bool(p.moved[i]))

    @overload
    def __getitem__(self, i: int) -> Option: ...

    @overload
    def __getitem__(self, i: slice) -> list[Option]: ...

    def __getitem__(self, i: int | slice) -> Option | list[Option]:
        if isinstance(i, slice):
            return [self._one(k) for k in range(*i.indices(len(self)))]
        return self._one(i)

    def __iter__(self) -> Iterator[Option]:
        for i in range(len(self)):
            yield self._one(i)


def sort_per_stage(table: OptionTable, rank: IntArray) -> None:
    """Sort a table no one else holds yet, in place: by stage, then objective, then (site,
    offer, purchase) names (``rank``: of every offer × purchase in that order). In place,
    column by column, so that a copy of the whole table never exists."""
    r = table.rows
    names = rank[r.offer * len(PURCHASES) + r.purchase]
    objective = table.objective
    span = int(rank.max()) + 1 if rank.size else 1
    if not len(table) or int(objective.max()) >= 2**62 // span or int(objective.min()) < 0:
        order = np.lexsort((names, objective, r.stage))
    else:
        # (objective, names) as one key, unique within a stage: any sort will do for it;
        # then a stable sort by stage (a radix sort for small stage numbers) keeps that order.
        order = np.argsort(objective * span + names)
        stage = r.stage[order]
        small = np.uint16 if int(stage.max()) < 2**16 else np.uint32
        order = order[np.argsort(stage.astype(small), kind="stable")]
    del names, objective
    for column in [*r.columns(), *table.prices.columns()]:
        column[:] = column[order]
