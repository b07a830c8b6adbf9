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
from decimal import Decimal
from functools import cache
from importlib import resources

EARTH_RADIUS_KM = 6371.0
FIBRE_KM_PER_MS = 200.0
ROUTE_FACTOR = 1.4
OVERHEAD_MS = 5.0


@cache
def user_regions() -> dict[str, tuple[float, float]]:
    """Named user regions shipped with the planner: name → (lat, lon)."""
    path = resources.files("planner").joinpath("data/user_regions.json")
    data = json.loads(path.read_text("utf-8"))["user_regions"]
    return {name: (float(v["lat"]), float(v["lon"])) for name, v in data.items()}


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
