"""Azure Retail Prices items → one set of prices per VM size: the one parser that the
Azure fetcher (credentialed or keyless) and the ``azure-retail`` importer share.

Each item is classified from its names:

* ``productName`` mentions Windows (``… Windows`` or ``… Win``) → skipped,
* ``productName`` is Cloud Services or a Dedicated Host → skipped (not a VM size),
* ``skuName``/``meterName`` says ``Low Priority`` → low-priority (kept apart,
  not in the catalog),
* ``skuName``/``meterName`` says ``Spot`` → spot price,
* otherwise → on-demand Linux price, with its savings-plan prices.

The size is ``armSkuName``, or else the ARM spelling of ``skuName``
(:func:`planner.providers.azure.sizes.canonical_size`), after the size table's
aliases: the spellings of one size merge. Items that are not hourly, not priced
(0), not consumption prices or not in the requested region are skipped. When
several items price the same size and kind, the primary meter region wins, then
the latest ``effectiveStartDate``, then the lowest price.

Savings plans: the API's ``savingsPlan`` list gives ``retailPrice`` per ``term``
(``1 Year``, ``3 Years``) → ``commit_1y`` / ``commit_3y``. Each size and term takes
the plan of the most preferred on-demand item that lists that term (by the same
order), so a chosen on-demand item without a ``savingsPlan`` (a newer meter, another
spelling of the size) does not lose the size's commitment prices. A plan above the
size's chosen on-demand price is dropped: nobody buys it (real case: the "H Promo
Series" meters are cheaper on demand than the "H Series" meters' savings plans).
Trimmed records that carry one flat ``savingsPlanPrice`` number (e.g. price-history
datasets) do not name its term; it is read as the 1-year plan (it is 67–90 % of the
on-demand price, the 1-year discount range; 3-year plans save about twice as much).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from planner.providers.azure.sizes import canonical_size

CURRENCY = "USD"

_WINDOWS = re.compile(r"\bWin(dows)?\b", re.IGNORECASE)
_NOT_A_VM = re.compile(r"Cloud\s?Services|Dedicated\s?Host", re.IGNORECASE)
_SPOT = re.compile(r"\bSpot\b", re.IGNORECASE)
_LOW_PRIORITY = re.compile(r"\bLow Priority\b", re.IGNORECASE)
SAVINGS_TERMS = {"1 year": "commit_1y", "3 years": "commit_3y"}


class PriceKind(enum.Enum):
    """How a retail price item is used."""

    ON_DEMAND = "on_demand"
    SPOT = "spot"
    LOW_PRIORITY = "low_priority"
    WINDOWS = "windows"
    NOT_A_VM = "not_a_vm"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SizePrices:
    """USD per hour of one VM size in one region (None: not offered that way)."""

    on_demand: Decimal | None = None
    spot: Decimal | None = None
    commit_1y: Decimal | None = None
    commit_3y: Decimal | None = None


@dataclass(frozen=True)
class RegionPrices:
    """Linux prices of one region, USD per hour, by ARM size name."""

    region: str
    on_demand: dict[str, Decimal]
    spot: dict[str, Decimal]
    low_priority: dict[str, Decimal]
    commit_1y: dict[str, Decimal]
    commit_3y: dict[str, Decimal]
    pages: int
    items: int

    def size(self, name: str) -> SizePrices:
        """Every price of one size."""
        return SizePrices(self.on_demand.get(name), self.spot.get(name),
                          self.commit_1y.get(name), self.commit_3y.get(name))

    def sizes(self) -> list[str]:
        """The sizes with an on-demand price, sorted."""
        return sorted(self.on_demand)


def classify(item: Mapping[str, Any]) -> PriceKind:
    """Classify one retail price item (see the module docstring)."""
    product = str(item.get("productName") or "")
    if _WINDOWS.search(product):
        return PriceKind.WINDOWS
    if _NOT_A_VM.search(product):
        return PriceKind.NOT_A_VM
    names = f"{item.get('skuName') or ''} {item.get('meterName') or ''}"
    if _LOW_PRIORITY.search(names):
        return PriceKind.LOW_PRIORITY
    if _SPOT.search(names):
        return PriceKind.SPOT
    return PriceKind.ON_DEMAND


def _positive(raw: object) -> Decimal | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        price = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return price if price.is_finite() and price > 0 else None


def hourly_price(item: Mapping[str, Any]) -> Decimal | None:
    """The item's positive hourly price, or None (not hourly, unpriced, malformed)."""
    if str(item.get("unitOfMeasure") or "").strip().lower() != "1 hour":
        return None
    return _positive(item.get("retailPrice", item.get("unitPrice")))


def savings_plan(item: Mapping[str, Any]) -> dict[str, Decimal]:
    """``{"commit_1y": …, "commit_3y": …}`` of an on-demand item (see the module doc)."""
    out: dict[str, Decimal] = {}
    plans = item.get("savingsPlan")
    if isinstance(plans, list):
        for plan in plans:
            if not isinstance(plan, Mapping):
                continue
            key = SAVINGS_TERMS.get(str(plan.get("term") or "").strip().lower())
            price = _positive(plan.get("retailPrice", plan.get("unitPrice")))
            if key and price is not None:
                out[key] = price
    flat = _positive(item.get("savingsPlanPrice"))
    if flat is not None and "commit_1y" not in out:
        out["commit_1y"] = flat
    return out


def _start_timestamp(item: Mapping[str, Any]) -> float:
    raw = str(item.get("effectiveStartDate") or "")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


Rank = tuple[bool, float, Decimal, str]


def _preference(item: Mapping[str, Any], price: Decimal) -> Rank:
    """Sort key: smaller is preferred (primary meter, newest, cheapest, then meter id)."""
    return (item.get("isPrimaryMeterRegion") is False, -_start_timestamp(item), price,
            str(item.get("meterId") or ""))


def _usable(item: Mapping[str, Any], region: str) -> bool:
    """Does the item price something in ``region`` as a consumption price?"""
    currency = item.get("currencyCode", CURRENCY)
    if currency != CURRENCY:
        raise ValueError(f"retail prices API answered in {currency!r}, expected {CURRENCY}")
    if str(item.get("armRegionName") or region).lower() != region:
        return False
    return item.get("type", item.get("priceType", "Consumption")) == "Consumption"


def select_prices(region: str, items: Iterable[Mapping[str, Any]], pages: int = 1,
                  rename: Callable[[str], str] | None = None) -> RegionPrices:
    """Reduce raw items to one price per (size, kind) for ``region``.

    ``rename`` maps a size name to its ARM name (the size table's aliases).
    """
    best: dict[tuple[PriceKind, str], tuple[Rank, Decimal]] = {}
    plans: dict[tuple[str, str], tuple[Rank, Decimal]] = {}  # (term, size)
    count = 0
    for item in items:
        count += 1
        if not isinstance(item, Mapping) or not _usable(item, region):
            continue
        size = canonical_size(item)
        kind = classify(item)
        price = hourly_price(item)
        if size is None or price is None or kind in (PriceKind.WINDOWS, PriceKind.NOT_A_VM):
            continue
        key = (kind, rename(size) if rename else size)
        rank = _preference(item, price)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, price)
        if kind is PriceKind.ON_DEMAND:
            for term, value in savings_plan(item).items():
                if (term, key[1]) not in plans or rank < plans[(term, key[1])][0]:
                    plans[(term, key[1])] = (rank, value)
    return _region_prices(region, best, plans, pages, count)


def _region_prices(region: str, best: Mapping[tuple[PriceKind, str], tuple[Rank, Decimal]],
                   plans: Mapping[tuple[str, str], tuple[Rank, Decimal]],
                   pages: int, count: int) -> RegionPrices:
    by_kind: dict[PriceKind, dict[str, Decimal]] = {k: {} for k in PriceKind}
    commits: dict[str, dict[str, Decimal]] = {"commit_1y": {}, "commit_3y": {}}
    for kind, size in sorted(best, key=lambda key: (key[0].value, key[1])):
        by_kind[kind][size] = best[(kind, size)][1]
    on_demand = by_kind[PriceKind.ON_DEMAND]
    for term, size in sorted(plans):
        value = plans[(term, size)][1]
        if size in on_demand and value <= on_demand[size]:
            commits[term][size] = value
    return RegionPrices(region=region, on_demand=by_kind[PriceKind.ON_DEMAND],
                        spot=by_kind[PriceKind.SPOT], low_priority=by_kind[PriceKind.LOW_PRIORITY],
                        commit_1y=commits["commit_1y"], commit_3y=commits["commit_3y"],
                        pages=pages, items=count)
