"""When stages may run, in hours from the horizon start: the portfolio's calendar compiled.

The semantics every part of the planner shares (solvers schedule by them, the verifier
checks them, the report draws them):

* The horizon is ``settings.period_hours`` long (``settings.horizon.end`` sets it), from
  ``settings.horizon.start`` when the portfolio dates it. Times are hours from its start.
* A **training or testing** stage runs its hours (reference hours / the GPU's speed) in
  one stretch ``[start, start + hours)``, all its instances at once (a gang runs every
  node at once). It starts no earlier than ``earliest_start`` and ends by ``deadline``
  (default: the horizon end). A deadline is hard unless ``late_penalty_usd_per_hour``
  makes it soft; then each hour late (the end rounded up against the deadline rounded
  down) costs that much in the objective (not in the money total).
* An **inference** stage goes live at a fixed hour and serves, with all its replicas,
  to the horizon end: its go-live is ``earliest_start`` if given, else ``deadline`` (live
  by), else ``period_hours − hours`` (a service of ``hours`` per period ends with the
  horizon; ``hours ≥ period_hours`` is live throughout). With a go-live date it is billed
  for the hours from go-live to the horizon end; otherwise for its ``hours``, as before.
  The go-live is fixed by the input, never chosen: an option's cost is a constant of the
  placement, and billed per hour live a free go-live would always be the latest allowed.
  So ``earliest_start`` and ``deadline`` of an inference stage, when both are given, are
  the same hour (:func:`planner.models.calendar_checks.check_calendar` refuses two).
* **Precedence:** a stage starts no earlier than every stage in its ``after`` list ends
  (default: the pipeline order, :meth:`~planner.models.portfolio.Workload.predecessors`).
  An inference stage without a go-live date by default follows nothing: it serves the
  current model while the new one trains (a portfolio without dates plans as before,
  with capacity counted at every instant). An inference stage with a go-live date, or an
  explicit ``after``, waits for its predecessors: they must end by its go-live.
* **Capacity at every instant:** an on-prem offer has ``nodes`` instances at once, minus
  the nodes of its outages during ``[from, to)``; a cloud quota counts instances or GPUs at
  once; an offer without inventory or quota is unlimited.

The solvers work in whole hours: a batch stage starts on a whole hour and holds its
resources for its hours rounded up; windows round inwards (release up, deadline down),
outages outwards, a go-live down. Every schedule in whole hours is therefore valid with
the exact (decimal) hours the plan reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from planner.models.calendar import TimePoint, hours_from_start
from planner.models.portfolio import Settings, Stage, StageKind, Workload


@dataclass(frozen=True)
class Window:
    """When a stage may run, in exact hours from the horizon start.

    Batch: start ≥ ``release``, end ≤ ``due`` (hard unless ``late_usd_per_hour``).
    Inference: ``golive`` (fixed; ``release == due == golive``)."""

    release: Decimal
    due: Decimal
    golive: Decimal | None
    late_usd_per_hour: Decimal | None

    @property
    def soft(self) -> bool:
        return self.late_usd_per_hour is not None and self.late_usd_per_hour > 0


def horizon_hours(settings: Settings) -> Decimal:
    return settings.period_hours


def at(settings: Settings, value: TimePoint) -> Decimal:
    """Hours from the horizon start of a date or a number of hours."""
    start = settings.horizon.start if settings.horizon is not None else None
    return hours_from_start(value, start)


def golive(settings: Settings, stage: Stage) -> Decimal:
    """When an inference stage goes live (module docstring)."""
    period = horizon_hours(settings)
    if stage.earliest_start is not None:
        return at(settings, stage.earliest_start)
    if stage.deadline is not None:
        return min(at(settings, stage.deadline), period)
    return max(Decimal(0), period - stage.hours)


def dated_golive(stage: Stage) -> bool:
    """An inference stage with a go-live date is billed from then to the horizon end."""
    return stage.kind is StageKind.INFERENCE and (stage.earliest_start is not None
                                                  or stage.deadline is not None)


def inference_hours(settings: Settings, stage: Stage) -> Decimal:
    """Billed hours of an inference stage (module docstring)."""
    if dated_golive(stage):
        return horizon_hours(settings) - golive(settings, stage)
    return stage.hours


def window(settings: Settings, stage: Stage) -> Window:
    """The stage's window (module docstring)."""
    period = horizon_hours(settings)
    if stage.kind is StageKind.INFERENCE:
        g = golive(settings, stage)
        return Window(g, g, g, None)
    release = at(settings, stage.earliest_start) if stage.earliest_start is not None \
        else Decimal(0)
    due = min(at(settings, stage.deadline), period) if stage.deadline is not None else period
    return Window(release, due, None, stage.late_penalty_usd_per_hour)


def predecessors(settings: Settings, workload: Workload, stage: Stage) -> list[Stage]:
    """The stages that must end before ``stage`` starts (module docstring)."""
    if stage.after is None and stage.kind is StageKind.INFERENCE and not dated_golive(stage):
        return []
    return workload.predecessors(stage)


@dataclass(frozen=True)
class WholeHours:
    """A :class:`Window` in the whole hours the solvers use (module docstring)."""

    release: int
    due: int


def whole(settings: Settings, w: Window) -> WholeHours:
    h = horizon(settings)
    if w.golive is not None:
        g = min(math.floor(w.golive), h - 1)
        return WholeHours(g, g)
    return WholeHours(math.ceil(w.release), min(math.floor(w.due), h))


def horizon(settings: Settings) -> int:
    """The horizon in whole hours (at least 1)."""
    return max(1, math.floor(horizon_hours(settings)))


def whole_duration(hours: Decimal) -> int:
    """Whole hours a batch stage holds its resources: its hours rounded up."""
    return math.ceil(hours)
