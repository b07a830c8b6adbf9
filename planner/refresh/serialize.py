"""Deterministic catalog bytes: what the store writes, and the JSON the CLI prints.

Rows are sorted by region and instance type, the layout is ``json.dumps(indent=1)``
and decimal prices are written as exact JSON numbers (no float noise), so the same
catalog always gives the same bytes and sha256.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic_core import to_jsonable_python

from planner.catalog.schema import CatalogFile


def _encode(value: Any, level: int, out: list[str]) -> None:
    """Append the JSON text of ``value`` to ``out`` (``json.dumps(indent=1)`` layout)."""
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        pad = " " * (level + 1)
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("," if i else "") + "\n" + pad + json.dumps(str(key)) + ": ")
            _encode(item, level + 1, out)
        out.append("\n" + " " * level + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        pad = " " * (level + 1)
        out.append("[")
        for i, item in enumerate(value):
            out.append(("," if i else "") + "\n" + pad)
            _encode(item, level + 1, out)
        out.append("\n" + " " * level + "]")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write non-finite decimal {value}")
        out.append(format(value, "f"))
    elif isinstance(value, datetime):
        out.append(json.dumps(value.isoformat().replace("+00:00", "Z")))
    elif isinstance(value, date):
        out.append(json.dumps(value.isoformat()))
    elif value is None or isinstance(value, bool | int | float | str):
        out.append(json.dumps(value, allow_nan=False))
    else:
        _encode(to_jsonable_python(value), level, out)


def dump_json(value: Any) -> str:
    """JSON text with ``indent=1``; decimals become exact numbers (no float noise)."""
    out: list[str] = []
    _encode(value, 0, out)
    return "".join(out)


def serialize_catalog(catalog: CatalogFile) -> bytes:
    """The exact bytes the store writes for ``catalog`` (deterministic, trailing newline)."""
    data = catalog.model_dump(mode="python")
    data["fetched_at"] = catalog.fetched_at.astimezone(UTC)
    data["rows"] = sorted(data["rows"], key=lambda r: (r["region"], r["instance_type"]))
    if data.get("egress") is None:
        data.pop("egress", None)  # egress prices live in planner/data/egress.json now
    return (dump_json(data) + "\n").encode("utf-8")
