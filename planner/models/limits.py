"""The limits on every number in a portfolio or scenario file, and the type that checks them.

The optimizer works in integers: money in micro-dollars (USD × 10⁶), capacity in
milli-unit-hours (unit-hours × 10³), and CP-SAT needs every coefficient well inside
64 bits. The limits below keep each validated field, scaled that way, below 10¹⁸
(< 2⁶²), and are set far above any real portfolio. Products of several fields (price ×
instances × hours) are checked once more where options are priced
(:mod:`planner.compile.magnitudes`).

Each limit is declared once, as a :class:`Range` in the field's type: pydantic enforces
it, the JSON schema carries it (``minimum``/``maximum``), and a value out of range (or
``.inf``/``.nan``/``1e999``) is reported as one line with the range and the unit, e.g.
``workloads[0].stages[0].hours: too large: must be at least 0.001 and at most 1,000,000
hours``.
The guide lists them (``planner/docs/guide.md``, "Limits"; a test keeps it in sync).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

import annotated_types as at
from pydantic import BeforeValidator, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

GUIDE = "limits: planner/docs/guide.md, 'Limits'"

MIN_HOURS = Decimal("0.001")
"""A stage's hours at least (3.6 s): at the fastest GPU speed (:data:`MAX_SPEED`) its run
still lasts a micro-hour, the plan's precision (an empty run was a "planner bug")."""
MAX_HOURS = Decimal(1_000_000)
"""A stage's hours on the reference GPU (or per period for inference): ~114 years."""
MAX_PERIOD_HOURS = Decimal(87_600)
"""The planning period: 10 years of hours."""
MAX_GPUS = 100_000
"""GPUs per replica of a stage, or per on-prem node."""
MAX_VCPUS = 10_000_000
MIN_MEMORY_GIB = Decimal("0.001")
"""Memory of a stage or an offer: at least 1 MiB (instances = stage memory / offer memory)."""
MAX_MEMORY_GIB = Decimal(1_000_000_000)
MAX_REPLICAS = 1_000_000
MAX_NODES = 100_000
"""Instances per replica of a multi-node (gang) stage."""
MAX_COUNT = 10_000_000
"""Nodes of an on-prem offer, instances or GPUs in a quota or a capacity change, moves."""
MAX_PRICE_PER_HOUR = Decimal(100_000)
MAX_PRICE_PER_GB = Decimal(1_000)
MAX_SIZE_GB = Decimal(1_000_000_000)
"""Dataset, test data, model and response sizes: 1 EB."""
MAX_BUDGET_USD = Decimal(1_000_000_000_000)
MAX_MOVE_USD = Decimal(1_000_000_000)
MAX_LATENCY_MS = Decimal(1_000_000)
MIN_SPEED = Decimal("0.001")
MAX_SPEED = Decimal(1_000)
MAX_CAPEX_USD = Decimal(1_000_000_000)
MIN_LIFETIME_YEARS = Decimal("0.1")
MAX_LIFETIME_YEARS = Decimal(100)
MAX_POWER_KW = Decimal(10_000)
MAX_USD_PER_KWH = Decimal(100)
MAX_UPLIFT = Decimal(10)
MAX_PREFERENCE_WEIGHT = Decimal(100)
MAX_CATALOG_AGE_DAYS = 1_000_000
"""Catalog age before a warning (large values switch the warning off)."""
MAX_PRICE_FACTOR = Decimal(1_000)
"""What-if scenarios: a price multiplier."""


def fmt_limit(x: Decimal | int) -> str:
    d = Decimal(x)
    return f"{int(d):,}" if d == d.to_integral_value() else f"{d.normalize():f}"


def _number(value: Any) -> Decimal | None:
    """The input as a Decimal, or None when it is not a number (pydantic reports that)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


@dataclass(frozen=True)
class Range(at.GroupedMetadata):
    """``lo`` ≤ value ≤ ``hi`` (``lo`` < value with ``open_lo``), in ``unit``. Use it as
    ``Annotated[Decimal, Range(0, MAX_HOURS, "hours", open_lo=True)]``."""

    lo: Decimal | int
    hi: Decimal | int
    unit: str = ""
    open_lo: bool = False

    def describe(self) -> str:
        low = f"{'greater than' if self.open_lo else 'at least'} {fmt_limit(self.lo)}"
        return f"{low} and at most {fmt_limit(self.hi)}{' ' + self.unit if self.unit else ''}"

    def check(self, value: Any) -> Any:
        """Reject a number out of range with the range in the message; leave the rest
        (and non-numbers) to pydantic."""
        if isinstance(value, bool):  # pydantic would read true as 1 in an int field
            raise PydanticCustomError("bool_not_number", f"expected a number, not "
                                      f"{str(value).lower()}: must be {self.describe()}")
        d = _number(value)
        if d is None:
            return value
        if not d.is_finite():
            raise PydanticCustomError("not_finite", f"not a finite number: must be "
                                      f"{self.describe()}")
        if d > self.hi:
            raise PydanticCustomError("too_large", f"too large: must be {self.describe()} "
                                      f"({GUIDE})")
        if d < self.lo or (self.open_lo and d == self.lo):
            raise PydanticCustomError("out_of_range", f"must be {self.describe()}")
        return value

    def __iter__(self) -> Iterator[object]:
        yield at.Gt(self.lo) if self.open_lo else at.Ge(self.lo)
        yield at.Le(self.hi)
        yield BeforeValidator(self.check)


def error_at(title: str, loc: tuple[int | str, ...], kind: str, message: str,
             value: object) -> NoReturn:
    """Raise, from a model validator, an error located below the model (``loc`` relative
    to it), so the path points at the offending field (``stages[2].colocate.stage``)."""
    raise ValidationError.from_exception_data(
        title, [InitErrorDetails(type=PydanticCustomError(kind, "{message}", {"message": message}),
                                 loc=loc, input=value)])
