"""Network round-trip estimates between sites and named user regions.

Without a measurement, the round trip is estimated from the great-circle
distance: light in fibre covers about 200 km per millisecond, real routes are
about 1.4× longer than the great circle, and a round trip crosses it twice,
plus 5 ms of fixed overhead (last mile, queuing):

    rtt_ms ≈ 5 + 2 × 1.4 × distance_km / 200

Measured values in the portfolio (``settings.latency_ms[site][user_region]``)
always win over the estimate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

EARTH_RADIUS_KM = 6371.0
FIBRE_KM_PER_MS = 200.0
ROUTE_FACTOR = 1.4
OVERHEAD_MS = 5.0


@dataclass(frozen=True)
class UserRegionInfo:
    """A shipped user region: where it is and the city names accepted for it."""

    name: str
    lat: float
    lon: float
    description: str
    aliases: tuple[str, ...]


@cache
def _user_region_data() -> dict[str, Any]:
    path = resources.files("planner").joinpath("data/user_regions.json")
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


@cache
def user_regions() -> dict[str, tuple[float, float]]:
    """Named user regions shipped with the planner: name → (lat, lon)."""
    data = _user_region_data()["user_regions"]
    return {name: (float(v["lat"]), float(v["lon"])) for name, v in data.items()}


@cache
def user_region_aliases() -> dict[str, str]:
    """Common city names accepted for shipped user regions: alias → region name
    (``london`` → ``uk``, ``frankfurt`` → ``eu-central``)."""
    return dict(_user_region_data().get("aliases", {}))


def user_region_catalog() -> list[UserRegionInfo]:
    """Every shipped user region with its coordinates, description and aliases."""
    aliases = user_region_aliases()
    return [UserRegionInfo(name, float(v["lat"]), float(v["lon"]), str(v["description"]),
                           tuple(sorted(a for a, target in aliases.items() if target == name)))
            for name, v in _user_region_data()["user_regions"].items()]


def user_region_names() -> list[str]:
    """Every name a portfolio may use for a shipped user region: regions, then aliases."""
    return [*user_regions(), *sorted(user_region_aliases())]


def canonical_user_region(name: str) -> str | None:
    """The shipped region a name means: itself, or the region of a city alias (case,
    spaces and underscores aside: ``New York`` → ``us-east``); None when unknown."""
    if name in user_regions():
        return name
    key = name.strip().lower().replace(" ", "-").replace("_", "-")
    if key in user_regions():
        return key
    return user_region_aliases().get(key)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def estimate_rtt_ms(a: tuple[float, float], b: tuple[float, float]) -> Decimal:
    """Estimated round trip in ms (one decimal)."""
    ms = OVERHEAD_MS + 2 * ROUTE_FACTOR * distance_km(a, b) / FIBRE_KM_PER_MS
    return Decimal(f"{ms:.1f}")
