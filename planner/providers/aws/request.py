"""What an AWS fetch asks for: regions, instance families and the fetch instant.

Shared by the credentialed fetch (:mod:`planner.providers.aws.fetch`) and the keyless
one (:mod:`planner.providers.aws.keyless`), so neither imports the other's module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from planner.errors import CatalogFetchError

Progress = Callable[[str, str], None]
"""``progress(region, message)``: one line of fetch progress."""

# GPU/accelerator families capacity planners ask for, then common CPU families.
DEFAULT_FAMILIES: tuple[str, ...] = (
    "p6-b200", "p5", "p5e", "p5en", "p4d", "p4de", "p3", "p3dn",
    "g6", "g6e", "gr6", "g5", "g5g", "g4dn", "g4ad",
    "trn1", "trn1n", "trn2", "inf1", "inf2", "dl1",
    "m7i", "m7a", "m7g", "m6i", "m6a", "m6g",
    "c7i", "c7a", "c7g", "c6i", "c6a",
    "r7i", "r7a", "r7g", "r6i", "r6a",
)  # fmt: skip


def fetch_request(regions: Sequence[str], families: Sequence[str] | None,
                  now: datetime | None) -> tuple[list[str], tuple[str, ...], datetime]:
    """The regions (deduplicated, at least one), instance families and fetch instant (UTC)
    of an AWS fetch, with or without credentials."""
    wanted = list(dict.fromkeys(regions))
    if not wanted:
        raise CatalogFetchError("no AWS regions requested", source="aws",
                                hint="pass at least one region, e.g. us-east-1")
    fams = tuple(dict.fromkeys(families)) if families else DEFAULT_FAMILIES
    return wanted, fams, (now or datetime.now(UTC)).astimezone(UTC)
