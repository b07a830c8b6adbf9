""""Did you mean …" for names a user typed: sites by city and country, lists that say
how many more there are.

Spelling alone points the wrong way for site ids: ``aws:eu-frankfurt-1`` is closest
in letters to ``aws:eu-north-1`` (Stockholm). A place name inside the typed id (a
city such as ``frankfurt``, or a country name such as ``germany``) is matched against
the cloud regions' cities and countries first (``planner/data/regions.json``), the
typed provider's sites first: ``aws:eu-central-1`` (Frankfurt), then
``azure:germanywestcentral`` (Frankfurt). Only without a place match does the
closest spelling decide.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from planner.vocab.gpus import closest
from planner.vocab.jurisdictions import country_name, region_table

MAX_LISTED = 12
"""Valid names listed in a hint before it says how many more there are."""
MAX_SITE_SUGGESTIONS = 3


def listing(names: Iterable[str], limit: int = MAX_LISTED) -> str:
    """``a, b, c`` — or the first ``limit`` and ``… (N more)``."""
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit])
    rest = len(ordered) - limit
    return f"{shown}, … ({rest} more)" if rest > 0 else shown


def _norm(text: str) -> str:
    """Lower case, no accents, words joined by ``-`` (``São Paulo`` → ``sao-paulo``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))


def _places(typed: str) -> set[str]:
    """Place names a typed id may contain: each word and each run of 2–3 words."""
    words = re.findall(r"[a-z]+", _norm(typed.split(":", 1)[-1]))
    out = {w for w in words if len(w) >= 4}
    for n in (2, 3):
        out |= {"-".join(words[i:i + n]) for i in range(len(words) - n + 1)}
    return out


def site_place(site_id: str) -> tuple[str, str] | None:
    """(city, country code) of a cloud site id from the region table, or None."""
    provider, _, region = site_id.partition(":")
    facts = region_table().get(provider, {}).get(region)
    if not facts:
        return None
    return str(facts.get("city", "")), str(facts.get("country", ""))


def _place_matches(site_id: str, places: set[str]) -> int:
    """2 when the site's city is named, 1 when its country is, else 0."""
    place = site_place(site_id)
    if place is None:
        return 0
    city, country = place
    if _norm(city) in places or any(_norm(part) in places for part in city.split(",")):
        return 2
    name = country_name(country) or ""
    return 1 if name and _norm(name) in places else 0


def suggest_sites(typed: str, valid: Iterable[str]) -> list[str]:
    """Sites a mistyped site id probably meant: by the city or country it names (same
    provider first), else by spelling; at most :data:`MAX_SITE_SUGGESTIONS`."""
    sites = sorted(valid)
    places = _places(typed)
    provider = typed.split(":", 1)[0] if ":" in typed else ""
    scored = [(score, site) for site in sites if (score := _place_matches(site, places))]
    if scored:
        best = max(score for score, _ in scored)
        hits = [s for score, s in scored if score == best]
        hits.sort(key=lambda s: (s.split(":", 1)[0] != provider, s))
        return hits[:MAX_SITE_SUGGESTIONS]
    guess = closest(typed, sites)
    return [guess] if guess else []


def _place_note(site_id: str) -> str:
    """`` (Frankfurt, DE)`` for a cloud site, else nothing."""
    place = site_place(site_id)
    return f" ({place[0]}, {place[1]})" if place and place[0] else ""


def site_hint(typed: str, valid: Iterable[str]) -> str:
    """The hint for an unknown site id: suggestions with their city, or the valid ids."""
    names = sorted(valid)
    found = suggest_sites(typed, names)
    if not found:
        return f"valid: {listing(names)}; `planner regions` lists every site"
    first, *others = found
    hint = f"did you mean {first!r}?{_place_note(first)}"
    if others:
        hint += "; also " + ", ".join(f"{s!r}{_place_note(s)}" for s in others)
    return hint
