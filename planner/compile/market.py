"""The world's offers as arrays: what can be bought where, at which price, using which
limited resources. Options refer to offers by their index here.

Offers are numbered site by site (sites in world order, those without offers left out),
each site's offers in world order: the order options are generated in.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from planner.compile.exact import IntArray, Table
from planner.models.world import Offer, Purchase, Site, SiteKind, World
from planner.money import usage_units

PURCHASES: tuple[Purchase, ...] = tuple(Purchase)
"""Purchase options by index; an offer's purchases are generated in this order."""
COMMITMENTS = (Purchase.COMMIT_1Y, Purchase.COMMIT_3Y)


def offer_resource(site_id: str, offer_id: str) -> str:
    return f"offer:{site_id}/{offer_id}"


def gpu_resource(site_id: str, gpu_model: str) -> str:
    return f"gpu:{site_id}/{gpu_model}"


def purchases(site: Site, offer: Offer, spot: bool, commit: bool) -> list[Purchase]:
    """How an offer may be bought: owned on-prem; on demand in the cloud, spot when the stage
    allows it (``spot``) and the offer has a spot price, commitments when they are allowed
    for the stage (``commit``, see :func:`planner.compile.pricing.commitments_allowed`) and
    the catalog prices them."""
    if site.kind is SiteKind.ONPREM:
        return [Purchase.OWNED]
    out = [Purchase.ON_DEMAND]
    if spot and offer.spot_price_per_hour is not None:
        out.append(Purchase.SPOT)
    out += [p for p in (COMMITMENTS if commit else ()) if offer.price(p) is not None]
    return out


def max_units(world: World, offer: Offer, instances: int) -> tuple[int | None, str]:
    """Units of a stage that fit at once on the offer (inventory / quota), and the binding
    resource; None when unlimited."""
    best: int | None = None
    resource = ""
    if offer.capacity is not None:
        best, resource = offer.capacity // instances, offer_resource(offer.site_id, offer.id)
    if offer.gpu_model:
        quota = world.gpu_quotas.get((offer.site_id, offer.gpu_model))
        if quota is not None:
            fit = int(Decimal(quota) // (offer.gpu_count * instances))
            if best is None or fit < best:
                best, resource = fit, gpu_resource(offer.site_id, offer.gpu_model)
    return best, resource


def capacities(world: World) -> dict[str, int]:
    """Capacity of every limited resource, in milli-unit-hours per planning period."""
    caps: dict[str, int] = {}
    for o in world.offers:
        if o.capacity is not None:
            caps[offer_resource(o.site_id, o.id)] = usage_units(Decimal(o.capacity),
                                                                world.period_hours)
    for (site_id, model), gpus in world.gpu_quotas.items():
        caps[gpu_resource(site_id, model)] = usage_units(Decimal(gpus), world.period_hours)
    return caps


class Market:
    """Every offer of the world, numbered, with its site, price per purchase option, GPU
    model column and limited resources."""

    def __init__(self, world: World) -> None:
        at: dict[str, list[Offer]] = {sid: [] for sid in world.sites}
        for o in world.offers:
            at[o.site_id].append(o)
        self.sites: list[Site] = [s for s in world.sites.values() if at[s.id]]
        self.offers: list[Offer] = [o for s in self.sites for o in at[s.id]]
        self.offer_index = {o.key: i for i, o in enumerate(self.offers)}
        self.site_of = np.array([i for i, s in enumerate(self.sites) for _ in at[s.id]],
                                dtype=np.int64)
        self.capacities = capacities(world)
        self.res_names = tuple(sorted(self.capacities))
        res = {name: i for i, name in enumerate(self.res_names)}
        self.offer_res = np.array([res.get(offer_resource(o.site_id, o.id), -1)
                                   for o in self.offers], dtype=np.int64)
        self.gpu_res = np.array([res.get(gpu_resource(o.site_id, o.gpu_model), -1)
                                 if o.gpu_model else -1 for o in self.offers], dtype=np.int64)
        self.gpu_counts = [o.gpu_count for o in self.offers]
        self.models = sorted({o.gpu_model for o in self.offers if o.gpu_model})
        self.model_col = {m: i + 1 for i, m in enumerate(self.models)}
        """GPU model → column of per-model tables (column 0: offers without a GPU)."""
        self.model_col_of = np.array([self.model_col[o.gpu_model] if o.gpu_model else 0
                                      for o in self.offers], dtype=np.int64)
        self.prices = [o.price(p) or Decimal(0) for o in self.offers for p in PURCHASES]
        """Hourly price of (offer, purchase) at ``offer × len(PURCHASES) + purchase``."""
        self.price_table = Table.of(self.prices)

    def order(self) -> IntArray:
        """Rank of every (offer, purchase) in (site id, offer id, purchase) order: the
        tie-break between options of equal objective."""
        keys = [(o.site_id, o.id, p.value) for o in self.offers for p in PURCHASES]
        rank = np.zeros(len(keys), dtype=np.int64)
        rank[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
        return rank
