"""``planner catalog``: refresh, inspect and query the cloud price catalogs.

Thin click commands over :mod:`planner.refresh.store` and
:mod:`planner.catalog.query`. Tables go to stdout, progress and logs to
stderr. A ``PlannerError`` prints one ``error: …`` line and exits with the
error's exit code (2 bad input or corrupt catalog, 4 fetch failed or returned
nothing, 5 store refused or the catalog is locked by another refresh); the last
good catalog file is never touched by a failed refresh.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from rich.console import Console
from rich.table import Table

from planner.catalog.freshness import DEFAULT_MAX_AGE_DAYS, future_warning, stale_catalogs
from planner.catalog.load import catalog_file_name, load_catalog_dir
from planner.catalog.paths import (
    CATALOGS_ENV,
    bundled_catalog_dir,
    refresh_target_dir,
    resolve_catalog_dir,
)
from planner.catalog.query import GpuOffer, find_gpu_offers
from planner.cli.common import check_finite, checked, err_console, friendly_errors
from planner.errors import CatalogError, InputError
from planner.providers.registry import cloud_providers
from planner.refresh.lock import DEFAULT_LOCK_TIMEOUT_S
from planner.refresh.serialize import dump_json
from planner.refresh.status import CatalogStatus, catalog_status, leftover_temp_files
from planner.refresh.store import (
    DEFAULT_MAX_ROW_LOSS,
    Fetcher,
    RefreshResult,
    default_refresh_regions,
    refresh_catalog,
)

F = TypeVar("F", bound=Callable[..., Any])

PROVIDERS = click.Choice(list(cloud_providers()))
DIR_TYPE = click.Path(file_okay=False, path_type=Path)
CATALOGS_OPTION = click.option(
    "--catalogs", "catalogs_dir", type=DIR_TYPE, default=None,
    help=f"Catalog directory (default: ${CATALOGS_ENV}, else the user cache when it holds "
         "catalogs, else the bundled snapshot).")


def _out() -> Console:
    """Console for tables and results (stdout); wide when not a terminal."""
    return Console(highlight=False, markup=False,
                   width=None if sys.stdout.isatty() else 200)


def _log(console: Console, message: str) -> None:
    """One timestamped progress line (plain text, no markup)."""
    console.print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", markup=False)


def _split(values: Iterable[str]) -> list[str]:
    """``--regions a,b --regions c`` → ``[a, b, c]`` (order kept, duplicates dropped)."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip()
            if name and name not in out:
                out.append(name)
    return out


def load_fetcher(provider: str) -> Fetcher:
    """The provider's fetcher (its module is imported only when a refresh runs)."""
    return cast(Fetcher, cloud_providers()[provider].fetcher())


def _progress_printer(console: Console, provider: str) -> Callable[..., None]:
    """A progress callback that logs whatever the fetcher reports, one line each."""

    def report(*args: Any, **kwargs: Any) -> None:
        parts = [str(a) for a in args] + [f"{k}={v}" for k, v in sorted(kwargs.items())]
        _log(console, f"{provider}: " + " ".join(parts))

    return report


def _report_refresh(result: RefreshResult) -> None:
    """Summary line on stdout; failed regions and forced problems as warnings on stderr."""
    err = err_console()
    for region, error in result.failed_regions:
        err.print(f"warning: {result.provider} {region}: fetch failed: {error}", markup=False)
    if result.forced:
        err.print("warning: accepted with --force despite: " + "; ".join(result.diff.problems),
                  markup=False)
    _out().print(f"wrote {result.path}: {result.rows} rows "
                 f"(was {result.diff.old_rows}), {len(result.regions)} region(s), "
                 f"sha256 {result.sha256[:12]}", markup=False)


def refresh_target(out: Path | None) -> Path:
    """``--out``, ``$PLANNER_CATALOGS`` or the user cache (created on first use)."""
    target = refresh_target_dir(out)
    if out is None and not target.exists():
        try:
            target.mkdir(parents=True)
        except OSError as exc:
            raise CatalogError(f"cannot create the catalog cache: {exc.strerror or exc}",
                               source=str(target),
                               hint="pass --out DIR or set $PLANNER_CATALOGS") from None
    return target


def regions_source(out: Path, provider: str) -> Path:
    """Where the default regions of a refresh come from: the target's catalog, else the
    bundled snapshot's (a first refresh into the user cache fetches the same regions)."""
    bundled = bundled_catalog_dir()
    name = catalog_file_name(provider)
    return bundled if not (out / name).exists() and (bundled / name).is_file() else out


@click.group("catalog")
def catalog() -> None:
    """Refresh, inspect and query the cloud price catalogs."""


def store_options(func: F) -> F:
    """The store options shared by ``refresh`` and ``import``."""
    for option in reversed((
        click.option("--out", "out", type=DIR_TYPE, default=None,
                     help=f"Catalog directory to write (default: ${CATALOGS_ENV}, else the "
                          "user cache, e.g. ~/.cache/planner/catalogs)."),
        click.option("--max-row-loss", type=click.FloatRange(0.0, 1.0),
                     default=DEFAULT_MAX_ROW_LOSS, show_default=True,
                     callback=checked(check_finite),
                     help="Refuse when more than this share of rows (or of their spot prices) "
                          "disappears."),
        click.option("--force", is_flag=True,
                     help="Replace the catalog even if regions or rows got lost, prices "
                          "dropped to 0 or moved by a factor of 2, or the old file cannot "
                          "be read."),
        click.option("--no-wait", is_flag=True,
                     help="Exit at once (code 5) when another refresh of the catalog is running."),
        click.option("--wait-timeout", type=click.FloatRange(min=0),
                     default=DEFAULT_LOCK_TIMEOUT_S, show_default=True, metavar="SECONDS",
                     callback=checked(check_finite),
                     help="How long to wait for another refresh of the same catalog."),
    )):
        func = option(func)
    return func


@catalog.command("refresh")
@click.option("--provider", type=PROVIDERS, required=True, help="Cloud provider to fetch.")
@click.option("--regions", "regions", multiple=True, metavar="R1,R2",
              help="Regions to fetch (comma-separated or repeated). Default: the regions "
                   "of the existing catalog file, else a built-in default list.")
@store_options
@click.option("--keyless", is_flag=True,
              help="Use only public price lists, no credentials: AWS bulk offer files (no "
                   "spot prices), Azure Retail Prices API (no SKU restrictions). Chosen "
                   "automatically, with a message, when no credentials are found.")
@friendly_errors
def refresh_cmd(provider: str, regions: tuple[str, ...], out: Path | None,
                max_row_loss: float, force: bool, no_wait: bool, wait_timeout: float,
                keyless: bool) -> None:
    """Fetch current prices and atomically replace the provider's catalog file.

    One refresh per catalog file at a time: a second one waits for the first
    (at most --wait-timeout seconds) or, with --no-wait, exits. Exit codes: 4
    when the fetch fails or returns nothing, 5 when the store refuses the new
    catalog (lost or empty regions, lost rows, prices at 0 or halved/doubled,
    an old file it cannot read) or another refresh holds it;
    the last good file is kept in every case.
    """
    out = refresh_target(out)
    wanted = _split(regions) or default_refresh_regions(regions_source(out, provider), provider)
    err = err_console()
    _log(err, f"refreshing {provider} catalog in {out} for {len(wanted)} region(s)"
         + (" (keyless)" if keyless else "") + ": " + ", ".join(wanted))
    fetch = load_fetcher(provider)
    if keyless:
        fetch = functools.partial(fetch, keyless=True)
    result = refresh_catalog(provider, wanted, out, fetch=fetch,
                             progress=_progress_printer(err, provider),
                             max_row_loss=max_row_loss, force=force, wait=not no_wait,
                             lock_timeout_s=wait_timeout,
                             notify=lambda message: _log(err, message))
    _report_refresh(result)


IMPORT_FORMATS = click.Choice(["skypilot", "azure-retail"])


@catalog.command("import")
@click.option("--format", "fmt", type=IMPORT_FORMATS, required=True,
              help="skypilot: SkyPilot catalog CSV (vms.csv); azure-retail: Azure Retail "
                   "Prices API pages saved with curl.")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--provider", type=PROVIDERS, default=None,
              help="The files' provider (required for skypilot; azure-retail is azure).")
@store_options
@friendly_errors
def import_cmd(fmt: str, files: tuple[Path, ...], provider: str | None, out: Path | None,
               max_row_loss: float, force: bool, no_wait: bool, wait_timeout: float) -> None:
    """Import a catalog you already have and store it like a refresh.

    Rows carry source kind "import" and the file names with their sha256. The
    file replaces the provider's catalog in --out through the same store as a
    refresh: validated, locked, refused (exit 5) when regions or more than
    --max-row-loss of the rows would be lost, unless --force. Bad input exits 2.
    """
    from planner.refresh.importers import import_azure_retail, import_skypilot

    target = refresh_target(out)
    err = err_console()
    if fmt == "skypilot":
        if provider is None:
            raise InputError("--provider is required with --format skypilot",
                             path="--provider", hint="pass --provider aws or --provider azure")
        catalog = import_skypilot(files, provider, progress=_progress_printer(err, provider))
    else:
        if provider not in (None, "azure"):
            raise InputError(f"--format azure-retail imports Azure prices, not {provider}",
                             path="--provider", hint="drop --provider or pass azure")
        catalog = import_azure_retail(files, progress=_progress_printer(err, "azure"))
    regions = [*catalog.regions, *(f.region for f in catalog.failed_regions)]
    _log(err, f"importing {len(catalog.rows)} {catalog.provider} rows ({fmt}) into {target}")
    result = refresh_catalog(catalog.provider, regions, target,
                             fetch=lambda _regions, progress=None: catalog,
                             max_row_loss=max_row_loss, force=force, wait=not no_wait,
                             lock_timeout_s=wait_timeout,
                             notify=lambda message: _log(err, message))
    _report_refresh(result)


def _mix(provenance: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in provenance.items()) or "-"


def _when(stamp: datetime | None) -> str:
    return stamp.strftime("%Y-%m-%d %H:%M") if stamp else ""


def _status_table(rows: list[CatalogStatus]) -> Table:
    table = Table(title="Catalog snapshots")
    for name in ("Provider", "File", "SHA256", "Fetched at", "Age (days)", "Rows", "GPU rows",
                 "Regions", "Failed regions", "Stale"):
        table.add_column(name, no_wrap=True)
    for s in rows:
        if s.error:
            table.add_row(s.provider, s.file, "", "", "", "", "", "", "", "CORRUPT")
            continue
        table.add_row(s.provider, s.file, s.sha256 or "", _when(s.fetched_at),
                      f"{s.age_days or 0:.1f}", str(s.rows), str(s.gpu_rows), str(s.regions),
                      ", ".join(sorted(s.failed_regions)) or "-", "STALE" if s.stale else "no")
    return table


def _provenance_table(rows: list[CatalogStatus]) -> Table:
    table = Table(title="Where the prices come from (rows per source kind)")
    for name in ("Provider", "Rows", "GPU rows", "Regions", "Provenance", "Oldest price read",
                 "Newest price read"):
        table.add_column(name, no_wrap=True)
    for s in rows:
        if not s.error:
            table.add_row(s.provider, str(s.rows), str(s.gpu_rows), str(s.regions),
                          _mix(s.provenance), _when(s.oldest_fetch), _when(s.newest_fetch))
    return table


@catalog.command("status")
@CATALOGS_OPTION
@click.option("--max-age-days", type=click.FloatRange(min=0), default=DEFAULT_MAX_AGE_DAYS,
              show_default=True, callback=checked(check_finite),
              help="Catalogs older than this are flagged stale.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def status_cmd(catalogs_dir: Path | None, max_age_days: float, as_json: bool) -> None:
    """Show age, size and failed regions of every catalog snapshot.

    Warns about temp files an interrupted refresh left behind. Exits 2 when a
    catalog file is corrupt (after printing the others).
    """
    location = resolve_catalog_dir(catalogs_dir)
    if not as_json:
        _out().print(location.describe(), markup=False)
    catalogs_dir = location.path
    rows = catalog_status(catalogs_dir, max_age_days=max_age_days)
    for leftover in leftover_temp_files(catalogs_dir):
        prefix = "note" if leftover.refreshing else "warning"
        err_console().print(f"{prefix}: {leftover.message()}", markup=False)
    for s in rows:
        if s.fetched_at is not None and s.age_days is not None and s.age_days < -1:
            err_console().print(f"warning: {future_warning(s.file, s.fetched_at)}",
                                markup=False)
    if as_json:
        click.echo(dump_json([s.to_dict() for s in rows]))
    elif not rows:
        err_console().print(f"no catalog files in {catalogs_dir}", markup=False)
    else:
        _out().print(_status_table(rows))
        _out().print(_provenance_table(rows))
        for s in rows:
            for region, error in sorted(s.failed_regions.items()):
                _out().print(f"{s.provider} {region}: {error}", markup=False)
    corrupt = [s for s in rows if s.error]
    for s in corrupt:
        click.echo(f"error: {s.error}", err=True)
    if corrupt:
        click.get_current_context().exit(CatalogError.exit_code)


def _price(value: object) -> str:
    return "-" if value is None else f"{value:.4f}"


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _offers_table(title: str, offers: list[GpuOffer]) -> Table:
    table = Table(title=f"Offers for {title} (cheapest first; source * = the file's)")
    for name, justify in (("GPU", "left"), ("Count", "right"), ("Instance type", "left"),
                          ("Provider", "left"), ("Region", "left"), ("vCPUs", "right"),
                          ("Memory (GiB)", "right"), ("On-demand $/h", "right"),
                          ("Spot $/h", "right"), ("1y $/h", "right"), ("3y $/h", "right"),
                          ("Source", "left")):
        table.add_column(name, justify=cast(Any, justify), no_wrap=True)
    for o in offers:
        table.add_row(o.gpu_model, _count(o.gpu_count), o.instance_type, o.provider, o.region,
                      str(o.vcpus), f"{o.memory_gib:g}", _price(o.price_per_hour),
                      _price(o.spot_price_per_hour), _price(o.commit_1y_per_hour),
                      _price(o.commit_3y_per_hour), o.source.label() if o.source else "-")
    return table


@catalog.command("show")
@click.option("--gpu", default=None,
              help="GPU model or family, e.g. H100, or A100 (matches A100-40GB and -80GB).")
@click.option("--vendor", default=None,
              help="Accelerator vendor: nvidia, amd, aws (Trainium/Inferentia), habana.")
@click.option("--region", "regions", multiple=True, help="Only these regions (repeat or comma).")
@click.option("--provider", type=PROVIDERS, default=None, help="Only this provider.")
@CATALOGS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def show_cmd(gpu: str | None, vendor: str | None, regions: tuple[str, ...],
             provider: str | None, catalogs_dir: Path | None, as_json: bool) -> None:
    """List instance types carrying a GPU model, family or vendor, with prices and the
    source of each price, cheapest first."""
    location = resolve_catalog_dir(catalogs_dir)
    loaded = load_catalog_dir(location.path,
                              (provider,) if provider else tuple(cloud_providers()),
                              location.source)
    for warning in stale_catalogs(loaded):
        err_console().print(f"warning: {warning}", markup=False)
    offers = find_gpu_offers(loaded, gpu, vendor=vendor, regions=_split(regions),
                             providers=(provider,) if provider else ())
    title = " ".join(x for x in (f"GPU {gpu}" if gpu else "", f"vendor {vendor}" if vendor
                                 else "") if x)
    if as_json:
        click.echo(dump_json([o.to_dict() for o in offers]))
    elif not offers:
        err_console().print(f"no offers for {title} in the selected catalogs/regions",
                            markup=False)
    else:
        _out().print(_offers_table(title, offers))
        for ref in sorted({o.source.ref for o in offers if o.source}):
            _out().print(f"source: {ref}", markup=False)
