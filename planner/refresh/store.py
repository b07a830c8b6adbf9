"""The catalog store: the only code that writes catalog snapshots.

A refresh must never leave the planner without prices, and two refreshes must
never race. :func:`refresh_catalog` and :func:`write_catalog` therefore

1. hold the catalog's exclusive lock (:mod:`planner.refresh.lock`): a second
   refresh of the same file waits for the first (bounded) or, with
   ``wait=False``, fails at once naming the PID that holds it (exit code 5); a
   symlinked catalog is locked, cleaned and written next to its resolved target,
   so two links to one shared file share one lock;
2. remove the temp files an interrupted (killed) refresh left behind;
3. turn every fetched region without a single row, and every requested region
   the fetcher left out, into a failed region: it is not "fetched";
4. serialize the new catalog deterministically (:mod:`planner.refresh.serialize`)
   and re-parse those bytes with :func:`planner.catalog.load.parse_catalog`, so a
   file the loader would reject is never written (an empty catalog included);
5. read the last good file and refuse (``CatalogStoreError``, exit code 5) when
   it is there but cannot be read (permissions, not a regular file) or is
   corrupt: a file the store cannot compare against is not taken for a missing
   one, and is kept unless ``force``;
6. compare it with the last good file and refuse (exit code 5) when a region
   went missing (failed or empty), more than ``max_row_loss`` of the rows
   disappeared (by region and instance type: rows added elsewhere do not make up
   for them), or more than ``max_row_loss`` of the rows that kept their place
   lost their spot price (a keyless AWS refresh, chosen by itself when a scheduled
   run finds no credentials, carries none), or when the prices of the rows both
   hold look wrong: any price that was above 0 is 0 now, or one kind of price
   (on-demand, spot, 1y, 3y) moved by a median factor of 2 or more either way
   (:func:`price_problems`: a feed's currency or unit changed), unless ``force``;
7. write a temp file in the same directory, fsync it, ``os.replace`` it over
   the old file (keeping its mode, plus owner read) and fsync the directory.

A fetcher that fails, returns nothing or returns no rows is a
``CatalogFetchError`` (exit code 4). On any failure the old file stays
byte-identical and the temp file is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from planner.catalog.load import catalog_file_name, parse_catalog, read_catalog_bytes
from planner.catalog.schema import CatalogFile, RegionFailure
from planner.errors import CatalogError, CatalogFetchError, CatalogStoreError, PlannerError
from planner.providers.registry import cloud_providers
from planner.refresh.lock import (
    DEFAULT_LOCK_TIMEOUT_S,
    TEMP_SUFFIX,
    catalog_lock,
    remove_temp_files,
    resolved,
    temp_prefix,
)
from planner.refresh.serialize import serialize_catalog

DEFAULT_MAX_ROW_LOSS = 0.2
"""The largest share of rows a refresh may drop before the store refuses it."""

PRICE_RATIO_BOUNDS = (0.5, 2.0)
"""The median new/old ratio of one kind of price (on-demand, spot, 1y, 3y) over the
prices both catalogs hold must stay strictly between these bounds: halving or doubling
is refused. Real list prices move by a few
percent a month; the largest real moves are cuts of up to 45 % (AWS P4/P5, June 2024: a
ratio of 0.55) on a few families, which leave a whole catalog's median near 1. A median
that halves or doubles is a feed gone wrong: another currency (EUR, INR), another unit
(per month, per second, per vCPU), every price counted twice."""

MIN_PRICES_COMPARED = 5
"""A kind of price is compared only when both catalogs share at least this many of it
(a median of two or three spot prices says little: spot prices are volatile)."""

PRICE_KINDS = (("on-demand", "price_per_hour"), ("spot", "spot_price_per_hour"),
               ("1-year commitment", "commit_1y_per_hour"),
               ("3-year commitment", "commit_3y_per_hour"))
"""The prices of a row the store compares: (name in messages, row field)."""

EMPTY_REGION_ERROR = "returned 0 rows (no priced instance types)"
MISSING_REGION_ERROR = "the fetcher returned nothing for this region"
"""The errors recorded for a region that came back empty or not at all."""

Fetcher = Callable[..., CatalogFile]
Notify = Callable[[str], None]


# ---------------------------------------------------------------- comparison


def covered_regions(catalog: CatalogFile) -> set[str]:
    """Regions the catalog actually holds prices for (listed, not failed, with rows)."""
    failed = {f.region for f in catalog.failed_regions}
    with_rows = {row.region for row in catalog.rows}
    return (set(catalog.regions) & with_rows) - failed


def demote_empty_regions(catalog: CatalogFile, requested: Sequence[str] = ()) -> CatalogFile:
    """A region the fetch listed without a single row, or a requested region the fetch
    left out, is a failed region, not a fetched one."""
    with_rows = {row.region for row in catalog.rows}
    failed = {f.region: f.error for f in catalog.failed_regions}
    empty = [r for r in catalog.regions if r not in with_rows and r not in failed]
    listed = set(catalog.regions) | set(failed)
    missing = [r for r in dict.fromkeys(requested) if r not in listed]
    if not empty and not missing:
        return catalog
    failed.update(dict.fromkeys(empty, EMPTY_REGION_ERROR))
    failed.update(dict.fromkeys(missing, MISSING_REGION_ERROR))
    return catalog.model_copy(update={
        "regions": [r for r in catalog.regions if r not in empty],
        "failed_regions": [RegionFailure(region=r, error=e) for r, e in sorted(failed.items())],
    })


@dataclass(frozen=True)
class PriceShift:
    """How one kind of price moved between the old and the new catalog, over the
    (region, instance type) rows both hold that kind of price for."""

    kind: str
    shared: int
    """Rows priced this way in both catalogs (old price above 0)."""
    median_ratio: float | None
    """Median new/old over the shared prices still above 0 (None: none left)."""
    zeroed: tuple[str, ...] = ()
    """``region/instance_type old -> 0`` of every price that was above 0 and is now 0."""
    examples: tuple[str, ...] = ()
    """A few of the largest moves, ``region/instance_type old -> new``."""


@dataclass(frozen=True)
class CatalogDiff:
    """How a new catalog compares with the last good one."""

    old_rows: int
    new_rows: int
    lost_regions: tuple[str, ...]
    added_regions: tuple[str, ...]
    problems: tuple[str, ...] = field(default=())
    lost_rows: int = 0
    """Rows of the old catalog (by region and instance type) missing from the new one:
    rows added elsewhere do not make up for them."""
    prices: tuple[PriceShift, ...] = ()
    """How each kind of price moved on the rows both catalogs hold."""

    @property
    def row_loss(self) -> float:
        """Share of the old rows missing from the new catalog."""
        if self.old_rows <= 0:
            return 0.0
        return self.lost_rows / self.old_rows


def _spot_by_row(catalog: CatalogFile) -> dict[tuple[str, str], bool]:
    """Per row (region, instance type), whether it has a spot price."""
    return {(r.region, r.instance_type): r.spot_price_per_hour is not None
            for r in catalog.rows}


def lost_rows(old: CatalogFile, new: CatalogFile) -> int:
    """How many rows of ``old`` (by region and instance type) ``new`` no longer lists."""
    kept = _spot_by_row(new)
    return sum(1 for r in old.rows if (r.region, r.instance_type) not in kept)


def lost_spot_prices(old: CatalogFile, new: CatalogFile) -> tuple[int, int]:
    """(rows of ``old`` with a spot price that ``new`` still lists, how many of them
    lost it). Rows gone altogether are row loss, not counted twice here."""
    new_spot = _spot_by_row(new)
    kept = [new_spot[key] for key in ((r.region, r.instance_type) for r in old.rows
                                      if r.spot_price_per_hour is not None)
            if key in new_spot]
    return len(kept), kept.count(False)


def price_shifts(old: CatalogFile, new: CatalogFile) -> tuple[PriceShift, ...]:
    """How every kind of price moved on the (region, instance type) rows both catalogs
    hold (see :data:`PRICE_KINDS`); kinds neither catalog shares are left out."""
    new_rows = {(r.region, r.instance_type): r for r in new.rows}
    shifts = []
    for kind, attr in PRICE_KINDS:
        ratios: list[tuple[float, str]] = []
        zeroed: list[str] = []
        for row in old.rows:
            was = getattr(row, attr)
            match = new_rows.get((row.region, row.instance_type))
            now = getattr(match, attr) if match is not None else None
            if was is None or now is None or was <= 0:
                continue
            name = f"{row.region}/{row.instance_type}"
            if now == 0:
                zeroed.append(f"{name} {was} -> 0")
            else:
                ratios.append((float(now / was), f"{name} {was} -> {now}"))
        if not ratios and not zeroed:
            continue
        median = statistics.median(r for r, _ in ratios) if ratios else None
        far = sorted(ratios, key=lambda r: -abs(math.log(r[0])))  # largest moves first
        shifts.append(PriceShift(kind, len(ratios) + len(zeroed), median, tuple(zeroed),
                                 tuple(text for _, text in far[:3])))
    return tuple(shifts)


def price_problems(shifts: Sequence[PriceShift]) -> list[str]:
    """The refusals a price comparison calls for.

    * **Zeros**: any price that was above 0 and is 0 now. No fetcher or importer writes
      0 for a real price (unpriced items are skipped), so a 0 is a feed that returned
      0 or lost its prices, and it would make that instance free in every plan.
    * **Ratios**: a kind of price whose median new/old ratio over at least
      :data:`MIN_PRICES_COMPARED` shared prices is not strictly inside
      :data:`PRICE_RATIO_BOUNDS` (every price halved or doubled is refused).
    """
    problems = []
    zeroed = [(s.kind, z) for s in shifts for z in s.zeroed]
    if zeroed:
        shared = sum(s.shared for s in shifts)
        per_kind = ", ".join(f"{s.kind} {len(s.zeroed)}" for s in shifts if s.zeroed)
        examples = "; ".join(f"{kind} {z}" for kind, z in zeroed[:3])
        problems.append(
            f"{len(zeroed)} of {shared} shared prices are 0 USD/h now but were not before "
            f"({per_kind}; e.g. {examples}): real prices never drop to 0, the price feed "
            "returned 0 or lost its prices")
    low, high = PRICE_RATIO_BOUNDS
    for s in shifts:
        compared = s.shared - len(s.zeroed)
        if s.median_ratio is None or compared < MIN_PRICES_COMPARED:
            continue
        if not low < s.median_ratio < high:
            problems.append(
                f"{s.kind} prices moved by a median factor of {s.median_ratio:.3g} over "
                f"{compared} shared prices (e.g. {'; '.join(s.examples)}); real price "
                f"changes stay well between {low:g}x and {high:g}x: a currency or unit "
                "change in the price feed?")
    return problems


def compare_catalogs(old: CatalogFile | None, new: CatalogFile,
                     max_row_loss: float = DEFAULT_MAX_ROW_LOSS) -> CatalogDiff:
    """Compare ``new`` with ``old``; ``problems`` lists every reason to refuse it."""
    failures = {f.region: f.error for f in new.failed_regions}
    problems: list[str] = []
    if not new.rows:
        problems.append("the new catalog has no rows")
    if old is None:
        return CatalogDiff(0, len(new.rows), (), tuple(sorted(covered_regions(new))),
                           tuple(problems))
    old_cov, new_cov = covered_regions(old), covered_regions(new)
    lost = tuple(sorted(old_cov - new_cov))
    if lost:
        why = [f"{r} (fetch failed: {failures[r]})" if r in failures else f"{r} (not fetched)"
               for r in lost]
        problems.append("lost region(s) " + ", ".join(why))
    diff = CatalogDiff(len(old.rows), len(new.rows), lost, tuple(sorted(new_cov - old_cov)),
                       lost_rows=lost_rows(old, new), prices=price_shifts(old, new))
    if new.rows and diff.row_loss > max_row_loss:
        gone = ("" if diff.lost_rows == diff.old_rows - diff.new_rows
                else f", {diff.lost_rows} of the old ones gone")
        problems.append(f"rows {diff.old_rows} -> {diff.new_rows}{gone} "
                        f"(-{diff.row_loss:.1%}, more than the {max_row_loss:.0%} allowed)")
    spot_rows, spot_lost = lost_spot_prices(old, new)
    if spot_rows and spot_lost / spot_rows > max_row_loss:
        problems.append(f"spot prices lost on {spot_lost} of {spot_rows} rows that had one "
                        f"(more than the {max_row_loss:.0%} allowed; a keyless refresh "
                        "carries no spot prices)")
    problems.extend(price_problems(diff.prices))
    return replace(diff, problems=tuple(problems))


# ---------------------------------------------------------------- writing


def catalog_path(directory: Path, provider: str) -> Path:
    """Where the snapshot of ``provider`` lives inside ``directory``."""
    return directory / catalog_file_name(provider)


@dataclass(frozen=True)
class LastGood:
    """The file a new catalog would replace, as the store reads it to compare."""

    catalog: CatalogFile | None
    """Its catalog; None when there is no file, it cannot be read, or it holds another
    provider's catalog (which the loader rejects too: it guards nothing)."""
    error: CatalogError | None = None
    """Why a file that is there cannot be read (permissions, not a regular file, too big)
    or parsed (corrupt JSON, not a catalog)."""
    corrupt: bool = False
    """The bytes were read but are not a catalog."""

    def problem(self) -> str:
        """The refusal's reason (only when ``error`` is set)."""
        what = "is corrupt" if self.corrupt else "cannot be read"
        reason = self.error.message if self.error else "?"
        return (f"the last good catalog {what} ({reason}), so nothing guards the new one "
                "against lost regions, rows or prices")

    def hint(self) -> str:
        """How to get past the refusal."""
        fix = ("move it away (e.g. rename it to *.corrupt) or restore it from a backup"
               if self.corrupt else
               "make it readable for this user (check its owner and mode), or move it away")
        return f"the old file is kept; {fix}, or pass --force to replace it unchecked"


def read_last_good(path: Path, provider: str) -> LastGood:
    """Read ``provider``'s catalog at ``path`` (the resolved catalog path, which a
    symlink may give another name) to compare against.

    Read leniently (without the file-wide rules), so that a file an older
    planner wrote with an empty region still guards its other regions. A missing
    file is no error (a first refresh); one that is there but cannot be read or
    parsed is (``error``): the store refuses to replace what it cannot compare.
    """
    if not os.path.lexists(path):
        return LastGood(None)
    try:
        raw = read_catalog_bytes(path)
    except CatalogError as exc:
        return LastGood(None, exc)
    try:
        old = parse_catalog(raw, path, check_rows=False)
    except CatalogError as exc:
        return LastGood(None, exc, corrupt=True)
    return LastGood(old if old.provider == provider else None)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; not every platform can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temp file and ``os.replace``. Callers pass
    the :func:`~planner.refresh.lock.resolved` path: a symlink to a catalog elsewhere (a
    shared folder) stays one, its target is replaced, not the link (which then never saw
    another refresh)."""
    # the old file's mode, but never one its owner cannot read (a forced write over a
    # file left unreadable must not leave the new catalog unreadable too)
    mode = (path.stat().st_mode & 0o777) | 0o400 if path.exists() else 0o644
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path),
                                    suffix=TEMP_SUFFIX)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _link_target(path: Path, notify: Notify | None = None) -> Path:
    """Where the catalog at ``path`` is locked and written: its resolved target.

    A symlink whose target is missing is written through (the link then works
    again), but never when the target's directory is gone too (an unmounted shared
    folder): that directory is not created, and the link is not replaced by a file.
    """
    target = resolved(path)
    if not os.path.islink(path) or target.exists():
        return target
    if not target.parent.is_dir():
        raise CatalogStoreError(
            f"the catalog path is a symlink to a missing target: {target} (its directory "
            "does not exist either)", source=str(path),
            hint="nothing was written; mount or restore the shared folder, point the link "
                 "at an existing catalog, or remove the link to keep the catalog here")
    if notify is not None:
        notify(f"{path.name} is a symlink to a missing target, {target}: the new catalog "
               "is written there")
    return target


def _check_row_loss(max_row_loss: float) -> None:
    if not 0.0 <= max_row_loss <= 1.0:
        raise CatalogStoreError(f"max_row_loss must be between 0 and 1, got {max_row_loss}")


def _store(catalog: CatalogFile, path: Path, *, max_row_loss: float,
           force: bool) -> tuple[bytes, CatalogDiff]:
    """Validate, compare and atomically write ``catalog``; call only holding the lock."""
    data = serialize_catalog(catalog)
    try:
        parse_catalog(data, path)  # never write bytes the loader would reject
    except CatalogError as exc:
        where = f"{exc.path}: " if exc.path else ""
        raise CatalogStoreError(f"the new catalog does not validate: {where}{exc.message}",
                                source=str(path),
                                hint="the old file is kept; this is a fetcher bug") from exc
    last = read_last_good(path, catalog.provider)
    if last.error is not None and not force:
        raise CatalogStoreError("refusing to replace the last good catalog: " + last.problem(),
                                source=str(path), hint=last.hint())
    diff = compare_catalogs(last.catalog, catalog, max_row_loss)
    if last.error is not None:
        diff = replace(diff, problems=(last.problem(), *diff.problems))
    if diff.problems and not force:
        raise CatalogStoreError(
            "refusing to replace the last good catalog: " + "; ".join(diff.problems),
            source=str(path),
            hint="the old file is kept; re-run the refresh, or pass --force to accept it",
        )
    try:
        _atomic_write(path, data)
    except OSError as exc:
        raise CatalogStoreError(f"cannot write catalog: {exc}", source=str(path),
                                hint="the old file is kept") from exc
    return data, diff


def write_catalog(catalog: CatalogFile, directory: Path, *,
                  max_row_loss: float = DEFAULT_MAX_ROW_LOSS, force: bool = False,
                  wait: bool = True, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> Path:
    """Validate ``catalog`` and atomically replace ``directory/<provider>.json``.

    Raises ``CatalogStoreError`` (exit code 5) when the new catalog lost a
    region of the last good file or more than ``max_row_loss`` of its rows, when
    its prices dropped to 0 or moved by a median factor of 2 or more, or
    when the last good file is there but cannot be read or parsed (unless
    ``force``), when it does not validate (never forced), when another
    writer holds the catalog's lock too long, or when the file cannot be
    written. The old file is left byte-identical whenever this raises.
    """
    _check_row_loss(max_row_loss)
    path = catalog_path(directory, catalog.provider)
    target = _link_target(path)
    with catalog_lock(target, wait=wait, timeout_s=lock_timeout_s):
        remove_temp_files(target)
        _store(demote_empty_regions(catalog), target, max_row_loss=max_row_loss, force=force)
    return path


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did: the file written and how it compares with the old one."""

    provider: str
    path: Path
    sha256: str
    rows: int
    regions: tuple[str, ...]
    failed_regions: tuple[tuple[str, str], ...]
    diff: CatalogDiff
    forced: bool
    removed_temp_files: tuple[str, ...] = ()


def _fetch(provider: str, regions: Sequence[str], fetch: Fetcher,
           progress: Callable[..., Any] | None) -> CatalogFile:
    """Run the fetcher; anything but a catalog with rows is a ``CatalogFetchError``."""
    try:
        catalog = fetch(list(regions), progress=progress)
    except PlannerError:
        raise
    except Exception as exc:
        raise CatalogFetchError(f"{provider} fetch failed: {type(exc).__name__}: {exc}",
                                hint="the last good catalog is kept") from exc
    if not isinstance(catalog, CatalogFile):
        got = "nothing (None)" if catalog is None else f"a {type(catalog).__name__}"
        raise CatalogFetchError(f"the {provider} fetcher returned {got} instead of a catalog",
                                hint="the last good catalog is kept; this is a fetcher bug")
    if catalog.provider != provider:
        entry = cloud_providers()[provider].fetch or f"planner.providers.{provider}"
        raise CatalogStoreError(
            f"the {provider} fetcher returned a {catalog.provider!r} catalog (expected "
            f"{provider!r})",
            hint=f"the last good catalog is kept; check that {provider!r}'s fetch entry point "
                 f"({entry}) is the {provider} fetcher and that no plugin or wrapper replaced "
                 "it, then retry")
    if not catalog.rows:
        failed = "; ".join(f"{f.region}: {f.error}" for f in catalog.failed_regions)
        raise CatalogFetchError(
            f"{provider} fetch returned no rows for {', '.join(regions) or 'any region'}"
            + (f" (failed: {failed[:300]})" if failed else ""),
            hint="the last good catalog is kept; check region names, credentials and "
                 "filters, then retry")
    return catalog


def refresh_catalog(provider: str, regions: Sequence[str], directory: Path, *,
                    fetch: Fetcher, progress: Callable[..., Any] | None = None,
                    max_row_loss: float = DEFAULT_MAX_ROW_LOSS, force: bool = False,
                    wait: bool = True, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
                    notify: Notify | None = None) -> RefreshResult:
    """Fetch ``provider``'s prices for ``regions`` and store them (see the module doc).

    The catalog's lock is held from before the fetch to after the write, so a
    concurrent refresh of the same file waits (``notify`` hears about it) and
    then compares against this one's result. A fetcher exception, a ``None``
    or empty result become ``CatalogFetchError`` (exit code 4); a region that
    fails or comes back empty but is in the last good catalog counts as lost:
    the store refuses the refresh unless ``force``.
    """
    if provider not in cloud_providers():
        raise CatalogStoreError(f"unknown provider {provider!r}",
                                hint="choose one of " + ", ".join(cloud_providers()))
    _check_row_loss(max_row_loss)
    path = catalog_path(directory, provider)
    say = notify or (lambda _message: None)
    target = _link_target(path, say)
    with catalog_lock(target, wait=wait, timeout_s=lock_timeout_s, notify=say):
        removed = tuple(t.path.name for t in remove_temp_files(target))
        if removed:
            say(f"removed {len(removed)} leftover temp file(s) of an interrupted refresh: "
                + ", ".join(removed))
        catalog = demote_empty_regions(_fetch(provider, regions, fetch, progress), regions)
        data, diff = _store(catalog, target, max_row_loss=max_row_loss, force=force)
    return RefreshResult(
        provider=provider, path=path, sha256=hashlib.sha256(data).hexdigest(),
        rows=len(catalog.rows), regions=tuple(sorted(covered_regions(catalog))),
        failed_regions=tuple((f.region, f.error) for f in catalog.failed_regions),
        diff=diff, forced=force and bool(diff.problems), removed_temp_files=removed,
    )


def default_refresh_regions(directory: Path, provider: str) -> list[str]:
    """Regions to refresh: those of the existing file (failed ones included), else defaults."""
    old = read_last_good(resolved(catalog_path(directory, provider)), provider).catalog
    if old is None:
        return list(_default_regions(provider))
    regions = set(old.regions) | {f.region for f in old.failed_regions}
    return sorted(regions) or list(_default_regions(provider))


def _default_regions(provider: str) -> tuple[str, ...]:
    """Regions a refresh fetches when no catalog file exists yet (the provider's own)."""
    return cloud_providers()[provider].default_regions
