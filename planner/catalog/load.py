"""Read catalog snapshots from a directory (``catalogs/`` by default).

The planner only ever reads snapshots; fetchers write them. Each loaded file
keeps its provenance (path, sha256, ``fetched_at``) so that plans can say which
prices they were computed with.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from planner.catalog.schema import CatalogFile
from planner.errors import CatalogError

PROVIDER_FILES = {"aws": "aws.json", "azure": "azure.json"}


@dataclass(frozen=True)
class LoadedCatalog:
    """A validated catalog file with where it came from."""

    path: Path
    sha256: str
    catalog: CatalogFile


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_catalog(raw: bytes, path: Path) -> CatalogFile:
    """Validate catalog bytes; errors name the file, the row and its instance type."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(
            f"not valid JSON: {exc}",
            source=str(path),
            hint="restore the file from git or run `planner catalog refresh`",
        ) from exc
    try:
        return CatalogFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        where = _loc(loc)
        if len(loc) >= 2 and loc[0] == "rows" and isinstance(loc[1], int):
            rows = data.get("rows", []) if isinstance(data, dict) else []
            row = rows[loc[1]] if loc[1] < len(rows) and isinstance(rows[loc[1]], dict) else {}
            where += f" ({row.get('region', '?')}/{row.get('instance_type', '?')})"
        raise CatalogError(
            err["msg"],
            path=where or None,
            source=str(path),
            hint="fix the row or re-fetch with `planner catalog refresh`",
        ) from exc


def load_catalog_file(path: Path) -> LoadedCatalog:
    """Load and validate one catalog snapshot file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read catalog: {exc.strerror}", source=str(path)) from exc
    return LoadedCatalog(
        path=path, sha256=hashlib.sha256(raw).hexdigest(), catalog=parse_catalog(raw, path)
    )


def load_catalog_dir(
    directory: Path, providers: tuple[str, ...] | None = None
) -> list[LoadedCatalog]:
    """Load every provider snapshot present in ``directory`` (sorted by provider)."""
    if not directory.is_dir():
        raise CatalogError(
            "catalog directory not found",
            source=str(directory),
            hint="pass --catalogs DIR pointing at a folder with aws.json / azure.json",
        )
    wanted = providers or tuple(sorted(PROVIDER_FILES))
    loaded = []
    for provider in sorted(wanted):
        path = directory / PROVIDER_FILES[provider]
        if path.exists():
            loaded.append(load_catalog_file(path))
    return loaded
