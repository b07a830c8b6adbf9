"""What ``planner catalog status`` reports: each snapshot's age, size and health,
and the temp files an interrupted refresh left behind."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner.catalog.freshness import DEFAULT_MAX_AGE_DAYS
from planner.catalog.load import check_provider, load_catalog_file
from planner.catalog.provenance import fetch_span, provenance_mix
from planner.errors import CatalogError
from planner.providers.registry import cloud_providers
from planner.refresh.lock import holder_pid, is_locked, resolved, temp_files
from planner.refresh.store import catalog_path, covered_regions


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
    provenance: dict[str, int] = field(default_factory=dict)
    """Rows per source kind (api, bulk, import, transcribed)."""
    oldest_fetch: datetime | None = None
    newest_fetch: datetime | None = None
    """The oldest and newest time a row's prices were read."""
    error: str | None = None
    leftover_temp_files: dict[str, int] = field(default_factory=dict)
    """Temp files of interrupted refreshes (name → bytes); the next refresh removes them."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps as ISO 8601 UTC)."""
        out = asdict(self)
        for key in ("fetched_at", "oldest_fetch", "newest_fetch"):
            stamp = getattr(self, key)
            if stamp is not None:
                out[key] = stamp.isoformat().replace("+00:00", "Z")
        if self.age_days is not None:
            out["age_days"] = round(self.age_days, 2)
        return out


@dataclass(frozen=True)
class Leftovers:
    """Temp files next to one catalog; ``refresh_pid`` is set while a refresh runs."""

    provider: str
    catalog: Path
    files: dict[str, int]
    refreshing: bool
    refresh_pid: int | None

    def message(self) -> str:
        """One warning line for the CLI."""
        total = sum(self.files.values()) / 1e6
        names = ", ".join(sorted(self.files))
        if self.refreshing:
            who = f"process {self.refresh_pid}" if self.refresh_pid else "another process"
            return (f"{self.catalog}: a refresh is running ({who}); its temp file(s): {names}")
        return (f"{self.catalog}: {len(self.files)} leftover temp file(s) of an interrupted "
                f"refresh ({total:.1f} MB): {names}; the next `planner catalog refresh "
                f"--provider {self.provider}` removes them")


def leftover_temp_files(directory: Path) -> list[Leftovers]:
    """Temp files of every provider's catalog in ``directory`` (catalog file or not; for
    a symlinked catalog, next to its target, where the store writes and locks)."""
    out = []
    for provider in cloud_providers():
        path = catalog_path(directory, provider)
        target = resolved(path)
        found = temp_files(target)
        if not found:
            continue
        running = is_locked(target)
        out.append(Leftovers(provider, path, {t.path.name: t.size for t in found}, running,
                             holder_pid(target) if running else None))
    return out


def catalog_status(directory: Path, *, now: datetime | None = None,
                   max_age_days: float = DEFAULT_MAX_AGE_DAYS) -> list[CatalogStatus]:
    """Status of every provider snapshot in ``directory``; corrupt files carry ``error``."""
    if not directory.is_dir():
        raise CatalogError("catalog directory not found", source=str(directory),
                           hint="pass --catalogs DIR or set PLANNER_CATALOGS")
    ref = now or datetime.now(UTC)
    leftovers = {lo.provider: lo.files for lo in leftover_temp_files(directory)
                 if not lo.refreshing}
    out = []
    for provider in cloud_providers():
        path = catalog_path(directory, provider)
        if not path.exists() and not path.is_symlink():
            continue
        extra = leftovers.get(provider, {})
        try:
            loaded = check_provider(load_catalog_file(path))
        except CatalogError as exc:
            out.append(CatalogStatus(provider=provider, file=str(path), error=str(exc),
                                     leftover_temp_files=extra))
            continue
        cat = loaded.catalog
        age = cat.age_days(ref)
        span = fetch_span(cat)
        out.append(CatalogStatus(
            provider=provider, file=str(path), sha256=loaded.sha256[:12],
            fetched_at=cat.fetched_at, age_days=age, stale=age > max_age_days,
            rows=len(cat.rows), regions=len(covered_regions(cat)),
            gpu_rows=sum(1 for r in cat.rows if r.gpu_count > 0),
            failed_regions={f.region: f.error for f in cat.failed_regions},
            provenance=provenance_mix(cat),
            oldest_fetch=span[0] if span else None, newest_fetch=span[1] if span else None,
            leftover_temp_files=extra,
        ))
    return out
