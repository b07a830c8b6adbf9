"""What ``planner regions`` lists: the cloud sites of the catalogs, a portfolio's on-prem
sites, and the named user regions for latency SLOs (with their city aliases).

Pure functions from loaded catalogs (and optionally a resolved :class:`World`) to rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from planner.catalog.load import LoadedCatalog
from planner.models.world import Site, SiteKind, World
from planner.vocab.jurisdictions import jurisdictions_of, region_certifications, region_coords
from planner.vocab.latency import user_region_catalog
from planner.vocab.suggest import site_place


@dataclass(frozen=True)
class SiteRow:
    """One site as ``planner regions`` shows it."""

    id: str
    kind: str
    country: str
    city: str
    jurisdictions: tuple[str, ...]
    certifications: tuple[str, ...]
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class UserRegionRow:
    """One user region: shipped (with its city aliases) or the portfolio's own."""

    name: str
    lat: float
    lon: float
    description: str
    aliases: tuple[str, ...] = ()
    source: str = "shipped"


def _site_row(site: Site) -> SiteRow:
    place = site_place(site.id)
    lat, lon = site.coords if site.coords else (None, None)
    return SiteRow(site.id, site.kind.value, site.country, place[0] if place else "",
                   tuple(sorted(site.jurisdictions)), tuple(sorted(site.certifications)),
                   lat, lon)


def catalog_sites(catalogs: list[LoadedCatalog]) -> list[SiteRow]:
    """Every cloud region with prices in the catalogs (no portfolio tags)."""
    rows: dict[str, SiteRow] = {}
    for loaded in catalogs:
        provider = loaded.catalog.provider
        for row in loaded.catalog.rows:
            sid = f"{provider}:{row.region}"
            if sid in rows:
                continue
            coords = region_coords(provider, row.region)
            place = site_place(sid)
            rows[sid] = SiteRow(
                sid, SiteKind.CLOUD.value, row.country, place[0] if place else "",
                tuple(sorted(jurisdictions_of(row.country))),
                tuple(region_certifications(provider, row.region)),
                coords[0] if coords else None, coords[1] if coords else None)
    return [rows[k] for k in sorted(rows)]


def world_sites(world: World) -> list[SiteRow]:
    """A portfolio's sites (its cloud regions with its tags, and its on-prem sites)."""
    return [_site_row(site) for site in world.sites.values()]


def user_region_rows(own: Mapping[str, tuple[float, float]] | None = None
                     ) -> list[UserRegionRow]:
    """The shipped user regions, plus a portfolio's own (``settings.user_regions``: name →
    (lat, lon)), which take over a shipped name they reuse."""
    own = own or {}
    rows = [UserRegionRow(r.name, r.lat, r.lon, r.description,
                          tuple(a for a in r.aliases if a not in own))
            for r in user_region_catalog() if r.name not in own]
    rows += [UserRegionRow(k, v[0], v[1], "defined in the portfolio", (), "portfolio")
             for k, v in sorted(own.items())]
    return rows


def regions_json(sites: list[SiteRow], users: list[UserRegionRow]) -> dict[str, Any]:
    """The ``--json`` document: ``sites`` and ``user_regions``."""
    return {"sites": [asdict(s) for s in sites], "user_regions": [asdict(u) for u in users]}
