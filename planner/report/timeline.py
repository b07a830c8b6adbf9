"""The plan's timeline as plain data: times as text, the time axis, pool usage over time.

Times in a plan are hours from the horizon start (``Placement.start``/``end``, the runs
and outages of ``Plan.schedule``); when the portfolio dates its horizon, the plan also
carries ``plan.horizon.start`` and each time is shown as a UTC date-time. Semantics:
:mod:`planner.compile.calendar`. Shared by the HTML report (Gantt and utilization charts)
and ``planner explain``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from planner.compile.calendar import Window, window
from planner.models.plan import Placement, Plan, PoolSchedule
from planner.models.portfolio import Portfolio, StageKind
from planner.report.fmt import num

HOUR_STEPS = (1, 2, 3, 6, 12)
DAY_STEPS = (1, 2, 7, 14)
MAX_TICKS = 9


def hours_text(value: Decimal | float) -> str:
    """Hours to at most two decimals, without trailing zeros: ``'160'``, ``'123.08'``."""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return num(d.quantize(Decimal("0.01")))


def date_text(value: datetime) -> str:
    """A UTC date-time to the minute (rounded): ``'2027-01-04 08:00'``."""
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    rounded = (utc + timedelta(seconds=30)).replace(second=0, microsecond=0)
    return rounded.strftime("%Y-%m-%d %H:%M")


def point_text(hours: Decimal | float, start: datetime | None) -> str:
    """One instant: a date-time when the horizon is dated, else ``'h 12.5'``."""
    if start is not None:
        return date_text(start + timedelta(hours=float(hours)))
    return f"h {hours_text(hours)}"


def span_lines(p: Placement) -> list[str]:
    """When a placement runs, for a narrow cell: ``['2027-01-04 08:00', '→ 2027-01-09
    00:00']`` when dated, ``['h 0 → h 160']`` otherwise; ``[]`` when the plan does not say."""
    if p.start is None or p.end is None:
        return []
    if p.start_at is not None and p.end_at is not None:
        return [date_text(p.start_at), f"→ {date_text(p.end_at)}"]
    return [f"h {hours_text(p.start)} → h {hours_text(p.end)}"]


def span_text(p: Placement) -> str | None:
    """When a placement runs, on one line (``None`` when the plan does not say)."""
    lines = span_lines(p)
    return " ".join(lines) if lines else None


def late_text(p: Placement) -> str | None:
    """``'12 h late'`` for a placement past its soft deadline."""
    return f"{p.late_hours:,} h late" if p.late_hours > 0 else None


@dataclass(frozen=True)
class Axis:
    """The time axis of the charts: ``hours`` long, dated from ``start`` when known."""

    hours: float
    start: datetime | None

    def label(self, hours: float) -> str:
        return point_text(hours, self.start)

    def ticks(self) -> list[tuple[float, str]]:
        """(hour, label) of at most ``MAX_TICKS`` round instants (midnights, whole hours)."""
        if self.start is None:
            return _hour_ticks(self.hours)
        return _date_ticks(self.hours, self.start)


def axis_of(plan: Plan) -> Axis | None:
    """The plan's time axis; ``None`` for a plan without a timeline (made before plans had
    one)."""
    if not plan.schedule and not timed(plan):
        return None
    ends = [float(p.end) for p in plan.placements if p.end is not None]
    ends += [float(r.end) for s in plan.schedule for r in s.runs]
    ends += [float(o.end) for s in plan.schedule for o in s.outages]
    length = float(plan.horizon.hours) if plan.horizon is not None else 0.0
    start = plan.horizon.start if plan.horizon is not None else None
    return Axis(max([length, *ends, 1.0]), start)


def timed(plan: Plan) -> bool:
    """Whether the plan says when its placements run."""
    return any(p.start is not None for p in plan.placements)


def _nice_step(span: float) -> float:
    raw = span / MAX_TICKS
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _hour_ticks(hours: float) -> list[tuple[float, str]]:
    step = _nice_step(hours)
    count = int(hours // step)
    return [(k * step, f"h {hours_text(k * step)}") for k in range(count + 1)]


def _date_ticks(hours: float, start: datetime) -> list[tuple[float, str]]:
    end = start + timedelta(hours=hours)
    hourly = next((s for s in HOUR_STEPS if hours / s <= MAX_TICKS), None)
    if hourly is not None:
        first = start.replace(minute=0, second=0, microsecond=0)
        first -= timedelta(hours=first.hour % hourly)
        return _ticks_at(_every(first, end, timedelta(hours=hourly)), start, "%m-%d %H:%M")
    daily = next((s for s in DAY_STEPS if hours / 24 / s <= MAX_TICKS), None)
    if daily is not None:
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
        return _ticks_at(_every(first, end, timedelta(days=daily)), start, "%Y-%m-%d")
    return _month_ticks(start, end)


def _every(first: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Instants ``first, first + step, …`` up to ``end``."""
    out, t = [], first
    while t <= end:
        out.append(t)
        t += step
    return out


def _month_ticks(start: datetime, end: datetime) -> list[tuple[float, str]]:
    months = []
    t = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while t <= end:
        months.append(t)
        t = t.replace(year=t.year + (t.month == 12), month=t.month % 12 + 1)
    step = max(1, math.ceil(len(months) / MAX_TICKS))
    return _ticks_at(months[::step], start, "%Y-%m")


def _ticks_at(times: list[datetime], start: datetime, fmt: str) -> list[tuple[float, str]]:
    return [((t - start).total_seconds() / 3600, t.strftime(fmt)) for t in times if t >= start]


@dataclass(frozen=True)
class Level:
    """From ``at`` until the next level: ``held`` units in use by runs, ``down`` in outages."""

    at: float
    held: int
    down: int


def levels(pool: PoolSchedule) -> list[Level]:
    """The pool's use over time as a step function (one level per change)."""
    delta: dict[Decimal, list[int]] = defaultdict(lambda: [0, 0])
    for r in pool.runs:
        delta[r.start][0] += r.amount
        delta[r.end][0] -= r.amount
    for o in pool.outages:
        delta[o.start][1] += o.amount
        delta[o.end][1] -= o.amount
    out, held, down = [Level(0.0, 0, 0)], 0, 0
    for t in sorted(delta):
        held, down = held + delta[t][0], down + delta[t][1]
        if float(t) == out[-1].at:
            out[-1] = Level(float(t), held, down)
        else:
            out.append(Level(float(t), held, down))
    return out


@dataclass(frozen=True)
class Marks:
    """A stage's window from the portfolio: when it may start and when it is due."""

    release: float | None
    due: float | None
    soft: bool


def stage_marks(portfolio: Portfolio | None) -> dict[tuple[str, str], Marks]:
    """(workload, stage) → the window markers worth drawing: an earliest start after the
    horizon start, a deadline before its end (batch stages; inference goes live on its bar's
    start). Empty without a portfolio."""
    if portfolio is None:
        return {}
    settings, out = portfolio.settings, {}
    period = settings.period_hours
    for w in portfolio.workloads:
        for s in w.stages:
            if s.kind is StageKind.INFERENCE:
                continue
            try:
                win: Window = window(settings, s)
            except ValueError:  # a date without a dated horizon: validation reports it
                continue
            release = float(win.release) if win.release > 0 else None
            due = float(win.due) if win.due < period else None
            if release is not None or due is not None:
                out[(w.id, s.label)] = Marks(release, due, win.soft)
    return out
