"""Read catalog snapshots from a directory (``catalogs/`` by default).

The planner only ever reads snapshots; fetchers write them. Each loaded file
keeps its provenance (path, sha256, ``fetched_at``) so that plans can say which
prices they were computed with.

Catalog files may come from anywhere (``--catalogs DIR``), so reading them is
bounded: at most :data:`MAX_CATALOG_BYTES` are read (real catalogs are 10-15 MB),
only regular files are opened, nesting deeper than Python's recursion limit,
``NaN``/``Infinity`` literals, a top level that is not an object, and every
schema or file-wide rule (:mod:`planner.catalog.checks`) become one
``CatalogError`` line (exit code 2) naming the file and the path in it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.catalog.checks import catalog_problem
from planner.catalog.schema import CatalogFile
from planner.catalog.where import CLI_FLAG, empty_hint, point_hint
from planner.errors import CatalogError

CATALOG_SUFFIX = ".json"

MAX_CATALOG_BYTES = 128 * 1024 * 1024
"""The largest catalog file the planner reads (128 MiB, about 10x a full real catalog)."""

_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
"""A JSON string (skipped whole) or a bracket; used to find where nesting goes too deep."""

REFETCH_HINT = "restore the file from git or re-fetch it with `planner catalog refresh`"


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


class _Constant:
    """Stands in for a ``NaN``/``Infinity`` literal while its path is looked up."""


class _ConstantFound(ValueError):
    """Raised by the decoder at the first ``NaN``/``Infinity`` literal."""


def _reject_constant(name: str) -> Any:
    raise _ConstantFound(name)


def _constant_path(raw: bytes) -> str | None:
    """Where the first ``NaN``/``Infinity`` literal is (decoding once more, keeping them)."""
    try:
        where = _find_constant(json.loads(raw, parse_constant=lambda _n: _Constant()))
    except (ValueError, RecursionError):
        return None
    return _loc(where) if where else None


def _find_constant(value: Any, loc: tuple[int | str, ...] = ()) -> tuple[int | str, ...] | None:
    """Path of the first :class:`_Constant` in a parsed document (iterative, any depth)."""
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(value, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, _Constant):
            return where
        if isinstance(item, dict):
            stack.extend((v, (*where, k)) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((v, (*where, i)) for i, v in reversed(list(enumerate(item))))
    return None


class _DuplicateKey(ValueError):
    pass


def _one_of_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different (JSON would keep the last of two silently:
    a row with price_per_hour twice was priced by the second)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _decode(raw: bytes, path: Path) -> Any:
    """``json.loads`` with every failure as one ``CatalogError`` line."""
    try:
        return json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_one_of_each)
    except _DuplicateKey as exc:
        raise CatalogError(f"the key {str(exc)!r} appears twice in one object",
                           source=str(path), hint=REFETCH_HINT) from None
    except _ConstantFound as exc:
        raise CatalogError(f"{exc} is not a number (JSON has no NaN or Infinity)",
                           path=_constant_path(raw), source=str(path),
                           hint=REFETCH_HINT) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, over-long integers
        raise CatalogError(f"not valid JSON: {exc}", source=str(path), hint=REFETCH_HINT) from None
    except RecursionError:
        raise CatalogError("not a catalog: JSON nested too deeply to read"
                           + _too_deep_at(raw, 100), source=str(path),
                           hint=REFETCH_HINT) from None


def _too_deep_at(raw: bytes, limit: int) -> str:
    """`` (more than N levels at line L column C)`` for the first bracket nested too deep."""
    depth = 0
    for match in _JSON_TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                pos = match.start()
                line = raw.count(b"\n", 0, pos) + 1
                column = pos - raw.rfind(b"\n", 0, pos)
                return f" (more than {limit} levels at line {line} column {column})"
        elif token in (b"]", b"}"):
            depth -= 1
    return ""


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type (array, string, null …)."""
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _row_label(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """`` (region/instance_type)`` of the row an error is in, when it is in one."""
    if len(loc) < 2 or loc[0] != "rows" or not isinstance(loc[1], int):
        return ""
    rows = data.get("rows")
    row = rows[loc[1]] if isinstance(rows, list) and loc[1] < len(rows) else None
    if not isinstance(row, dict):
        return ""
    return f" ({str(row.get('region', '?'))[:40]}/{str(row.get('instance_type', '?'))[:60]})"


def _validation_error(exc: ValidationError, data: dict[str, Any], path: Path) -> CatalogError:
    """The first pydantic error as one line: path, row, what is wrong and the value."""
    errors = exc.errors()
    err = errors[0]
    loc = tuple(err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] not in ("value_error", "missing"):
        message += f", got {repr(err.get('input'))[:60]}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem(s))"
    return CatalogError(message, path=(_loc(loc) + _row_label(data, loc)) or None,
                        source=str(path), hint=REFETCH_HINT)


def parse_catalog(raw: bytes, path: Path, *, check_rows: bool = True) -> CatalogFile:
    """Validate catalog bytes; errors name the file, the path, the row and its instance type.

    ``check_rows=False`` skips the file-wide rules of :mod:`planner.catalog.checks`
    (the store uses it to read an old file it only compares against).
    """
    data = _decode(raw, path)
    if not isinstance(data, dict):
        raise CatalogError(f"the top level must be a JSON object, got {_json_type(data)}",
                           path="(top level)", source=str(path), hint=REFETCH_HINT)
    try:
        catalog = CatalogFile.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, data, path) from None
    except RecursionError:
        raise CatalogError("not a catalog: nested too deeply to validate", source=str(path),
                           hint=REFETCH_HINT) from None
    problem = catalog_problem(catalog) if check_rows else None
    if problem is not None:
        raise CatalogError(problem[1], path=problem[0], source=str(path), hint=REFETCH_HINT)
    return catalog


def read_catalog_bytes(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` (default :data:`MAX_CATALOG_BYTES`)."""
    most = MAX_CATALOG_BYTES if limit is None else limit
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise CatalogError("not a regular file", source=str(path),
                               hint="a catalog must be a plain JSON file")
        if info.st_size > most:
            raise _too_big(path, info.st_size, most)
        with path.open("rb") as fh:
            raw = fh.read(most + 1)
    except FileNotFoundError as exc:
        if path.is_symlink():
            raise dangling_link(path) from None
        raise CatalogError(f"cannot read catalog: {exc.strerror or exc}",
                           source=str(path)) from None
    except OSError as exc:
        raise CatalogError(f"cannot read catalog: {exc.strerror or exc}",
                           source=str(path)) from None
    if len(raw) > most:
        raise _too_big(path, len(raw), most)
    return raw


def dangling_link(path: Path) -> CatalogError:
    """The error for a catalog path that is a symlink whose target does not exist."""
    return CatalogError(
        f"the catalog path is a symlink to a missing target: {os.path.realpath(path)}",
        source=str(path),
        hint="restore the target (is the shared folder mounted?), point the link at an "
             "existing catalog, or remove the link")


def _too_big(path: Path, size: int, limit: int) -> CatalogError:
    return CatalogError(f"file is larger than {limit / 2**20:g} MiB (at least "
                        f"{size / 2**20:.1f} MiB); not a catalog", source=str(path),
                        hint=REFETCH_HINT)


def load_catalog_file(path: Path) -> LoadedCatalog:
    """Load and validate one catalog snapshot file."""
    raw = read_catalog_bytes(path)
    return LoadedCatalog(
        path=path, sha256=hashlib.sha256(raw).hexdigest(), catalog=parse_catalog(raw, path)
    )


def catalog_file_name(provider: str) -> str:
    """A provider's snapshot file in a catalog directory: ``<provider>.json``."""
    return provider + CATALOG_SUFFIX


def check_provider(loaded: LoadedCatalog) -> LoadedCatalog:
    """``aws.json`` must hold the ``aws`` catalog (a renamed or copied file is an error)."""
    expected = loaded.path.name.removesuffix(CATALOG_SUFFIX)
    if loaded.catalog.provider != expected:
        raise CatalogError(f"the file holds the {loaded.catalog.provider!r} catalog, not "
                           f"{expected!r}", path="provider", source=str(loaded.path),
                           hint=f"name it {catalog_file_name(loaded.catalog.provider)}, or "
                                "restore the right file")
    return loaded


def load_catalog_dir(
    directory: Path, providers: tuple[str, ...] | None = None, given_as: str = CLI_FLAG
) -> list[LoadedCatalog]:
    """Load the snapshot of every provider in ``providers`` present in ``directory``
    (sorted by provider); with ``providers=None``, every ``<name>.json`` in it.

    A folder that is not there, is a file, or holds none of those files is a
    :class:`CatalogError` whose hint suits how the folder was given (``given_as``:
    ``--catalogs``, ``planner.load_catalogs``, ``$PLANNER_CATALOGS``; see
    :mod:`planner.catalog.where`)."""
    if not directory.is_dir():
        folder = directory.parent if directory.suffix.lower() == CATALOG_SUFFIX else None
        raise CatalogError(
            "a file, not a catalog directory" if directory.exists()
            else "catalog directory not found",
            source=str(directory),
            hint=f"catalogs are read by folder: give the one that holds it, {folder}"
            if directory.exists() and folder is not None else point_hint(given_as),
        )
    if providers is None:
        providers = tuple(p.name.removesuffix(CATALOG_SUFFIX)
                          for p in directory.glob("*" + CATALOG_SUFFIX)
                          if not p.name.startswith("."))
    loaded = []
    for provider in sorted(set(providers)):
        path = directory / catalog_file_name(provider)
        if os.path.lexists(path):
            loaded.append(check_provider(load_catalog_file(path)))
    if not loaded:
        names = ", ".join(catalog_file_name(p) for p in sorted(set(providers)))
        raise CatalogError(f"no catalog files found (looked for {names or '<provider>.json'})",
                           source=str(directory), hint=empty_hint(given_as))
    return loaded
