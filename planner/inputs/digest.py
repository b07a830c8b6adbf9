"""Fingerprints of a plan's inputs, so a plan can be matched with its portfolio and catalogs.

The portfolio digest is the SHA-256 of the *validated* portfolio as canonical JSON:
keys sorted, no whitespace, decimals normalized (``80``, ``80.0`` and ``8e1`` are the
same number), sets sorted, fields at their default value left out (spelling a default
out, or a newer planner adding a field with a default, does not change it). Comments,
key order, quoting and number formatting of the YAML do not change it; any change of
a value does. The catalogs digest covers the
catalog snapshot files the plan was priced with (their provider and file SHA-256).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from enum import Enum

from planner.models.plan import InputDigest
from planner.models.portfolio import Portfolio
from planner.models.world import World


def _plain(value: object) -> object:
    """JSON stand-ins for the values ``json`` cannot write (called by ``json.dumps``)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, date):  # dates and date-times (the calendar)
        return value.isoformat()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def _sha256(data: object) -> str:
    text = json.dumps(data, default=_plain, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def portfolio_sha256(portfolio: Portfolio) -> str:
    """SHA-256 of the validated portfolio as canonical JSON."""
    return _sha256(portfolio.model_dump(mode="python", exclude_defaults=True))


def catalogs_sha256(world: World) -> str:
    """SHA-256 of the (provider, file sha256) pairs of the catalogs the world was built from."""
    return _sha256(sorted([c.provider, c.sha256] for c in world.catalogs))


def input_digest(portfolio: Portfolio, world: World) -> InputDigest:
    """Both digests, as a plan records them."""
    return InputDigest(portfolio_sha256=portfolio_sha256(portfolio),
                       catalogs_sha256=catalogs_sha256(world))
