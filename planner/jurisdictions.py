"""Countries → jurisdictions, and cloud regions → countries.

A site's jurisdictions are derived from its country: the country code itself,
``EU`` for the 27 member states, ``EEA`` for the EU plus Iceland, Liechtenstein
and Norway, and ``GDPR-ADEQUATE`` for the EEA plus the countries with an EU
adequacy decision (data may flow there under GDPR Art. 45). Sites may add custom
tags (e.g. ``DE-HEALTH``); a portfolio may use those tags in residency rules.

The region → country table is data (``planner/data/regions.json``) so that it
can be checked against the providers' own region lists.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

EU: frozenset[str] = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
EEA: frozenset[str] = EU | {"IS", "LI", "NO"}
# Countries with an EU adequacy decision (Art. 45 GDPR), without the US (whose
# Data Privacy Framework covers certified companies only, not the country).
ADEQUATE: frozenset[str] = EEA | frozenset(
    ["AD", "AR", "CA", "CH", "FO", "GB", "GG", "IL", "IM", "JE", "JP", "KR", "NZ", "UY"]
)

# Every jurisdiction tag the planner derives itself, besides country codes.
DERIVED_TAGS: frozenset[str] = frozenset({"EU", "EEA", "GDPR-ADEQUATE"})


def jurisdictions_of(country: str, extra: tuple[str, ...] | list[str] = ()) -> frozenset[str]:
    """All jurisdiction tags a site in ``country`` belongs to, plus ``extra`` tags."""
    tags = {country}
    if country in EU:
        tags.add("EU")
    if country in EEA:
        tags.add("EEA")
    if country in ADEQUATE:
        tags.add("GDPR-ADEQUATE")
    tags.update(extra)
    return frozenset(tags)


@cache
def region_table() -> dict[str, dict[str, dict[str, object]]]:
    """provider → region code → facts (``country``, ``city``, ``certifications``)."""
    text = resources.files("planner").joinpath("data/regions.json").read_text("utf-8")
    data: dict[str, dict[str, dict[str, object]]] = json.loads(text)["providers"]
    return data


def region_country(provider: str, region: str) -> str | None:
    """ISO 3166-1 alpha-2 country of a cloud region, or None when unknown."""
    facts = region_table().get(provider, {}).get(region)
    return str(facts["country"]) if facts else None


def region_certifications(provider: str, region: str) -> tuple[str, ...]:
    """Compliance certifications a cloud region holds (from the region table)."""
    facts = region_table().get(provider, {}).get(region)
    if not facts:
        return ()
    certs = facts.get("certifications", [])
    return tuple(sorted(str(c) for c in certs)) if isinstance(certs, list) else ()


def region_coords(provider: str, region: str) -> tuple[float, float] | None:
    """(lat, lon) of a cloud region's metro area, or None when the table has none."""
    facts = region_table().get(provider, {}).get(region)
    if not facts or "lat" not in facts or "lon" not in facts:
        return None
    return (float(str(facts["lat"])), float(str(facts["lon"])))
