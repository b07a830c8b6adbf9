"""Change a frozen model in code: ``planner.edit(portfolio, "workloads[0].stages[0].hours",
400)`` returns a re-validated copy with one value replaced.

Portfolios (and plans) are immutable pydantic models, so ``stage.hours = 400`` raises;
that keeps a validated portfolio valid. :func:`edit` is the short way to a changed copy:
the model is dumped, the value at ``path`` replaced, and the whole model validated again
(every field rule and cross-field check applies to the copy, the original is untouched).

A path is dotted field names and ``[i]`` list indices, as in error messages; a list of
items with an ``id`` (workloads, on-prem sites, offers) may also be indexed by it, and
stages by ``name`` or ``kind``: ``workloads[sepsis-eu].stages[training].hours``.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

from planner.errors import InputError, a_kind
from planner.inputs.files import validate_as

M = TypeVar("M", bound=BaseModel)

_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_\-:]*)|\[([^\]]+)\]")
_KEYS = ("id", "name", "kind")
"""Fields a list item may be selected by, in this order."""


def parse_path(path: str) -> list[str | int]:
    """``workloads[0].stages[1].hours`` → ``["workloads", 0, "stages", 1, "hours"]``."""
    steps: list[str | int] = []
    pos = 0
    while pos < len(path):
        match = _STEP.match(path, pos)
        if match is None or (pos == 0 and path.startswith(".")):
            raise InputError(f"cannot read the path at {path[pos:]!r}", path=path,
                             hint="use field names and [index], e.g. "
                                  "workloads[0].stages[0].hours")
        name, index = match.groups()
        steps.append(name if name is not None else _index(index))
        pos = match.end()
    if not steps:
        raise InputError("empty path", hint="e.g. workloads[0].stages[0].hours")
    return steps


def _index(text: str) -> str | int:
    text = text.strip().strip("'\"")
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _where(steps: list[str | int]) -> str:
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) else (f".{s}" if out else s)
    return out


def _item(items: list[Any], key: str | int, done: list[str | int]) -> int:
    """The position of ``key`` in a list: an index, or the item whose id/name/kind it is."""
    if isinstance(key, int):
        if -len(items) <= key < len(items):
            return key % len(items)
        raise InputError(f"index {key} is out of range ({len(items)} items)",
                         path=_where(done))
    for field in _KEYS:
        hits = [i for i, it in enumerate(items) if isinstance(it, dict) and it.get(field) == key]
        if len(hits) == 1:
            return hits[0]
    names = [str(it.get(_KEYS[0]) or it.get("name") or it.get("kind")) for it in items
             if isinstance(it, dict)]
    raise InputError(f"no single item {key!r}", path=_where(done),
                     hint=f"use an index 0–{len(items) - 1} or one of: {', '.join(names)}")


def _set(data: Any, steps: list[str | int], value: Any) -> None:
    node = data
    for depth, step in enumerate(steps):
        last = depth == len(steps) - 1
        done = steps[:depth]
        if isinstance(node, list):
            key: str | int = _item(node, step, done)
        elif isinstance(node, dict) and isinstance(step, str):
            if step not in node and not last:
                raise InputError(f"no field {step!r}", path=_where(done) or None,
                                 hint="fields here: " + ", ".join(sorted(node)))
            key = step
        else:
            raise InputError(f"{_where(done) or 'the model'} is a value, not a list or mapping",
                             path=_where(steps))
        if last:
            node[key] = value
        else:
            node = node[key]


def edit(model: M, path: str, value: Any) -> M:
    """A copy of ``model`` with the value at ``path`` replaced, validated again.

    ``value`` may be anything the field accepts in a portfolio file (``400``,
    ``"400.5"``, a dict for a nested model). A value the model rejects raises
    :class:`planner.PlannerError` (an ``InputError`` naming the path), like a bad file;
    so does a ``model`` that is not a pydantic model (a dict) or a ``path`` that is not text.
    """
    if not isinstance(model, BaseModel):
        raise InputError(f"expected a planner.Portfolio or planner.Plan to change, got "
                         f"{a_kind(model)}", path="model",
                         hint="load one with planner.load_portfolio(path) or "
                              "planner.load_plan(path)")
    if not isinstance(path, str):
        raise InputError(f"expected the path as text, got {a_kind(path)}", path="path",
                         hint="e.g. \"workloads[0].stages[0].hours\"")
    steps = parse_path(path)
    data = model.model_dump(mode="python", exclude_unset=True)
    _set(data, steps, value.model_dump(exclude_unset=True)
         if isinstance(value, BaseModel) else value)
    return validate_as(type(model), data, f"edit({path!r})")
