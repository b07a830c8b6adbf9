"""Countries → jurisdictions, and cloud regions → countries.

A site's jurisdictions are derived from its country: the country code itself,
``EU`` for the 27 member states, ``EEA`` for the EU plus Iceland, Liechtenstein
and Norway, and ``GDPR-ADEQUATE`` for the EEA plus the countries with an EU
adequacy decision (data may flow there under GDPR Art. 45). Sites may add custom
tags (e.g. ``DE-HEALTH``); a portfolio may use those tags in residency rules.

The region → country table is data (``planner/data/regions.json``) so that it
can be checked against the providers' own region lists; so is the list of ISO 3166-1
alpha-2 codes (``planner/data/iso3166.json``, with names) every country in a portfolio
is checked against, with a suggestion for the usual mistakes (``UK`` → ``GB``).
"""

from __future__ import annotations

import difflib
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


@cache
def _iso3166() -> tuple[dict[str, str], dict[str, str]]:
    """(code → English short name, common mistake → code) from ``data/iso3166.json``."""
    text = resources.files("planner").joinpath("data/iso3166.json").read_text("utf-8")
    data = json.loads(text)
    return dict(data["countries"]), dict(data["aliases"])


def country_name(code: str) -> str | None:
    """The English short name of an ISO 3166-1 alpha-2 code, or None when it is not one."""
    return _iso3166()[0].get(code)


def suggest_country(text: str) -> str | None:
    """The ISO code a mistaken country probably meant: a common alias (``UK`` → ``GB``,
    ``EL`` → ``GR``), the code in the wrong case (``de``), or a country's name (``Germany``)."""
    names, aliases = _iso3166()
    t = text.strip()
    if t.upper() in aliases:
        return aliases[t.upper()]
    if t.upper() in names:
        return t.upper()
    by_name = {name.lower(): code for code, name in names.items()}
    close = difflib.get_close_matches(t.lower(), list(by_name), n=1, cutoff=0.8)
    return by_name[close[0]] if close else None


def country_problem(text: str) -> str | None:
    """Why ``text`` is not an ISO 3166-1 alpha-2 country code (with a suggestion), or None
    when it is one."""
    if country_name(text) is not None:
        return None
    guess = suggest_country(text)
    hint = (f"did you mean {guess!r} ({country_name(guess)})?" if guess
            else "use a code such as DE, FR, GB or US")
    return f"not an ISO 3166-1 alpha-2 country code; {hint}"
