"""The region's current spot price per instance type, from ``DescribeSpotPriceHistory``.

The answer is a *history*: per availability zone, every price change since
``StartTime`` plus the price in effect at ``StartTime``. So

1. only the latest entry of each (instance type, zone) is that zone's *current*
   price — an older entry of the same zone, however low, no longer applies;
2. the region's spot price is the lowest current price over its zones (a planner
   may place spot work in any of them), with the time that price took effect;
3. only the region's own zones count (``us-east-1a`` … ``us-east-1f``): Local
   Zones and Wavelength Zones (``us-east-1-bos-1a``) are separate locations;
4. only the wanted product description (``Linux/UNIX``) counts.

Taking the minimum over *every* entry (what this fetcher did before) lets a
stale, superseded low price stand for the region.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from planner.providers.aws.offers import decimal_price


@dataclass(frozen=True, order=True)
class SpotQuote:
    """A zone's current spot price (USD/h) and when it took effect."""

    price: Decimal
    at: datetime
    zone: str


def _timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        stamp = value
    else:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def is_region_zone(zone: str, region: str) -> bool:
    """``us-east-1b`` is a zone of ``us-east-1``; ``us-east-1-bos-1a`` (Local Zone) is not."""
    return re.fullmatch(re.escape(region) + r"[a-z]", zone) is not None


def latest_per_zone(entries: Iterable[Mapping[str, Any]], region: str,
                    product: str = "Linux/UNIX") -> dict[tuple[str, str], SpotQuote]:
    """The current (latest) quote of every (instance type, zone) of ``region``."""
    latest: dict[tuple[str, str], SpotQuote] = {}
    for entry in entries:
        zone = str(entry.get("AvailabilityZone", ""))
        if entry.get("ProductDescription", product) != product or not is_region_zone(zone,
                                                                                      region):
            continue
        quote = SpotQuote(decimal_price(entry["SpotPrice"]), _timestamp(entry["Timestamp"]), zone)
        key = (str(entry["InstanceType"]), zone)
        if key not in latest or quote.at > latest[key].at:
            latest[key] = quote
    return latest


def region_spot(entries: Iterable[Mapping[str, Any]], region: str,
                product: str = "Linux/UNIX") -> dict[str, SpotQuote]:
    """Per instance type, the lowest current zone quote of ``region`` (ties: zone name); a
    zone whose current quote is 0 has no price (never a free instance)."""
    best: dict[str, SpotQuote] = {}
    for (name, _zone), quote in sorted(latest_per_zone(entries, region, product).items()):
        if quote.price <= 0:
            continue
        if name not in best or (quote.price, quote.zone) < (best[name].price, best[name].zone):
            best[name] = quote
    return best
