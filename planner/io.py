"""Reading input files (portfolio YAML/JSON) into validated models.

Pydantic's errors are turned into one line with the path in the file
(``workloads[0].stages[1].hours``), the offending value and a fix hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import InputError
from planner.models.portfolio import Portfolio

M = TypeVar("M", bound=BaseModel)


def format_loc(loc: tuple[int | str, ...]) -> str:
    """('workloads', 3, 'stages', 0, 'hours') → 'workloads[3].stages[0].hours'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read_document(path: Path) -> Any:
    """Parse a YAML or JSON file (by extension; YAML is a superset, so it is the fallback)."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise InputError("file not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", source=str(path)) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source=str(path)
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"invalid YAML{where}: {problem}", source=str(path)) from None


def _hint(err: dict[str, Any]) -> str | None:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "remove it or check its spelling against the portfolio schema (`planner schema`)"
    if kind == "missing":
        return "add this field"
    if kind == "literal_error" or kind == "enum":
        ctx = err.get("ctx") or {}
        return f"expected {ctx.get('expected', 'one of the listed values')}"
    if kind == "string_pattern_mismatch":
        return "use lower-case ids like 'onprem:munich-dc1', 'aws:eu-central-1', 'sepsis-eu'"
    return None


def validate_as(model: type[M], data: Any, source: str) -> M:
    """Validate ``data`` as ``model``; the first error becomes one clear InputError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = format_loc(tuple(err["loc"])) or None
        msg = str(err["msg"])
        if (
            "input" in err
            and err["type"] not in ("missing",)
            and not isinstance(err["input"], dict | list)
        ):
            msg += f" (got {err['input']!r})"
        extra = len(exc.errors()) - 1
        if extra:
            msg += f"; and {extra} more error{'s' if extra > 1 else ''}"
        raise InputError(msg, path=path, hint=_hint(dict(err)), source=source) from None


def load_portfolio(path: str | Path) -> Portfolio:
    """Load and validate a portfolio file (YAML or JSON)."""
    p = Path(path)
    data = read_document(p)
    if not isinstance(data, dict):
        raise InputError("a portfolio must be a mapping with name, workloads, …", source=str(p))
    return validate_as(Portfolio, data, str(p))
