"""When things happen, in a portfolio: the horizon, stage windows, precedence, outages.

A time is either a date or date-time (``2027-03-01``, ``2027-03-01T08:00:00Z``; a date
is midnight UTC) or a number of hours from the start of the horizon (``720``). Dates need
``settings.horizon.start``; hours work without it. Every time is turned into hours from
the horizon start by :func:`hours_from_start` before anything is planned.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from planner.models import limits as lim
from planner.models.limits import Range

HOURS = Range(0, lim.MAX_PERIOD_HOURS, "hours from the horizon start")
HoursFromStart = Annotated[Decimal, HOURS]


def _numbers_are_hours(value: Any) -> Any:
    """A number (or a string of one) is hours, never seconds since 1970: one out of range
    is rejected here, before the union could read it as a date-time."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return HOURS.check(Decimal(str(value)))
    if isinstance(value, str):
        try:
            return HOURS.check(Decimal(value))
        except InvalidOperation:
            return _on_the_calendar(value, "hours from the horizon start (720)")
    return value


_CALENDAR: TypeAdapter[datetime | date] = TypeAdapter(datetime | date)


def _on_the_calendar(text: str, *or_else: str) -> str:
    """``text`` if it reads as a date or date-time; else one error naming the formats
    (rather than one error per type of the union, each with its type in the path)."""
    try:
        _CALENDAR.validate_python(text)
    except ValidationError:
        forms = ["a date (2027-03-01)", "a date-time (2027-03-01T08:00:00Z)", *or_else]
        raise ValueError(f"not a date: write {', '.join(forms[:-1])} or {forms[-1]}"
                         ) from None
    return text


TimePoint = Annotated[datetime | date | HoursFromStart, BeforeValidator(_numbers_are_hours)]
"""A date, a date-time, or hours from the horizon start."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def as_datetime(value: datetime | date) -> datetime:
    """A date is midnight UTC; a naive date-time is UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


def hours_from_start(value: TimePoint, start: datetime | date | None) -> Decimal:
    """Hours from the horizon start; raises ``ValueError`` for a date without a start."""
    if isinstance(value, datetime | date):
        if start is None:
            raise ValueError("a date needs settings.horizon.start (or give hours from the "
                             "start of the horizon)")
        delta = as_datetime(value) - as_datetime(start)
        return Decimal(int(delta.total_seconds())) / Decimal(3600)
    return Decimal(value)


def shown(value: TimePoint | None) -> str:
    """A time as the user would write it: a date, a date-time, or hours."""
    if isinstance(value, datetime):
        moment = as_datetime(value)
        return moment.date().isoformat() if moment.time() == time(0) else moment.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return f"hour {value:g}"


YEARS = (1900, 9000)
"""The years a horizon may start and end in (with its ten years at most, every date of a
plan stays far inside what Python's dates can hold)."""


def _a_date(value: Any) -> Any:
    """The horizon's start and end are dates: a number would be read as seconds since
    1970 by the date-time type, where a number everywhere else is hours."""
    if isinstance(value, bool | int | float | Decimal) or (
            isinstance(value, str) and _is_number(value)):
        raise ValueError(f"expected a date (2027-01-04) or a date-time "
                         f"(2027-01-04T08:00:00Z), not the number {value}: the horizon's "
                         f"start and end are on the calendar")
    if isinstance(value, str):
        return _on_the_calendar(value)
    return value


def _is_number(text: str) -> bool:
    try:
        Decimal(text.strip())
    except InvalidOperation:
        return False
    return True


CalendarDate = Annotated[datetime | date, BeforeValidator(_a_date)]


class Horizon(_Strict):
    """The planning horizon on the calendar: from ``start`` for ``settings.period_hours``
    hours, or to ``end`` (then ``period_hours`` is derived and must not be given too)."""

    start: CalendarDate = Field(description="when the horizon starts (a date is 00:00 UTC)")
    end: CalendarDate | None = Field(default=None, description="when it ends (exclusive)")

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        lo, hi = YEARS
        for name, when in (("start", self.start), ("end", self.end)):
            if when is not None and not lo <= when.year <= hi:
                raise ValueError(f"horizon {name} {when} is outside the years {lo}–{hi}")
        if self.end is not None and as_datetime(self.end) <= as_datetime(self.start):
            raise ValueError(f"horizon end {self.end} must be after its start {self.start}")
        return self

    def hours(self) -> Decimal | None:
        """Length in hours when ``end`` is given."""
        return None if self.end is None else hours_from_start(self.end, self.start)


class Outage(_Strict):
    """Nodes of an on-prem node class that are down during ``[from, to)`` (maintenance)."""

    from_: TimePoint = Field(alias="from", description="start of the outage")
    to: TimePoint = Field(description="end of the outage (exclusive)")
    nodes: Annotated[int, Range(1, lim.MAX_COUNT, "nodes")] = Field(
        description="nodes of this class that are down")


class StageTiming(_Strict):
    """When a stage may run. Mixed into :class:`~planner.models.portfolio.Stage`.

    A training or testing stage runs its hours (divided by the chosen GPU's speed) between
    ``earliest_start`` and ``deadline``; an inference stage goes live at its go-live date
    (``earliest_start`` or ``deadline``: one fixed hour, so both only as the same date) and
    serves to the horizon end, or without a date serves ``hours`` up to the horizon end
    (the guide, "Calendar"). By
    default testing starts after training ends and inference after testing (``after``
    overrides: the names of the stages of the same workload that must end first, ``[]``
    for none). A deadline is hard unless ``late_penalty_usd_per_hour`` makes it soft.
    ``nodes`` runs each replica as a gang over that many instances of one offer at one
    site, all at once; ``max_nodes`` lets the planner choose 1..max_nodes.
    ``transfer_hours`` is the time to bring a predecessor's artifact (the trained model,
    checkpoints) to this stage when it runs at a site its predecessor did not run at: the
    stage then starts that much later after the predecessor ends.
    """

    earliest_start: TimePoint | None = Field(
        default=None, description="no earlier than (a date, or hours from the horizon start)")
    deadline: TimePoint | None = Field(
        default=None, description="batch: done by; inference: live by")
    late_penalty_usd_per_hour: Annotated[Decimal, Range(0, lim.MAX_PRICE_PER_HOUR,
                                                        "USD per hour")] | None = Field(
        default=None, description="makes the deadline soft: USD per hour late")
    after: list[str] | None = Field(
        default=None, description="stages of this workload that must end first "
                                  "(default: the pipeline order)")
    nodes: Annotated[int, Range(1, lim.MAX_NODES, "nodes")] | None = Field(
        default=None, description="instances per replica, all at once (a gang)")
    transfer_hours: HoursFromStart = Field(
        default=Decimal(0), description="hours to bring a predecessor's artifact here when "
                                        "this stage runs at another site than it did")
    max_nodes: Annotated[int, Range(1, lim.MAX_NODES, "nodes")] | None = Field(
        default=None, description="let the planner pick 1..max_nodes instances per replica")

    @model_validator(mode="after")
    def _timing(self) -> StageTiming:
        if self.nodes is not None and self.max_nodes is not None:
            raise ValueError("give nodes (a fixed gang) or max_nodes (the planner picks), "
                             "not both")
        if self.late_penalty_usd_per_hour is not None and self.deadline is None:
            raise ValueError("late_penalty_usd_per_hour needs a deadline")
        return self
