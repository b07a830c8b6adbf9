"""Egress price rules per provider, from the sourced table ``planner/data/egress.json``.

The table, not the catalogs, is where egress prices live: the price APIs the fetchers
read do not publish them, and one flat rate per provider hides what real prices depend
on (the source region, and whether the destination is another region of the same
provider on the same continent, another continent, or the internet). Catalogs written
before the table carry a flat ``egress`` field; it is still read (old catalogs load) but
no longer priced.

Rules, for data leaving region ``src`` (country ``c``) of a provider:

* to the same region: free;
* to region ``dst`` of the same provider: ``regions[src].to_regions[dst]`` when listed,
  else the same-continent or cross-continent rate (continents of the countries, from the
  table's ``continents``);
* anywhere else (the internet, other providers, on-prem): the internet rate (the first
  paid tier: the cost model is linear).

Each rate is looked up in ``regions[src]``, then ``by_continent[continent(c)]``, then
the provider's ``default``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planner.errors import InputError

MAX_EGRESS_PER_GB = Decimal(10)
"""Sanity bound of any egress rate, USD per GB (real ones are below 0.25)."""

Price = Decimal


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Source(_Strict):
    """A public page a rate was read from, when, and what it says."""

    url: str = Field(pattern=r"^https://")
    read_on: date
    says: str = Field(min_length=1)


class Rates(_Strict):
    """Rates of a region, a continent or a provider's default (None: look further up)."""

    internet_per_gb: Price | None = Field(default=None, ge=0, le=MAX_EGRESS_PER_GB)
    same_continent_per_gb: Price | None = Field(default=None, ge=0, le=MAX_EGRESS_PER_GB)
    cross_continent_per_gb: Price | None = Field(default=None, ge=0, le=MAX_EGRESS_PER_GB)
    to_regions: dict[str, Price] = Field(default_factory=dict)
    source: list[str] = Field(min_length=1)


class Tier(_Strict):
    """Internet egress up to ``up_to_tb`` TB a month (None: beyond the last bound)."""

    up_to_tb: int | None
    per_gb: Price = Field(ge=0, le=MAX_EGRESS_PER_GB)
    source: list[str] = Field(min_length=1)


class ProviderEgress(_Strict):
    """One provider's entry of the table."""

    charged_by: str
    sources: dict[str, Source] = Field(min_length=1)
    free_internet_gb_per_month: int = Field(ge=0)
    internet_tiers: list[Tier] = Field(min_length=1)
    default: Rates
    by_continent: dict[str, Rates] = Field(default_factory=dict)
    regions: dict[str, Rates] = Field(default_factory=dict)
    unverified: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete_and_sourced(self) -> ProviderEgress:
        d = self.default
        if None in (d.internet_per_gb, d.same_continent_per_gb, d.cross_continent_per_gb):
            raise ValueError("default needs internet_per_gb, same_continent_per_gb and "
                             "cross_continent_per_gb")
        cited = [*self.default.source, *(s for t in self.internet_tiers for s in t.source),
                 *(s for r in (*self.by_continent.values(), *self.regions.values())
                   for s in r.source)]
        unknown = sorted(set(cited) - set(self.sources))
        if unknown:
            raise ValueError(f"source(s) {unknown} are cited but not listed under sources")
        return self


class EgressTable(_Strict):
    """The whole table: continents by country, and every provider's entry."""

    description: str
    continents: dict[str, list[str]]
    providers: dict[str, ProviderEgress]


@cache
def egress_table() -> EgressTable:
    """The shipped table (validated once)."""
    text = resources.files("planner").joinpath("data/egress.json").read_text("utf-8")
    return EgressTable.model_validate(json.loads(text))


@dataclass(frozen=True)
class EgressRules:
    """The egress prices of one provider, looked up by region and country."""

    provider: str
    entry: ProviderEgress
    continent_of: dict[str, str]
    """Country code → continent."""

    def _rate(self, field: str, region: str, country: str) -> Decimal:
        """``field`` of the region, else of its continent, else the provider default."""
        for rates in (self.entry.regions.get(region),
                      self.entry.by_continent.get(self.continent_of.get(country, ""))):
            value = getattr(rates, field) if rates is not None else None
            if value is not None:
                return Decimal(value)
        return Decimal(getattr(self.entry.default, field))

    def internet_per_gb(self, region: str, country: str) -> Decimal:
        """Leaving ``region`` for the internet, another provider or an on-prem site."""
        return self._rate("internet_per_gb", region, country)

    def between_regions(self, src: tuple[str, str], dst: tuple[str, str]) -> Decimal:
        """From ``src`` to ``dst``, both (region, country) of this provider."""
        if src[0] == dst[0]:
            return Decimal(0)
        listed = self.entry.regions.get(src[0])
        if listed is not None and dst[0] in listed.to_regions:
            return Decimal(listed.to_regions[dst[0]])
        a, b = self.continent_of.get(src[1]), self.continent_of.get(dst[1])
        field = "same_continent_per_gb" if a is not None and a == b else "cross_continent_per_gb"
        return self._rate(field, *src)


def egress_rules(provider: str) -> EgressRules:
    """The rules of ``provider``; a provider without an entry is an ``InputError``."""
    table = egress_table()
    entry = table.providers.get(provider)
    if entry is None:
        raise InputError(f"no egress prices for provider {provider!r}",
                         source="planner/data/egress.json",
                         hint="add the provider's entry with its sources "
                              "(CONTRIBUTING.md, 'Adding a provider')")
    continent_of = {c: name for name, countries in table.continents.items() for c in countries}
    return EgressRules(provider, entry, continent_of)
