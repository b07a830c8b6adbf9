"""Where a catalog row's prices came from: its own ``source``, or else the file's.

Rows written by this planner's fetchers and importers carry a
:class:`~planner.catalog.schema.RowSource`; older files (and hand-made ones) have
rows without it, and then the file's envelope tells: an import, a keyless bulk
refresh, a transcribed snapshot, or an API fetch (:func:`file_kind`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from planner.catalog.schema import CatalogFile, CatalogRow, SourceKind

KINDS: tuple[SourceKind, ...] = ("api", "bulk", "import", "transcribed")


@dataclass(frozen=True)
class Provenance:
    """How, from where and when one row's prices were read; ``inherited`` when the
    row has no source of its own and the file's is used."""

    kind: SourceKind
    ref: str
    fetched_at: datetime
    inherited: bool = False

    def label(self) -> str:
        """Short text for tables: ``api 2026-11-21`` (``*`` marks the file's source)."""
        mark = "*" if self.inherited else ""
        return f"{self.kind}{mark} {self.fetched_at:%Y-%m-%d}"


def file_kind(catalog: CatalogFile) -> SourceKind:
    """The provenance kind of a file's rows that carry none, from its envelope."""
    apis = " ".join(catalog.source.apis).lower()
    note = (catalog.source.note or "").lower()
    if "import" in apis:
        return "import"
    if "bulk api" in apis or "keyless" in note:
        return "bulk"
    if "transcribed" in note or "bundled snapshot" in note:
        return "transcribed"
    return "api"


def row_provenance(row: CatalogRow, catalog: CatalogFile) -> Provenance:
    """The row's provenance (its own source, else the file's)."""
    if row.source is not None:
        return Provenance(row.source.kind, row.source.ref, row.source.fetched_at)
    ref = "; ".join(catalog.source.apis) or "catalog file"
    return Provenance(file_kind(catalog), ref, catalog.fetched_at, inherited=True)


def provenance_mix(catalog: CatalogFile) -> dict[str, int]:
    """Rows per provenance kind (kinds without rows left out)."""
    counts = dict.fromkeys(KINDS, 0)
    for row in catalog.rows:
        counts[row_provenance(row, catalog).kind] += 1
    return {k: v for k, v in counts.items() if v}


def fetch_span(catalog: CatalogFile) -> tuple[datetime, datetime] | None:
    """Oldest and newest fetch time over the rows (None without rows)."""
    times = [row_provenance(row, catalog).fetched_at for row in catalog.rows]
    return (min(times), max(times)) if times else None
