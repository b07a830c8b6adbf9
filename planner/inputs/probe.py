"""Validate a sample of a large document first, so that junk costs no gigabytes.

Pydantic keeps every error of a failed validation (~400 bytes each, ~1.5 KiB once
listed): a 2 MB file ``workloads: [1, 1, 1, …]`` makes a million errors and 1.7 GB.
A *probe* — the document with every list and mapping cut to its first
:data:`PROBE_ITEMS` entries, and at most :data:`PROBE_NODES` values in all — is
validated first. Errors about a value the probe holds (an unknown key, a wrong type,
a value out of range) are errors of the whole document too, and are reported from the
probe. Errors the cutting may have caused ("missing", "too short", rules that look
across entries, custom error types) are not trusted: the whole document is validated
then, as usual.
"""

from __future__ import annotations

import itertools
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import core_schema

PROBE_ITEMS = 200
PROBE_NODES = 50_000
UNTRUSTED = frozenset({"missing", "too_short", "value_error", "assertion_error"})
TRUSTED = frozenset(typing.get_args(core_schema.ErrorType)) - UNTRUSTED
"""Pydantic's own error types about one value (custom ones may look across entries)."""


def _cut(data: Any, budget: list[int]) -> tuple[Any, bool]:
    """(the probe of ``data``, whether anything was left out)."""
    if not isinstance(data, dict | list):
        return data, False
    if budget[0] <= 0:
        return type(data)(), bool(data)
    budget[0] -= 1
    items = (list(itertools.islice(data.items(), PROBE_ITEMS)) if isinstance(data, dict)
             else data[:PROBE_ITEMS])
    cut = len(items) < len(data)
    out: list[Any] = []
    for item in items:
        key, value = item if isinstance(data, dict) else (None, item)
        if budget[0] <= 0:
            cut = True
            break
        budget[0] -= 1
        small, lost = _cut(value, budget)
        cut = cut or lost
        out.append((key, small) if isinstance(data, dict) else small)
    return (dict(out) if isinstance(data, dict) else out), cut


def probe_errors(model: type[BaseModel], data: Any,
                 ignore: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The probe's errors that are errors of the whole document (error types in ``ignore``
    left out); none if the document is small, the probe is valid, or its errors may
    come from the cut."""
    probe, cut = _cut(data, [PROBE_NODES])
    if not cut:
        return []
    try:
        model.model_validate(probe)
    except ValidationError as exc:
        return [dict(err) for err in exc.errors(include_url=False)
                if err["type"] in TRUSTED and err["type"] not in ignore]
    return []
