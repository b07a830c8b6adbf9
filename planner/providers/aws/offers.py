"""AWS price-list products and terms: shared by the Price List Query API
(``pricing:GetProducts``, credentials) and the public bulk offer files (keyless).

Both sources describe a product the same way — ``product.attributes`` (``instanceType``,
``vcpu``, ``memory``, ``gpu``, ``operatingSystem`` …) and ``terms.OnDemand`` /
``terms.Reserved`` keyed by offer term, each with ``priceDimensions`` whose
``pricePerUnit.USD`` is the hourly price — so one set of functions reads both.

Commitment prices are the **Standard, No Upfront** reserved terms of 1 and 3 years
(``termAttributes``: ``OfferingClass=standard``, ``PurchaseOption=No Upfront``,
``LeaseContractLength=1yr|3yr``): their hourly rate is the whole price, with no
upfront fee to spread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

LINUX_ON_DEMAND = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
                   "capacitystatus": "Used", "licenseModel": "No License required"}
"""Attributes of the one on-demand Linux SKU per instance type (the GetProducts filters)."""

REGION_LOCATION = "AWS Region"
"""``locationType`` of a region's own products (Local Zones, Wavelength Zones and Outposts
have products of their own, at other prices, that name the parent region)."""

COMMIT_TERMS = {"1yr": "commit_1y", "3yr": "commit_3y"}
COMMIT_CLASS = "standard"
COMMIT_PURCHASE = "No Upfront"


@dataclass(frozen=True)
class OfferPrices:
    """USD per hour of one instance type: on-demand and the 1/3-year commitments."""

    on_demand: Decimal
    commit_1y: Decimal | None = None
    commit_3y: Decimal | None = None


def decimal_price(text: object) -> Decimal:
    """A price string as a Decimal without trailing zeros (``"1.0060000000"`` → 1.006)."""
    try:
        value = Decimal(str(text))
    except InvalidOperation as exc:
        raise ValueError(f"not a price: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite price: {text!r}")
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


def is_linux_on_demand(attrs: Mapping[str, Any]) -> bool:
    """A plain on-demand Linux ``RunInstances`` product with an instance type."""
    if not attrs.get("instanceType"):
        return False
    if attrs.get("operation", "RunInstances") != "RunInstances":
        return False
    if attrs.get("marketoption", "OnDemand") != "OnDemand":
        return False
    if attrs.get("locationType", REGION_LOCATION) != REGION_LOCATION:
        return False  # a Local Zone, Wavelength Zone or Outpost: not the region's price
    return all(attrs.get(k, v) == v for k, v in LINUX_ON_DEMAND.items())


def _hourly(term: Mapping[str, Any]) -> Decimal | None:
    """The hourly USD rate of one offer term (its ``Hrs`` price dimension)."""
    for dim in (term.get("priceDimensions") or {}).values():
        usd = (dim.get("pricePerUnit") or {}).get("USD")
        if dim.get("unit") == "Hrs" and usd is not None:
            return decimal_price(usd)
    return None


def on_demand_hourly(terms: Mapping[str, Any]) -> Decimal | None:
    """The on-demand USD/hour of a SKU from its ``OnDemand`` terms (None if unpriced)."""
    for term in terms.values():
        price = _hourly(term)
        if price is not None:
            return price
    return None


def commitment_hourly(terms: Mapping[str, Any]) -> dict[str, Decimal]:
    """``{"commit_1y": …, "commit_3y": …}`` from a SKU's ``Reserved`` terms (Standard,
    No Upfront); a length the terms do not offer is left out."""
    out: dict[str, Decimal] = {}
    for term in terms.values():
        attrs = term.get("termAttributes") or {}
        key = COMMIT_TERMS.get(str(attrs.get("LeaseContractLength", "")))
        if (key is None or str(attrs.get("OfferingClass", "")).lower() != COMMIT_CLASS
                or attrs.get("PurchaseOption") != COMMIT_PURCHASE):
            continue
        price = _hourly(term)
        if price is not None and price > 0:
            out[key] = min(price, out.get(key, price))
    return out


def offer_prices(on_demand_terms: Mapping[str, Any],
                 reserved_terms: Mapping[str, Any] | None) -> OfferPrices | None:
    """On-demand and commitment prices of one SKU, or None without an on-demand price."""
    price = on_demand_hourly(on_demand_terms)
    if price is None:
        return None
    commits = commitment_hourly(reserved_terms or {})
    return OfferPrices(price, commits.get("commit_1y"), commits.get("commit_3y"))


def merge_prices(old: OfferPrices | None, new: OfferPrices) -> OfferPrices:
    """Two SKUs for one type (should AWS ever list two): keep the lower of each price."""
    if old is None:
        return new

    def low(a: Decimal | None, b: Decimal | None) -> Decimal | None:
        return b if a is None else a if b is None else min(a, b)

    return OfferPrices(min(old.on_demand, new.on_demand), low(old.commit_1y, new.commit_1y),
                       low(old.commit_3y, new.commit_3y))
