"""Reading input files (portfolio, plan, scenario file; YAML or JSON) into validated models.

Every file is read defensively, before any large Python object exists:

* only regular files (not directories, FIFOs or devices such as ``/dev/zero``);
* at most the size limit of its kind (:data:`INPUT_LIMITS`; at most that many bytes
  are ever read; ``PLANNER_MAX_INPUT_MIB`` sets every limit);
* UTF-8 text without NUL bytes (else: line, column and "save the file as UTF-8");
* at most :data:`MAX_DEPTH` nested collections, YAML aliases that do not blow the
  document up, no duplicate keys (:mod:`planner.inputs.safe_yaml`, :mod:`planner.inputs.safe_json`).

Pydantic's errors are turned into one line with the path in the file
(``workloads[0].stages[1].hours``), the offending value and a fix hint
(:mod:`planner.inputs.messages`).
"""

from __future__ import annotations

import codecs
import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import InputError, a_kind
from planner.inputs.messages import describe, format_loc, wrong_kind
from planner.inputs.probe import probe_errors
from planner.inputs.safe_json import JsonLimitError, load_json
from planner.inputs.safe_yaml import YamlLimitError, load_yaml
from planner.models.portfolio import Portfolio

M = TypeVar("M", bound=BaseModel)

MiB = 1 << 20
MAX_DEPTH = 64
"""Nested mappings/lists a file may have (a portfolio needs about 6)."""
INPUT_LIMITS = {"portfolio": 256 * MiB, "plan": 512 * MiB, "scenarios": 16 * MiB,
                "input": 16 * MiB}
"""Largest JSON file of each kind, in bytes. A 20,000-stage portfolio is ~15 MiB of indented
JSON, a 200,000-stage one ~150 MiB; a plan takes ~1.2 KiB per placement (200,000 stages:
~240 MiB)."""
YAML_LIMIT = 16 * MiB
"""Largest YAML file of any kind: parsing YAML takes ~1.4 s and ~70 MiB of memory per MiB
(JSON: 0.05 s and 15 MiB), so large portfolios are better written as JSON."""
LIMIT_ENV = "PLANNER_MAX_INPUT_MIB"

__all__ = ["INPUT_LIMITS", "MAX_DEPTH", "YAML_LIMIT", "a_kind", "file_path", "format_loc",
           "input_limit", "load_portfolio", "read_document", "validate_as"]


def input_limit(kind: str, is_json: bool = True) -> int:
    """The size limit in bytes for a file of ``kind`` ($PLANNER_MAX_INPUT_MIB overrides)."""
    override = os.environ.get(LIMIT_ENV, "").strip()
    if override:
        if not override.isdigit() or int(override) == 0:
            raise InputError(f"must be a whole number of MiB above 0 (got {override!r})",
                             source=LIMIT_ENV, hint=f"e.g. {LIMIT_ENV}=1024, or unset it")
        return int(override) * MiB
    limit = INPUT_LIMITS.get(kind, INPUT_LIMITS["input"])
    return limit if is_json else min(limit, YAML_LIMIT)


def _what(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _too_big(size: int, limit: int, kind: str, source: str) -> InputError:
    fmt = "JSON" if source.lower().endswith(".json") else "YAML"
    return InputError(
        f"the file is larger than the {limit / MiB:,.0f} MiB limit for a {fmt} {kind} file"
        + (f" ({size / MiB:,.1f} MiB)" if size > limit else ""),
        source=source, hint=f"is this the right file? {LIMIT_ENV}=N sets the limit to N MiB")


def _open_error(exc: OSError, source: str) -> InputError:
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return InputError("file not found", source=source,
                          hint=f"check the path (relative paths start at {os.getcwd()})")
    if isinstance(exc, PermissionError):
        return InputError("permission denied", source=source,
                          hint="check the file's permissions")
    return InputError(f"cannot read file: {exc.strerror or exc}", source=source)


def _read_at_most(handle: BinaryIO, most: int, expected: int) -> bytes:
    """At most ``most`` bytes; ``expected`` (the size from stat, + 1) is read in one go
    (``read(n)`` allocates n bytes up front), more only in 1 MiB steps: a file may grow."""
    chunks = [handle.read(min(most, expected))]
    total = len(chunks[0])
    while total < most and len(chunks[-1]) > 0 and total >= expected:
        chunks.append(handle.read(min(MiB, most - total)))
        total += len(chunks[-1])
    return b"".join(chunks)


def read_bytes(path: Path, kind: str = "input") -> bytes:
    """The bytes of a regular file, refusing anything larger than the kind's limit."""
    source = str(path)
    limit = input_limit(kind, is_json=path.suffix.lower() == ".json")
    try:  # O_NONBLOCK: opening a FIFO without a writer must not hang
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise _open_error(exc, source) from None
    mode = os.fstat(fd)
    if not stat.S_ISREG(mode.st_mode):
        os.close(fd)
        raise InputError(f"{_what(mode.st_mode)}, not a file", source=source,
                         hint=f"give the path of the {kind} file")
    with os.fdopen(fd, "rb") as handle:
        if mode.st_size > limit:
            raise _too_big(mode.st_size, limit, kind, source)
        try:
            data = _read_at_most(handle, limit + 1, mode.st_size + 1)
        except OSError as exc:
            raise _open_error(exc, source) from None
    if len(data) > limit:
        raise _too_big(len(data), limit, kind, source)
    return data


def _position(data: bytes, offset: int) -> str:
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", "replace")) + 1
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line} column {column}"


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text (a leading BOM dropped); else an error with line, column and the fix."""
    fix = "save the file as UTF-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError("the file is UTF-16 text, not UTF-8", source=source, hint=fix)
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputError(f"NUL byte at {_position(data, nul)}: this is not a text file "
                         "(or it is UTF-16/UTF-32 text)", source=source, hint=fix)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8: byte 0x{data[exc.start]:02x} at "
                         f"{_position(data, exc.start)} cannot be decoded",
                         source=source, hint=fix) from None


def _yaml_error(exc: yaml.YAMLError, source: str) -> InputError:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    if "nesting depth" in problem:
        return InputError(f"nested deeper than {MAX_DEPTH} levels{where}", source=source,
                          hint="no planner file needs that; is this the right file?")
    return InputError(f"invalid YAML{where}: {problem}", source=source)


def parse_yaml(text: str, source: str) -> Any:
    try:
        return load_yaml(text, MAX_DEPTH)
    except YamlLimitError as exc:
        raise InputError(str(exc), source=source) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None


def _looks_like_yaml(text: str) -> bool:
    """Whether text that is not JSON parses as a YAML mapping or list (only tried on text
    within the YAML size limit: YAML is the slow parser). Text that opens like JSON (``{``
    or ``[``) is broken JSON, even when YAML's flow style reads it (a trailing comma)."""
    if len(text) > YAML_LIMIT or text.lstrip().startswith(("{", "[")):
        return False
    try:
        return isinstance(load_yaml(text, MAX_DEPTH), dict | list)
    except (YamlLimitError, yaml.YAMLError):
        return False


def _trailing_comma(text: str, pos: int) -> int | None:
    """The offset of a comma right before the closing bracket at ``pos``, or None."""
    if pos >= len(text) or text[pos] not in "]}":
        return None
    before = text[:pos].rstrip()
    return len(before) - 1 if before.endswith(",") else None


def parse_json(text: str, source: str) -> Any:
    try:
        return load_json(text, MAX_DEPTH)
    except JsonLimitError as exc:
        raise InputError(str(exc), source=source) from None
    except json.JSONDecodeError as exc:
        comma = _trailing_comma(text, exc.pos)
        if comma is not None:
            line = text.count("\n", 0, comma) + 1
            column = comma - (text.rfind("\n", 0, comma) + 1) + 1
            raise InputError(f"invalid JSON at line {line} column {column}: a trailing comma "
                             f"before {text[exc.pos]!r} (JSON allows none)", source=source,
                             hint="remove that comma") from None
        hint = ("this is YAML, not JSON: rename the file to .yaml, or convert it"
                if _looks_like_yaml(text) else None)
        raise InputError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                         source=source, hint=hint) from None


def read_document(path: Path, kind: str = "input") -> Any:
    """Parse a YAML or JSON file (by extension; YAML is a superset, so it is the fallback)."""
    source = str(path)
    text = decode_text(read_bytes(path, kind), source)
    if path.suffix.lower() == ".json":
        return parse_json(text, source)
    return parse_yaml(text, source)


def check_sample(model: type[BaseModel], data: Any, source: str,
                 ignore: frozenset[str] = frozenset()) -> None:
    """Raise the first error a sample of a large document shows (:mod:`planner.inputs.probe`)."""
    sampled = probe_errors(model, data, ignore)
    if sampled:
        path, msg, hint = describe(model, sampled, sample=True)
        raise InputError(msg, path=path, hint=hint, source=source)


def validate_as(model: type[M], data: Any, source: str) -> M:
    """Validate ``data`` as ``model``; the first error becomes one clear InputError.
    Large documents are probed first (:mod:`planner.inputs.probe`): junk fails on a sample."""
    wrong = wrong_kind(model, data)
    if wrong:
        raise InputError(wrong[0], source=source, hint=wrong[1])
    check_sample(model, data, source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        path, msg, hint = describe(model, exc.errors(include_url=False))
        raise InputError(msg, path=path, hint=hint, source=source) from None


def file_path(path: object, kind: str) -> Path:
    """``path`` (a ``str`` or path-like) as a :class:`Path`, else an :class:`InputError`
    saying what to give: a dict, a model or ``None`` failed with pathlib's ``TypeError``,
    and YAML or JSON text was looked up as a file name ("file not found")."""
    hint = f"give the path of the {kind} file"
    if isinstance(path, str) and ("\n" in path or (
            path.lstrip().startswith(("{", "[")) and not os.path.lexists(path))):
        raise InputError(f"expected the path of a {kind} file, got text ({path[:40]!r}…)",
                         hint=f"{hint}; to read text, write it to a file first")
    if not isinstance(path, str | os.PathLike):
        raise InputError(f"expected the path of a {kind} file, got {a_kind(path)}", hint=hint)
    try:
        return Path(path)
    except TypeError:  # a PathLike whose __fspath__ gives bytes
        raise InputError(f"expected the path of a {kind} file as text, got {path!r}",
                         hint=hint) from None


def load_document_as(model: type[M], path: str | Path, kind: str) -> M:
    """Read a file of ``kind`` (size limit, parsing) and validate it as ``model``."""
    p = file_path(path, kind)
    return validate_as(model, read_document(p, kind), str(p))


def load_portfolio(path: str | Path) -> Portfolio:
    """Load and validate a portfolio file (YAML or JSON)."""
    return load_document_as(Portfolio, path, "portfolio")
