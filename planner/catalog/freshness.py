"""Whether catalog snapshots are fresh enough to plan with (a reader: no writing here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from planner.catalog.load import LoadedCatalog

DEFAULT_MAX_AGE_DAYS = 30
"""Catalogs fetched longer ago than this many days are reported as stale."""


def stale_catalogs(loaded: Sequence[LoadedCatalog], max_age_days: float = DEFAULT_MAX_AGE_DAYS,
                   now: datetime | None = None) -> list[str]:
    """Human-readable warnings for catalogs older than ``max_age_days`` (or from the future)."""
    ref = now or datetime.now(UTC)
    warnings = []
    for item in loaded:
        cat = item.catalog
        age = cat.age_days(ref)
        stamp = cat.fetched_at.strftime("%Y-%m-%d %H:%M UTC")
        if age > max_age_days:
            warnings.append(
                f"{item.path}: {cat.provider} prices were fetched {stamp} ({age:.0f} days ago, "
                f"more than {max_age_days:g}); run `planner catalog refresh --provider "
                f"{cat.provider}`"
            )
        elif age < -1:
            warnings.append(future_warning(str(item.path), cat.fetched_at))
    return warnings


def future_warning(file: str, fetched_at: datetime) -> str:
    """The warning for a catalog whose ``fetched_at`` lies more than a day ahead."""
    return (f"{file}: fetched_at {fetched_at:%Y-%m-%d %H:%M UTC} lies in the future; "
            "check the clock of the machine that fetched it")
