"""Read a plan file written by this or a newer planner.

Plans are strict (``extra="forbid"``), but a report or an explanation should still
work on a plan written by a newer version that added fields. Fields the models do
not know are taken out before validation and handed back so the report can show
them as they are; any other problem is the usual one-line input error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.errors import InputError
from planner.inputs.files import check_sample, format_loc, read_document, validate_as
from planner.inputs.messages import wrong_kind
from planner.models.plan import Plan

MAX_PASSES = 8
_PLACEMENT_FIELD = re.compile(r"^placements\[(\d+)\]\.([^.\[]+)$")


def _pop(data: Any, loc: tuple[int | str, ...]) -> tuple[bool, Any]:
    node = data
    for part in loc[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False, None
    if isinstance(node, dict) and loc and loc[-1] in node:
        return True, node.pop(loc[-1])
    return False, None


def plan_from_data(data: Any, source: str) -> tuple[Plan, dict[str, Any]]:
    """Validate ``data`` as a Plan, dropping unknown fields; (plan, {path: dropped value})."""
    dropped: dict[str, Any] = {}
    wrong = wrong_kind(Plan, data)
    if wrong:  # before dropping its "unknown" keys: a portfolio is not a newer plan
        raise InputError(wrong[0], source=source, hint=wrong[1])
    check_sample(Plan, data, source, ignore=frozenset({"extra_forbidden"}))
    for _ in range(MAX_PASSES):
        try:
            return Plan.model_validate(data), dropped
        except ValidationError as exc:
            extras = [e for e in exc.errors() if e["type"] == "extra_forbidden"]
            if not extras:
                break
            for err in extras:
                loc = tuple(err["loc"])
                found, value = _pop(data, loc)
                if found:
                    dropped[format_loc(loc)] = value
    return validate_as(Plan, data, source), dropped


def load_plan_lenient(path: str | Path) -> tuple[Plan, dict[str, Any]]:
    """Read a plan JSON file (size and nesting bounded as every plan file is); fields this
    version does not know come back separately."""
    p = Path(path)
    return plan_from_data(read_document(p, "plan"), str(p))


def split_dropped(dropped: dict[str, Any]) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Dropped fields of placements (by index: {field: value}) and all the others."""
    per_placement: dict[int, dict[str, Any]] = {}
    rest: dict[str, Any] = {}
    for key, value in dropped.items():
        match = _PLACEMENT_FIELD.match(key)
        if match:
            per_placement.setdefault(int(match[1]), {})[match[2]] = value
        else:
            rest[key] = value
    return per_placement, rest
