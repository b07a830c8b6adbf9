"""The resolved world the planner reasons about: sites and hardware offers.

Built once from the portfolio and the catalogs (see :mod:`planner.compile.resolve`); the
candidate generator and the independent verifier both read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from planner.vocab.latency import estimate_rtt_ms


class SiteKind(StrEnum):
    CLOUD = "cloud"
    ONPREM = "onprem"


class Purchase(StrEnum):
    """How capacity is bought: cloud on-demand, spot or a 1-/3-year commitment (savings plan
    or reserved instance), or owned on-prem hardware. A commitment is priced per hour over
    the planning period; its term outlives the period (see :mod:`planner.compile.pricing`)."""

    ON_DEMAND = "on_demand"
    SPOT = "spot"
    COMMIT_1Y = "commit_1y"
    COMMIT_3Y = "commit_3y"
    OWNED = "owned"

    @property
    def is_commitment(self) -> bool:
        return self in (Purchase.COMMIT_1Y, Purchase.COMMIT_3Y)


@dataclass(frozen=True)
class EgressPrice:
    """USD per GB leaving a site: to named sites (other regions of its cloud provider,
    other on-prem sites of the same owner), and to anywhere else (the internet, other
    providers, on-prem). Filled in by :mod:`planner.compile.resolve` from the provider's
    egress rules (``planner/data/egress.json``) or the on-prem site's ``egress``."""

    internet_per_gb: Decimal
    to_sites: Mapping[str, Decimal] = field(default_factory=dict, hash=False)
    """Destination site id → price per GB, where it is not the internet price."""


@dataclass(frozen=True)
class Site:
    """A place workloads can run: a cloud region or an on-prem data centre."""

    id: str
    kind: SiteKind
    provider: str
    region: str
    country: str
    jurisdictions: frozenset[str]
    certifications: frozenset[str]
    egress: EgressPrice
    coords: tuple[float, float] | None = None
    """(lat, lon) of the site's metro area, for latency estimates."""

    def egress_per_gb_to(self, dest: Site) -> Decimal:
        """Price per GB of moving data from this site to ``dest`` (free on the same site)."""
        if dest.id == self.id:
            return Decimal(0)
        return self.egress.to_sites.get(dest.id, self.egress.internet_per_gb)


@dataclass(frozen=True)
class Offer:
    """Hardware obtainable at a site: a cloud instance type or an on-prem node class."""

    site_id: str
    id: str
    gpu_model: str | None
    gpu_count: Decimal
    vcpus: int
    memory_gib: Decimal
    price_per_hour: Decimal
    spot_price_per_hour: Decimal | None
    capacity: int | None
    """Instances (nodes or quota) that exist at once; None = unlimited."""
    restricted: str | None = None
    """Why the provider will not sell it to this subscription, if it will not."""
    commit_1y_per_hour: Decimal | None = None
    """Hourly price under a 1-year commitment (savings plan / reserved), if the catalog has it."""
    commit_3y_per_hour: Decimal | None = None
    """Hourly price under a 3-year commitment, if the catalog has it."""

    def price(self, purchase: Purchase) -> Decimal | None:
        """The hourly price of buying this offer as ``purchase`` (None: not sold that way)."""
        return {Purchase.ON_DEMAND: self.price_per_hour, Purchase.OWNED: self.price_per_hour,
                Purchase.SPOT: self.spot_price_per_hour,
                Purchase.COMMIT_1Y: self.commit_1y_per_hour,
                Purchase.COMMIT_3Y: self.commit_3y_per_hour}[purchase]

    @property
    def key(self) -> tuple[str, str]:
        return (self.site_id, self.id)


@dataclass(frozen=True)
class CatalogUse:
    """A catalog snapshot a plan was computed with."""

    provider: str
    path: str
    sha256: str
    fetched_at: datetime
    age_days: float


@dataclass(frozen=True)
class World:
    """Every site and offer the portfolio may use, plus site GPU quotas."""

    sites: dict[str, Site]
    offers: tuple[Offer, ...]
    gpu_quotas: dict[tuple[str, str], int]
    """(site id, GPU model) → GPUs usable at once."""
    period_hours: Decimal
    user_regions: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Named user regions (shipped ones plus the portfolio's own): name → (lat, lon)."""
    latency_ms: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """Measured round trips: site → user region → ms (override the estimates)."""
    catalogs: tuple[CatalogUse, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    _index: dict[tuple[str, str], Offer] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {o.key: o for o in self.offers})

    def rtt_ms(self, site_id: str, user_region: str) -> Decimal | None:
        """Round trip from a site to a user region: measured, else estimated, else None."""
        measured = self.latency_ms.get(site_id, {}).get(user_region)
        if measured is not None:
            return measured
        site = self.sites[site_id]
        if site.coords is None or user_region not in self.user_regions:
            return None
        return estimate_rtt_ms(site.coords, self.user_regions[user_region])

    def offer(self, site_id: str, offer_id: str) -> Offer | None:
        """The offer ``offer_id`` at ``site_id``, or None."""
        return self._index.get((site_id, offer_id))
