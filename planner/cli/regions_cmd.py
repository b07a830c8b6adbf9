"""``planner regions [PORTFOLIO]``: the names a portfolio may use for sites and user
regions — cloud sites of the catalogs (or the portfolio's own sites), and the user
regions for latency SLOs with their coordinates and city aliases."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from planner import api
from planner.cli.common import catalogs_option, friendly_errors, portfolio_context
from planner.compile.resolve import build_world
from planner.report.regions import (
    SiteRow,
    UserRegionRow,
    catalog_sites,
    regions_json,
    user_region_rows,
    world_sites,
)


def _coord(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def sites_table(rows: list[SiteRow], title: str) -> Table:
    table = Table(title=title)
    for name in ("site", "kind", "country", "city", "jurisdictions", "certifications"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(r.id, r.kind, r.country, r.city or "-", ", ".join(r.jurisdictions),
                      ", ".join(r.certifications) or "-")
    return table


def users_table(rows: list[UserRegionRow]) -> Table:
    table = Table(title="User regions (latency: {users: [...]})")
    for name in ("name", "lat", "lon", "where", "also accepted"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(r.name, _coord(r.lat), _coord(r.lon), r.description,
                      ", ".join(r.aliases) or "-")
    return table


@click.command("regions")
@click.argument("portfolio", required=False, type=click.Path(path_type=Path))
@catalogs_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@friendly_errors
def regions_cmd(portfolio: Path | None, catalogs_dir: Path | None, as_json: bool) -> None:
    """List cloud sites (id, country, city, jurisdictions, certifications) and the user
    regions for latency SLOs; with PORTFOLIO, its own sites (on-prem included, with its
    tags) and user regions."""
    catalogs = api.read_catalogs(catalogs_dir)
    if portfolio is None:
        sites, title = catalog_sites(catalogs), "Cloud sites (from the catalogs)"
        users = user_region_rows()
    else:
        model = api.load_portfolio(portfolio)
        with portfolio_context(portfolio):
            world = build_world(model, catalogs)
        sites, title = world_sites(world), f"Sites of portfolio {model.name}"
        users = user_region_rows({k: (v.lat, v.lon)
                                  for k, v in model.settings.user_regions.items()})
    if as_json:
        click.echo(json.dumps(regions_json(sites, users), indent=2))
        return
    console = Console(highlight=False, markup=False,
                      width=None if sys.stdout.isatty() else 160)
    console.print(sites_table(sites, title))
    console.print(users_table(users))
