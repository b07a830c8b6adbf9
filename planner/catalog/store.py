"""The catalog store: the only code that writes catalog snapshots.

A refresh must never leave the planner without prices. :func:`write_catalog`
therefore

1. serializes the new catalog deterministically (rows sorted by region and
   instance type, ``indent=1``, decimal prices written as exact JSON numbers);
2. re-parses those bytes with :func:`planner.catalog.load.parse_catalog`, so a
   file the loader would reject is never written;
3. compares it with the last good file and refuses (``CatalogStoreError``,
   exit code 5) when a region went missing or more than ``max_row_loss`` of the
   rows disappeared, unless ``force``;
4. writes a temp file in the same directory, fsyncs it, ``os.replace``-s it over
   the old file and fsyncs the directory.

On any failure the old file stays byte-identical and the temp file is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from planner.catalog.load import PROVIDER_FILES, LoadedCatalog, load_catalog_file, parse_catalog
from planner.catalog.schema import CatalogFile
from planner.errors import CatalogError, CatalogFetchError, CatalogStoreError, PlannerError

DEFAULT_MAX_AGE_DAYS = 30
"""Catalogs fetched longer ago than this many days are reported as stale."""

DEFAULT_MAX_ROW_LOSS = 0.2
"""The largest share of rows a refresh may drop before the store refuses it."""

DEFAULT_REGIONS: dict[str, tuple[str, ...]] = {
    "aws": ("us-east-1", "us-west-2", "eu-central-1", "eu-west-1"),
    "azure": ("eastus", "westeurope", "germanywestcentral"),
}
"""Regions a refresh fetches when no catalog file exists yet for the provider."""

Fetcher = Callable[..., CatalogFile]


# ---------------------------------------------------------------- serialization


def _encode(value: Any, level: int, out: list[str]) -> None:
    """Append the JSON text of ``value`` to ``out`` (``json.dumps(indent=1)`` layout)."""
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        pad = " " * (level + 1)
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("," if i else "") + "\n" + pad + json.dumps(str(key)) + ": ")
            _encode(item, level + 1, out)
        out.append("\n" + " " * level + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        pad = " " * (level + 1)
        out.append("[")
        for i, item in enumerate(value):
            out.append(("," if i else "") + "\n" + pad)
            _encode(item, level + 1, out)
        out.append("\n" + " " * level + "]")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write non-finite decimal {value}")
        out.append(format(value, "f"))
    elif isinstance(value, datetime):
        out.append(json.dumps(value.isoformat().replace("+00:00", "Z")))
    elif isinstance(value, date):
        out.append(json.dumps(value.isoformat()))
    elif value is None or isinstance(value, bool | int | float | str):
        out.append(json.dumps(value, allow_nan=False))
    else:
        _encode(to_jsonable_python(value), level, out)


def dump_json(value: Any) -> str:
    """JSON text with ``indent=1``; decimals become exact numbers (no float noise)."""
    out: list[str] = []
    _encode(value, 0, out)
    return "".join(out)


def serialize_catalog(catalog: CatalogFile) -> bytes:
    """The exact bytes the store writes for ``catalog`` (deterministic, trailing newline)."""
    data = catalog.model_dump(mode="python")
    data["fetched_at"] = catalog.fetched_at.astimezone(UTC)
    data["rows"] = sorted(data["rows"], key=lambda r: (r["region"], r["instance_type"]))
    return (dump_json(data) + "\n").encode("utf-8")


# ---------------------------------------------------------------- comparison


def covered_regions(catalog: CatalogFile) -> set[str]:
    """Regions the catalog actually holds prices for (listed and not failed)."""
    failed = {f.region for f in catalog.failed_regions}
    return set(catalog.regions) - failed


@dataclass(frozen=True)
class CatalogDiff:
    """How a new catalog compares with the last good one."""

    old_rows: int
    new_rows: int
    lost_regions: tuple[str, ...]
    added_regions: tuple[str, ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def row_loss(self) -> float:
        """Share of the old rows missing from the new catalog (0 when rows grew)."""
        if self.old_rows <= 0:
            return 0.0
        return max(0.0, (self.old_rows - self.new_rows) / self.old_rows)


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
    diff = CatalogDiff(len(old.rows), len(new.rows), lost, tuple(sorted(new_cov - old_cov)))
    if new.rows and diff.row_loss > max_row_loss:
        problems.append(f"rows {diff.old_rows} -> {diff.new_rows} "
                        f"(-{diff.row_loss:.1%}, more than the {max_row_loss:.0%} allowed)")
    return CatalogDiff(diff.old_rows, diff.new_rows, lost, diff.added_regions, tuple(problems))


# ---------------------------------------------------------------- writing


def catalog_path(directory: Path, provider: str) -> Path:
    """Where the snapshot of ``provider`` lives inside ``directory``."""
    return directory / PROVIDER_FILES[provider]


def _read_last_good(path: Path) -> CatalogFile | None:
    """The current file's catalog, or None when it is missing or corrupt."""
    try:
        return parse_catalog(path.read_bytes(), path)
    except (OSError, CatalogError):
        return None


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
    """Write ``data`` to ``path`` via a fsynced temp file and ``os.replace``."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def write_catalog(catalog: CatalogFile, directory: Path, *,
                  max_row_loss: float = DEFAULT_MAX_ROW_LOSS, force: bool = False) -> Path:
    """Validate ``catalog`` and atomically replace ``directory/<provider>.json``.

    Raises ``CatalogStoreError`` (exit code 5) when the new catalog lost a
    region of the last good file or more than ``max_row_loss`` of its rows
    (unless ``force``), or when the file cannot be written. The old file is
    left byte-identical whenever this raises.
    """
    if not 0.0 <= max_row_loss <= 1.0:
        raise CatalogStoreError(f"max_row_loss must be between 0 and 1, got {max_row_loss}")
    path = catalog_path(directory, catalog.provider)
    data = serialize_catalog(catalog)
    try:
        parse_catalog(data, path)  # never write bytes the loader would reject
    except CatalogError as exc:
        where = f"{exc.path}: " if exc.path else ""
        raise CatalogStoreError(f"the new catalog does not validate: {where}{exc.message}",
                                source=str(path),
                                hint="the old file is kept; this is a fetcher bug") from exc
    diff = compare_catalogs(_read_last_good(path), catalog, max_row_loss)
    if diff.problems and not force:
        raise CatalogStoreError(
            "refusing to replace the last good catalog: " + "; ".join(diff.problems),
            source=str(path),
            hint="the old file is kept; re-run the refresh, or pass --force to accept it",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data)
    except OSError as exc:
        raise CatalogStoreError(f"cannot write catalog: {exc}", source=str(path),
                                hint="the old file is kept") from exc
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


def refresh_catalog(provider: str, regions: Sequence[str], directory: Path, *,
                    fetch: Fetcher, progress: Callable[..., Any] | None = None,
                    max_row_loss: float = DEFAULT_MAX_ROW_LOSS,
                    force: bool = False) -> RefreshResult:
    """Fetch ``provider``'s prices for ``regions`` and store them with :func:`write_catalog`.

    A fetcher exception becomes ``CatalogFetchError`` (exit code 4) and leaves
    the old file untouched. A region that fails to fetch but is in the last
    good catalog counts as lost: the store refuses the refresh unless ``force``.
    """
    if provider not in PROVIDER_FILES:
        raise CatalogStoreError(f"unknown provider {provider!r}",
                                hint="choose one of " + ", ".join(sorted(PROVIDER_FILES)))
    old = _read_last_good(catalog_path(directory, provider))
    try:
        catalog = fetch(list(regions), progress=progress)
    except PlannerError:
        raise
    except Exception as exc:
        raise CatalogFetchError(f"{provider} fetch failed: {type(exc).__name__}: {exc}",
                                hint="the last good catalog is kept") from exc
    if catalog.provider != provider:
        raise CatalogStoreError(f"the fetcher returned a {catalog.provider!r} catalog "
                                f"for provider {provider!r}")
    path = write_catalog(catalog, directory, max_row_loss=max_row_loss, force=force)
    diff = compare_catalogs(old, catalog, max_row_loss)
    return RefreshResult(
        provider=provider, path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        rows=len(catalog.rows), regions=tuple(sorted(covered_regions(catalog))),
        failed_regions=tuple((f.region, f.error) for f in catalog.failed_regions),
        diff=diff, forced=force and bool(diff.problems),
    )


def default_refresh_regions(directory: Path, provider: str) -> list[str]:
    """Regions to refresh: those of the existing file (failed ones included), else defaults."""
    old = _read_last_good(catalog_path(directory, provider))
    if old is None:
        return list(DEFAULT_REGIONS[provider])
    regions = set(old.regions) | {f.region for f in old.failed_regions}
    return sorted(regions) or list(DEFAULT_REGIONS[provider])


# ---------------------------------------------------------------- status


@dataclass(frozen=True)
class CatalogStatus:
    """One provider snapshot as the status command reports it."""

    provider: str
    file: str
    sha256: str | None = None
    fetched_at: datetime | None = None
    age_days: float | None = None
    stale: bool = False
    rows: int = 0
    regions: int = 0
    gpu_rows: int = 0
    failed_regions: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps as ISO 8601 UTC)."""
        out = asdict(self)
        if self.fetched_at is not None:
            out["fetched_at"] = self.fetched_at.isoformat().replace("+00:00", "Z")
        if self.age_days is not None:
            out["age_days"] = round(self.age_days, 2)
        return out


def catalog_status(directory: Path, *, now: datetime | None = None,
                   max_age_days: float = DEFAULT_MAX_AGE_DAYS) -> list[CatalogStatus]:
    """Status of every provider snapshot in ``directory``; corrupt files carry ``error``."""
    if not directory.is_dir():
        raise CatalogError("catalog directory not found", source=str(directory),
                           hint="pass --catalogs DIR or set PLANNER_CATALOGS")
    ref = now or datetime.now(UTC)
    out = []
    for provider in sorted(PROVIDER_FILES):
        path = catalog_path(directory, provider)
        if not path.exists() and not path.is_symlink():
            continue
        try:
            loaded = load_catalog_file(path)
        except CatalogError as exc:
            out.append(CatalogStatus(provider=provider, file=str(path), error=str(exc)))
            continue
        cat = loaded.catalog
        age = cat.age_days(ref)
        out.append(CatalogStatus(
            provider=provider, file=str(path), sha256=loaded.sha256[:12],
            fetched_at=cat.fetched_at, age_days=age, stale=age > max_age_days,
            rows=len(cat.rows), regions=len(covered_regions(cat)),
            gpu_rows=sum(1 for r in cat.rows if r.gpu_count > 0),
            failed_regions={f.region: f.error for f in cat.failed_regions},
        ))
    return out


def stale_catalogs(loaded: Sequence[LoadedCatalog], max_age_days: float = DEFAULT_MAX_AGE_DAYS,
                   now: datetime | None = None) -> list[str]:
    """Human-readable warnings for catalogs older than ``max_age_days`` (or from the future)."""
    ref = now or datetime.now(UTC)
    warnings = []
    for item in loaded:
        cat = item.catalog
        age = cat.age_days(ref)
        stamp = cat.fetched_at.strftime("%Y-%m-%d %H:%M UTC")
        if age > max_age_days:
            warnings.append(
                f"{item.path}: {cat.provider} prices were fetched {stamp} ({age:.0f} days ago, "
                f"more than {max_age_days:g}); run `planner catalog refresh --provider "
                f"{cat.provider}`"
            )
        elif age < -1:
            warnings.append(f"{item.path}: fetched_at {stamp} lies in the future; "
                            "check the clock of the machine that fetched it")
    return warnings
