"""Rules of a catalog file that span rows: one business rule per function.

The per-field rules (types, ranges, prices, GPU names) are in
:mod:`planner.catalog.schema`; these need the whole file. Each check returns the
first problem as ``(path in the file, message)`` or ``None``;
:func:`catalog_problem` runs them in order. A file breaking any of them is
rejected when it loads (``CatalogError``, exit code 2), and the store never
writes one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planner.catalog.schema import CatalogFile
from planner.vocab.jurisdictions import country_name, region_country

Problem = tuple[str, str]

MAX_SOURCE_DEPTH = 32
"""How deeply ``source`` (free-form fetch parameters) may nest; fetchers use 4 levels."""


def has_rows(cat: CatalogFile) -> Problem | None:
    """A catalog without a single row prices nothing: it is a failed fetch."""
    if not cat.rows:
        return "rows", "the catalog has no rows"
    return None


def regions_unique(cat: CatalogFile) -> Problem | None:
    """Every fetched region is listed once."""
    seen: set[str] = set()
    for i, region in enumerate(cat.regions):
        if region in seen:
            return f"regions[{i}]", f"region {region!r} is listed twice"
        seen.add(region)
    return None


def failed_regions_not_fetched(cat: CatalogFile) -> Problem | None:
    """A region is either fetched or failed, never both."""
    fetched = set(cat.regions)
    for i, failure in enumerate(cat.failed_regions):
        if failure.region in fetched:
            return (f"failed_regions[{i}].region",
                    f"region {failure.region!r} is listed as both fetched and failed")
    return None


def rows_match_provider(cat: CatalogFile) -> Problem | None:
    """Every row belongs to the catalog's provider."""
    for i, row in enumerate(cat.rows):
        if row.provider != cat.provider:
            return (f"rows[{i}].provider",
                    f"{row.region}/{row.instance_type}: provider {row.provider!r} "
                    f"in a {cat.provider!r} catalog")
    return None


def rows_in_listed_regions(cat: CatalogFile) -> Problem | None:
    """Every row's region is one of the fetched regions."""
    fetched = set(cat.regions)
    for i, row in enumerate(cat.rows):
        if row.region not in fetched:
            return (f"rows[{i}].region",
                    f"{row.region}/{row.instance_type}: region {row.region!r} is not in "
                    "the fetched regions (`regions`)")
    return None


def rows_in_their_country(cat: CatalogFile) -> Problem | None:
    """Every row names an ISO 3166-1 country, the one the region table gives its region
    (``planner/data/regions.json``), and all rows of a region agree: residency is decided
    on it (a row of eu-central-1 saying US put Frankfurt in the US, and the first row of
    a region decided for all)."""
    first: dict[str, tuple[str, int]] = {}
    for i, row in enumerate(cat.rows):
        where = f"rows[{i}].country"
        if country_name(row.country) is None:
            return where, (f"{row.region}/{row.instance_type}: {row.country!r} is not an "
                           "ISO 3166-1 alpha-2 country code")
        known = region_country(cat.provider, row.region)
        if known is not None and row.country != known:
            return where, (f"{row.region}/{row.instance_type}: region {row.region} is in "
                           f"{known} ({country_name(known)}), not {row.country}")
        seen = first.setdefault(row.region, (row.country, i))
        if seen[0] != row.country:
            return where, (f"{row.region}/{row.instance_type}: country {row.country}, but "
                           f"rows[{seen[1]}] of the same region says {seen[0]}")
    return None


def rows_unique(cat: CatalogFile) -> Problem | None:
    """One row per (region, instance type): a duplicate makes the price ambiguous."""
    first: dict[tuple[str, str], int] = {}
    for i, row in enumerate(cat.rows):
        key = (row.region, row.instance_type)
        if key in first:
            return (f"rows[{i}]", f"duplicate row {row.region}/{row.instance_type} "
                                  f"(same region and instance type as rows[{first[key]}])")
        first[key] = i
    return None


def regions_have_rows(cat: CatalogFile) -> Problem | None:
    """A fetched region without a single row is a lost region, not a fetched one."""
    with_rows = {row.region for row in cat.rows}
    for i, region in enumerate(cat.regions):
        if region not in with_rows:
            return (f"regions[{i}]", f"region {region!r} has no rows (its fetch returned "
                                     "nothing; list it under failed_regions or re-fetch)")
    return None


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of ``value`` (lists and dicts), counted up to ``limit + 1``."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def source_not_too_deep(cat: CatalogFile) -> Problem | None:
    """``source.parameters`` is free-form; bound its nesting so it can be rewritten."""
    if _depth(cat.source.parameters, MAX_SOURCE_DEPTH) > MAX_SOURCE_DEPTH:
        return ("source.parameters",
                f"nested more than {MAX_SOURCE_DEPTH} levels deep")
    return None


CHECKS: tuple[Callable[[CatalogFile], Problem | None], ...] = (
    has_rows, regions_unique, failed_regions_not_fetched, rows_match_provider,
    rows_in_listed_regions, rows_in_their_country, rows_unique, regions_have_rows,
    source_not_too_deep,
)


def catalog_problem(cat: CatalogFile) -> Problem | None:
    """The first broken file-wide rule as ``(path, message)``, or ``None``."""
    for check in CHECKS:
        problem = check(cat)
        if problem is not None:
            return problem
    return None
