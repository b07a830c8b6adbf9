"""Pydantic validation errors as one line a user can act on.

* the path in the file (``workloads[3].stages[0].gpu``), never an internal class name:
  "expected a mapping with keys models, count" instead of "instance of GpuNeed";
* a misspelt key names the closest valid key at that level (difflib);
* values are quoted at most :data:`MAX_GOT` characters long;
* hints name the right schema: ``planner schema portfolio`` for portfolios,
  ``planner schema plan`` for plans, the README's scenario format for scenario files;
* a file of the wrong kind (a portfolio where a plan is expected …) is named as such.
"""

from __future__ import annotations

import difflib
import itertools
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, time
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

MAX_GOT = 60
MAX_KEYS = 8
MAX_FUZZY = 64

# The file kinds, by the name of their top-level model, and their characteristic keys.
KIND_OF_MODEL = {"Portfolio": "portfolio", "Plan": "plan", "ScenarioFile": "scenario file"}
KIND_KEYS: dict[str, frozenset[str]] = {
    "portfolio": frozenset({"workloads", "onprem", "cloud", "settings"}),
    "plan": frozenset({"placements", "totals", "solver", "schema_version", "unplaced",
                       "resources", "pruned"}),
    "scenario file": frozenset({"scenarios"}),
    "what-if report": frozenset({"base", "scenarios"}),
    "price catalog": frozenset({"rows", "provider", "fetched_at", "failed_regions", "egress"}),
}
SCHEMA_HINT = {
    "portfolio": "`planner schema portfolio` lists every key",
    "plan": "`planner schema plan` lists every key",
    "scenario file": "see examples/scenarios.yaml; the format is in the user guide, "
                     "section 'Input files'",
}
GIVE = {
    "portfolio": "give the portfolio YAML/JSON; `planner init` writes a starter one",
    "plan": "give the plan JSON that `planner plan` wrote",
    "scenario file": "give a scenario file like examples/scenarios.yaml",
}
EXPECTED = {  # pydantic's wording names Python types ("Decimal input should be …")
    "int_type": "expected a whole number", "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number", "float_type": "expected a number",
    "float_parsing": "expected a number", "decimal_type": "expected a number",
    "decimal_parsing": "expected a number", "string_type": "expected a string",
    "bool_type": "expected true or false", "bool_parsing": "expected true or false",
}
_SHAPE_ERRORS = {"model_type", "model_attributes_type", "dict_type", "dataclass_type",
                 "mapping_type"}


def format_loc(loc: Sequence[int | str]) -> str:
    """('workloads', 3, 'stages', 0, 'hours') → 'workloads[3].stages[0].hours'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def file_kind(model: type[BaseModel]) -> str | None:
    """'portfolio', 'plan' or 'scenario file' for the top-level models; else None."""
    return KIND_OF_MODEL.get(model.__name__)


def guess_kind(data: Any) -> tuple[str, list[str]] | None:
    """The file kind whose characteristic top-level keys ``data`` has most of."""
    if not isinstance(data, Mapping):
        return None
    keys = {k for k in data if isinstance(k, str)}
    best = max(KIND_KEYS, key=lambda kind: len(_near(KIND_KEYS[kind], keys)))
    found = sorted(_near(KIND_KEYS[best], keys))
    return (best, found) if found else None


def _near(characteristic: frozenset[str], keys: set[str]) -> set[str]:
    """The keys that are, or are nearly (a typo away), characteristic keys (typos are
    looked for among the first MAX_FUZZY keys only: a file may have millions)."""
    exact = keys & characteristic
    fuzzy = itertools.islice((k for k in keys if k not in exact), MAX_FUZZY)
    return exact | {k for k in fuzzy if difflib.get_close_matches(k, characteristic, 1, 0.85)}


def wrong_kind(model: type[BaseModel], data: Any) -> tuple[str, str] | None:
    """(message, hint) when ``data`` looks like another kind of file than ``model`` reads:
    it has more of that kind's characteristic keys (that ``model`` does not know) than of
    the expected kind's."""
    expected = file_kind(model)
    if expected is None or not isinstance(data, Mapping):
        return None
    keys = {k for k in data if isinstance(k, str)}
    guess = guess_kind({k: None for k in keys - set(model.model_fields)})
    if guess is None or guess[0] == expected:
        return None
    if len(_near(KIND_KEYS[expected], keys)) >= len(guess[1]):
        return None
    article = "an" if guess[0][0] in "aeiou" else "a"
    return (f"this looks like {article} {guess[0]}, not a {expected}: it has "
            f"{_listing(guess[1], 3)}", GIVE[expected])


def _unwrap(tp: Any) -> Any:
    """The type behind Optional / Annotated / a union with one model or container."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = next((a for a in args if _is_model(a) or typing.get_origin(a)), args[0])
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def type_at(model: type[BaseModel], loc: Sequence[int | str]) -> Any:
    """The declared type at ``loc`` inside ``model`` (parts it cannot follow are skipped)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if _is_model(tp):
            if isinstance(part, str) and part in tp.model_fields:
                tp = tp.model_fields[part].annotation
        elif isinstance(origin, type) and issubclass(origin, Mapping):
            tp = typing.get_args(tp)[1]
        elif origin is not None and isinstance(part, int) and typing.get_args(tp):
            tp = typing.get_args(tp)[0]
    return _unwrap(tp)


def keys_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys a mapping at ``loc`` may have (required ones first), if it is a model."""
    tp = type_at(model, loc)
    if not _is_model(tp):
        return []
    fields = tp.model_fields
    return sorted(fields, key=lambda name: not fields[name].is_required())


def short(value: Any) -> str:
    """``repr`` of a value, cut to MAX_GOT characters (a huge value stays one short line);
    values YAML makes of unquoted text (dates, sets, binary) as the file shows them."""
    if isinstance(value, Mapping | list | tuple | set | frozenset) and len(value) > MAX_KEYS:
        what = "a mapping" if isinstance(value, Mapping) else \
            "a set" if isinstance(value, set | frozenset) else "list"
        return f"{what} of {len(value):,} items"
    if isinstance(value, date | time):
        return f"{value.isoformat()}, a date: quote it if it is text"
    if isinstance(value, set | frozenset):
        return "a set {" + ", ".join(sorted(map(short, value)))[:MAX_GOT] + "}"
    if isinstance(value, bytes | bytearray):
        return f"binary data ({len(value):,} bytes)"
    if isinstance(value, Decimal):
        value = str(value)
        return value if len(value) <= MAX_GOT else f"a number of {len(value):,} characters"
    if isinstance(value, int) and value.bit_length() > 200:
        return f"a number of about {int(value.bit_length() * 0.30103):,} digits"
    try:
        text = repr(value)
    except RecursionError:  # pragma: no cover - depth is bounded when parsing
        text = "…"
    return text if len(text) <= MAX_GOT else text[: MAX_GOT - 1] + "…"


def what_it_is(value: Any) -> str:
    """The kind of a parsed value in the words of the file: a list, a string, …"""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return f"the string {short(value)}"
    if isinstance(value, int | float):
        return f"the number {short(value)}"
    return short(value)


def _listing(names: list[str], most: int = MAX_KEYS) -> str:
    shown = ", ".join(names[:most])
    return shown + (", …" if len(names) > most else "")


def _message(model: type[BaseModel], err: Mapping[str, Any]) -> tuple[list[Any], str, str | None]:
    """(loc to show, message, hint) for one pydantic error."""
    loc, kind = list(err["loc"]), err["type"]
    what = file_kind(model)
    schema = SCHEMA_HINT.get(what or "", "")
    if kind == "extra_forbidden" and loc:
        close = difflib.get_close_matches(str(loc[-1]), keys_at(model, loc[:-1]), n=1,
                                          cutoff=0.6)
        guess = f", did you mean {close[0]!r}?" if close else ""
        return loc, f"unknown key {short(loc[-1])}{guess}", \
            "remove it or fix its spelling" + (f"; {schema}" if schema else "")
    if kind == "missing" and loc:
        return loc, f"missing required key {short(loc[-1])}", \
            "add it" + (f"; {schema}" if schema else "")
    if kind in _SHAPE_ERRORS:
        keys = keys_at(model, loc)
        value = err.get("input")
        if not loc and value is None:
            return loc, f"the file is empty; a {what or 'document'} is a mapping with keys " \
                        f"{_listing(keys)}", schema or None
        return loc, (f"expected a mapping with keys {_listing(keys)}, got {what_it_is(value)}"
                     if keys else f"expected a mapping, got {what_it_is(value)}"), schema or None
    if kind in ("list_type", "tuple_type", "set_type"):
        return loc, f"expected a list, got {what_it_is(err.get('input'))}", schema or None
    msg = EXPECTED.get(kind) or str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    value = err.get("input")
    if "input" in err and not isinstance(value, Mapping | list | tuple):
        msg += f" (got {short(value)})"
    elif kind.endswith(("_type", "_parsing")):
        msg += f" (got {what_it_is(value)})"
    return loc, msg, _hint(kind, err)


def _hint(kind: str, err: Mapping[str, Any]) -> str | None:
    if kind in ("literal_error", "enum"):
        ctx = err.get("ctx") or {}
        return f"expected {ctx.get('expected', 'one of the listed values')}"
    if kind == "string_pattern_mismatch":
        return "use lower-case ids like 'onprem:munich-dc1', 'aws:eu-central-1', 'sepsis-eu'"
    return None


def _order(err: Mapping[str, Any]) -> int:
    """Unknown keys first: a misspelt key also makes the right key "missing"."""
    return 0 if err["type"] == "extra_forbidden" else 1


def _explained(err: Mapping[str, Any], by: Mapping[str, Any], model: type[BaseModel]) -> bool:
    """A "missing" error caused by the misspelt key of ``by`` (an unknown-key error)."""
    if err["type"] != "missing" or by["type"] != "extra_forbidden":
        return False
    parent = tuple(by["loc"][:-1])
    close = difflib.get_close_matches(str(by["loc"][-1]), keys_at(model, parent), n=1,
                                      cutoff=0.6)
    return bool(close) and tuple(err["loc"]) == (*parent, close[0])


def describe(model: type[BaseModel], errors: Sequence[Mapping[str, Any]], *,
             sample: bool = False) -> tuple[str | None, str, str | None]:
    """(path in the file, message, hint) for the most useful of pydantic's ``errors``
    (``sample``: they are the errors of a sample of the document, so more may exist)."""
    ordered = sorted(errors, key=_order)
    first = ordered[0]
    loc, msg, hint = _message(model, first)
    more = sum(1 for err in ordered[1:] if not _explained(err, first, model))
    if sample:
        msg += "; and maybe more errors"
    elif more:
        msg += f"; and {more:,} more error{'s' if more > 1 else ''}"
    return format_loc(loc) or None, msg, hint
