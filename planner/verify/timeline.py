"""The verifier's timeline checks: when every placement runs, against the portfolio's calendar.

The semantics are those of :mod:`planner.compile.calendar`, re-derived here from the
portfolio, the world and the plan (never from the compiler). Times are hours from the
horizon start; a placement's instances (every node of every gang) run in ``[start, end)``.

A **time-aware plan** (``horizon`` set) claims when everything runs, and:

* its horizon is the portfolio's: ``settings.period_hours`` long, from
  ``settings.horizon.start`` (none when the portfolio has no dates); every placement has
  ``start`` and ``end`` with ``0 ≤ start < end ≤ horizon``;
* a training or testing placement runs its run hours (reference hours / the GPU's speed)
  in one stretch; an inference placement serves from its go-live (``earliest_start``, else
  ``deadline``, else ``period_hours − hours``, at least 0) to the horizon end;
* the placements of one stage start together; those of a gang share one interval;
* windows: a stage starts no earlier than ``earliest_start``; a batch stage ends by its
  ``deadline`` (at most the horizon end), unless ``late_penalty_usd_per_hour > 0`` makes it
  soft: then ``late_hours = max(0, ⌈end⌉ − ⌊deadline⌋)``, and ``totals.late_penalty_usd``
  is Σ late hours × the penalty per hour in whole micro-dollars (half-even, like all money
  in a plan; the objective counts it so), exactly; nothing else is ever late;
* precedence: a stage starts no earlier than every stage in its ``after`` list ends (the
  latest end over its placements), and ``transfer_hours`` later when one of its
  placements is at a site where that stage had none; by default the pipeline order
  (:meth:`~planner.models.portfolio.Workload.predecessors`), except that an inference
  stage without a go-live date (``earliest_start`` or ``deadline``) follows nothing: it
  serves the current model;
* capacity at every event point: the units every placement holds of each limited pool,
  plus the on-prem nodes down in an outage (``[from, to)``), fit in the pool
  (:func:`planner.verify.capacity.check_instants`);
* dates: ``start_at`` / ``end_at`` are the horizon start plus ``start`` / ``end`` hours when
  the horizon is dated, null otherwise;
* ``schedule[]`` lists exactly the limited pools the placements use, each with the runs,
  outages, peak and peak instant that the placements and the portfolio give
  (:mod:`planner.verify.pools`).

Times the plan derives from the inputs (run hours, go-live, outage bounds) match to within
a micro-hour, since a plan may state them to six places, and dates to within a second;
windows, precedence and capacity compare the plan's own times exactly, with no rounding in
the planner's favour.

Every plan the planner writes that places stages is time-aware: capacity is counted at
every instant for every portfolio, dated or not. A placing plan (optimal, feasible or
partial) **without a horizon** therefore fails ``schedule.missing``, and each of its
placements without ``start``/``end`` fails ``schedule.untimed``; the other timeline checks
run as for any time-aware plan (with the portfolio's horizon). Plans written before plans
had a timeline carry the same ``schema_version`` (1), so they cannot be told from a plan
whose timeline was removed: they are refused too (re-plan them). An infeasible or unknown
plan places nothing and has no timeline.

Only when asked (``allow_untimed``: a plan built before it is scheduled, never one read
from a file) is a plan without a horizon taken to make no claim about when, except
through placements that carry times anyway: those run their run hours and fit capacity
at every instant (outages are not part of such plans), and nothing is late.
"""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal

from planner.models.calendar import as_datetime
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio, Settings, Stage, StageKind, Workload
from planner.models.world import World
from planner.verify.base import (
    TOLERANCE,
    Checked,
    Violation,
    date_of,
    golive,
    hours_at,
    num,
    origin,
    round_usd,
    same_date,
)
from planner.verify.capacity import Outages, check_instants, uses_by_resource
from planner.verify.pools import check_schedule

ByStage = dict[tuple[str, str], list[Checked]]


def _at(c: Checked, field: str) -> str:
    return f"{c.where}.{field}"


def check_durations(settings: Settings, checked: list[Checked], *,
                    timeline: bool) -> list[Violation]:
    """A timed batch placement runs exactly its run hours. With a timeline an inference
    placement serves from its go-live to the horizon end (without one, as long as its
    hours, as plans without a timeline always said)."""
    out = []
    for c in checked:
        p = c.placement
        if p.start is None or p.end is None:
            continue
        if timeline and c.stage.kind is StageKind.INFERENCE:
            out += _check_service(settings, c)
        elif abs((p.end - p.start) - c.hours) > TOLERANCE:
            out.append(Violation("schedule.duration", c.where,
                                 f"runs {num(p.end - p.start)} h from {num(p.start)} to "
                                 f"{num(p.end)}; the stage needs {num(c.hours)} h on "
                                 f"{c.offer.id}"))
    return out


def _check_service(settings: Settings, c: Checked) -> list[Violation]:
    """An inference placement serves from its go-live to the horizon end."""
    p, out = c.placement, []
    assert p.start is not None and p.end is not None
    live = golive(settings, c.stage)
    if abs(p.start - live) > TOLERANCE:
        out.append(Violation("schedule.golive", _at(c, "start"),
                             f"goes live at hour {num(p.start)}; the stage goes live at hour "
                             f"{num(live)} ({_golive_reason(c.stage)})"))
    if abs(p.end - settings.period_hours) > TOLERANCE:
        out.append(Violation("schedule.duration", _at(c, "end"),
                             f"serves until hour {num(p.end)}; inference serves to the "
                             f"horizon end, hour {num(settings.period_hours)}"))
    return out


def _golive_reason(stage: Stage) -> str:
    if stage.earliest_start is not None:
        return f"its earliest_start {stage.earliest_start}"
    if stage.deadline is not None:
        return f"live by its deadline {stage.deadline}"
    return "its hours per period end with the horizon"


def check_horizon(settings: Settings, plan: Plan) -> list[Violation]:
    """The plan's horizon is the portfolio's."""
    assert plan.horizon is not None
    out = []
    if plan.horizon.hours != settings.period_hours:
        out.append(Violation("schedule.horizon", "horizon.hours",
                             f"plan says {num(plan.horizon.hours)} h; settings.period_hours "
                             f"is {num(settings.period_hours)}"))
    got = as_datetime(plan.horizon.start) if plan.horizon.start is not None else None
    want = origin(settings)
    if got != want:
        out.append(Violation("schedule.horizon", "horizon.start",
                             f"plan says {got.isoformat() if got else None}; "
                             f"settings.horizon.start is {want.isoformat() if want else None}"))
    return out


def check_bounds(settings: Settings, checked: list[Checked]) -> list[Violation]:
    """Every placement of a time-aware plan says when it runs, within the horizon."""
    out = []
    horizon = settings.period_hours
    for c in checked:
        p = c.placement
        if p.start is None or p.end is None:
            out.append(Violation("schedule.untimed", _at(c, "start"),
                                 "no start/end: every placement says when it runs, [start, "
                                 "end) in hours from the horizon start (re-plan with `planner "
                                 "plan` rather than editing the plan)"))
            continue
        if p.start < 0 or p.start >= p.end:
            out.append(Violation("schedule.bounds", _at(c, "start"),
                                 f"interval [{num(p.start)}, {num(p.end)}) is empty or "
                                 "starts before the horizon"))
        if p.end > horizon + TOLERANCE:  # a plan states times to six places
            out.append(Violation("schedule.bounds", _at(c, "end"),
                                 f"ends at hour {num(p.end)}, after the horizon end "
                                 f"{num(horizon)}"))
    return out


def _due(settings: Settings, stage: Stage) -> Decimal:
    if stage.deadline is None:
        return settings.period_hours
    return min(hours_at(settings, stage.deadline), settings.period_hours)


def _soft(stage: Stage) -> bool:
    return (stage.kind is not StageKind.INFERENCE and stage.late_penalty_usd_per_hour is not None
            and stage.late_penalty_usd_per_hour > 0)


def late_hours(settings: Settings, c: Checked) -> int:
    """Whole hours a soft-deadline placement ends late (0 when not soft or untimed)."""
    end = c.placement.end
    if end is None or not _soft(c.stage):
        return 0
    return max(0, math.ceil(end) - math.floor(_due(settings, c.stage)))


def check_windows(settings: Settings, checked: list[Checked]) -> list[Violation]:
    """Release times, hard deadlines and the late hours of soft ones."""
    out = []
    for c in checked:
        p, stage = c.placement, c.stage
        if p.start is None or p.end is None:
            continue
        if stage.earliest_start is not None and stage.kind is not StageKind.INFERENCE:
            release = hours_at(settings, stage.earliest_start)
            if p.start < release:
                out.append(Violation("window.earliest_start", _at(c, "start"),
                                     f"starts at hour {num(p.start)}, before its earliest_start "
                                     f"{stage.earliest_start} (hour {num(release)})"))
        due = _due(settings, stage)
        if stage.deadline is not None and stage.kind is not StageKind.INFERENCE \
                and not _soft(stage) and p.end > due:
            out.append(Violation("window.deadline", _at(c, "end"),
                                 f"ends at hour {num(p.end)}, after its hard deadline "
                                 f"{stage.deadline} (hour {num(due)})"))
        want = late_hours(settings, c)
        if p.late_hours != want:
            why = (f"the end {num(p.end)} rounded up against the deadline {num(due)} rounded "
                   "down" if _soft(stage) else "the stage has no soft deadline")
            out.append(Violation("window.late_hours", _at(c, "late_hours"),
                                 f"plan says {p.late_hours}; {why} gives {want}"))
    return out


def check_late_total(settings: Settings, checked: list[Checked], plan: Plan) -> list[Violation]:
    """``totals.late_penalty_usd`` is Σ late hours × the penalty per hour in whole
    micro-dollars (rounded half-even, as every amount of money in a plan), exactly."""
    want = sum((late_hours(settings, c) * round_usd(c.stage.late_penalty_usd_per_hour)
                for c in checked if c.stage.late_penalty_usd_per_hour), Decimal(0))
    got = plan.totals.late_penalty_usd
    if got != want:
        return [Violation("totals", "totals.late_penalty_usd",
                          f"plan says {got}; Σ late_hours × late_penalty_usd_per_hour (in "
                          f"micro-dollars) of the placements is {num(want)}")]
    return []


def _by_stage(checked: list[Checked]) -> ByStage:
    out: ByStage = defaultdict(list)
    for c in checked:
        out[(c.workload.id, c.stage.label)].append(c)
    return out


def check_together(by_stage: ByStage) -> list[Violation]:
    """The placements of one stage start together; those of a gang run in one interval."""
    out = []
    for cs in by_stage.values():
        timed = [(c, c.placement.start, c.placement.end) for c in cs
                 if c.placement.start is not None and c.placement.end is not None]
        if not timed:
            continue
        first, start, end = timed[0]
        gang = first.stage.nodes is not None or first.stage.max_nodes is not None \
            or any(c.placement.nodes_per_replica > 1 for c in cs)
        for c, s, e in timed[1:]:
            if s != start:
                out.append(Violation("schedule.together", _at(c, "start"),
                                     f"starts at hour {num(s)}, but placements[{first.index}] "
                                     f"of the same stage at hour {num(start)}: a stage "
                                     "starts once"))
            elif gang and e != end:
                out.append(Violation("schedule.gang", _at(c, "end"),
                                     f"ends at hour {num(e)}, but placements[{first.index}] "
                                     f"of the same gang at hour {num(end)}: a gang's nodes "
                                     "run at once"))
    return out


def predecessors(settings: Settings, w: Workload, stage: Stage) -> list[Stage]:
    """The stages that must end before ``stage`` starts (module docstring)."""
    if stage.after is None and stage.kind is StageKind.INFERENCE \
            and stage.earliest_start is None and stage.deadline is None:
        return []
    return w.predecessors(stage)


def check_precedence(settings: Settings, by_stage: ByStage) -> list[Violation]:
    """A stage starts no earlier than each of its predecessors ends (their latest end),
    plus its ``transfer_hours`` when it runs at a site its predecessor did not."""
    out = []
    for (wid, _), cs in by_stage.items():
        stage = cs[0].stage
        for before in predecessors(settings, cs[0].workload, stage):
            theirs = [c for c in by_stage.get((wid, before.label), [])
                      if c.placement.end is not None]
            if not theirs:
                continue
            last = max(theirs, key=lambda c: c.placement.end or 0)
            done = last.placement.end
            assert done is not None
            why = "its `after`" if stage.after is not None else "the pipeline order"
            moved = {c.placement.site for c in cs} - {c.placement.site for c in theirs}
            transfer = stage.transfer_hours if moved else Decimal(0)
            for c in cs:
                if c.placement.start is not None and c.placement.start < done + transfer:
                    copy = (f" and its artifact is copied to {', '.join(sorted(moved))} "
                            f"({num(transfer)} h, `transfer_hours`)" if transfer else "")
                    out.append(Violation(
                        "precedence", _at(c, "start"),
                        f"starts at hour {num(c.placement.start)}, before {before.label} "
                        f"ends at hour {num(done)} (placements[{last.index}]){copy}; "
                        f"{stage.label} runs after {before.label} ({why})"))
    return out


def check_dates(settings: Settings, checked: list[Checked]) -> list[Violation]:
    """``start_at``/``end_at`` are the horizon start plus the hours, or null undated."""
    out = []
    start = origin(settings)
    for c in checked:
        p = c.placement
        for field, hours, got in (("start_at", p.start, p.start_at),
                                  ("end_at", p.end, p.end_at)):
            want = date_of(start, hours) if start is not None and hours is not None else None
            if want is None and got is not None:
                out.append(Violation("schedule.dates", _at(c, field),
                                     f"plan says {got.isoformat()}; without a horizon start "
                                     "date (or without times) it is null"))
            elif want is not None and (got is None or not same_date(got, want)):
                out.append(Violation("schedule.dates", _at(c, field),
                                     f"plan says {got.isoformat() if got else None}; the "
                                     f"horizon start + {num(hours or Decimal(0))} h is "
                                     f"{want.isoformat()}"))
    return out


def outages_of(portfolio: Portfolio, pools: set[str]) -> Outages:
    """The declared outages of the on-prem node classes among ``pools``, in exact hours,
    each cut to the horizon (an outage may begin before it or end after it)."""
    settings = portfolio.settings
    period = settings.period_hours
    out: Outages = {}
    for site in portfolio.onprem:
        for offer in site.offers:
            key = f"offer:{site.id}/{offer.id}"
            spans = [(max(Decimal(0), hours_at(settings, o.from_)),
                      min(period, hours_at(settings, o.to)), o.nodes)
                     for o in offer.outages] if key in pools else []
            if inside := [(a, b, n) for a, b, n in spans if a < b]:
                out[key] = inside
    return out


def _untimed_plan(world: World, checked: list[Checked], plan: Plan,
                  settings: Settings) -> list[Violation]:
    """A plan without a timeline: today's checks of the times some placements carry."""
    out = check_durations(settings, checked, timeline=False)
    out += check_instants(world, uses_by_resource(world, checked))
    out += [Violation("window.late_hours", _at(c, "late_hours"),
                      f"plan says {c.placement.late_hours}; a plan without a timeline is "
                      "never late") for c in checked if c.placement.late_hours]
    if plan.totals.late_penalty_usd:
        out.append(Violation("totals", "totals.late_penalty_usd",
                             f"plan says {plan.totals.late_penalty_usd}; a plan without a "
                             "timeline is never late"))
    return out


def _missing_horizon(settings: Settings) -> Violation:
    """A placing plan without ``horizon`` (and so without its ``schedule[]``)."""
    start = origin(settings)
    dated = f" from {start.isoformat()}" if start is not None else ""
    return Violation("schedule.missing", "horizon",
                     "the plan has no timeline: a plan that places stages says when each "
                     f"runs (horizon: {num(settings.period_hours)} h{dated}; schedule[] of "
                     "every capacity-limited pool; each placement's start/end, start_at/end_at "
                     "and late_hours); re-plan with `planner plan PORTFOLIO -o PLAN` to get "
                     "it")


def check_timeline(portfolio: Portfolio, world: World, checked: list[Checked],
                   plan: Plan, *, allow_untimed: bool = False) -> list[Violation]:
    """Every timeline rule (module docstring) for the resolved placements ``checked``.

    A placing plan without a horizon breaks ``schedule.missing`` unless ``allow_untimed``
    (a plan built before it was scheduled: then only the times it carries are checked)."""
    settings = portfolio.settings
    if plan.horizon is None and (allow_untimed or not plan.feasible):
        return _untimed_plan(world, checked, plan, settings)
    by_stage = _by_stage(checked)
    # an untimed placement is a violation of its own here, not a run throughout
    by_resource = uses_by_resource(world, [c for c in checked if c.placement.start is not None])
    outages = outages_of(portfolio, set(by_resource))
    horizon = (check_horizon(settings, plan) if plan.horizon is not None
               else [_missing_horizon(settings)])
    return (horizon + check_bounds(settings, checked)
            + check_durations(settings, checked, timeline=True)
            + check_together(by_stage) + check_windows(settings, checked)
            + check_late_total(settings, checked, plan)
            + check_precedence(settings, by_stage) + check_dates(settings, checked)
            + check_instants(world, by_resource, outages)
            + check_schedule(world, by_resource, outages, plan, origin(settings)))
