"""The calendar rules of a portfolio that span several fields: precedence between the
stages of a workload, dates against the horizon, windows, outages.

Called by the validators of :class:`~planner.models.portfolio.Workload` and
:class:`~planner.models.portfolio.Portfolio`; each error names its path in the input.
"""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import TYPE_CHECKING

from planner.models.calendar import TimePoint, hours_from_start
from planner.models.limits import error_at

if TYPE_CHECKING:
    from planner.models.portfolio import Portfolio, Stage, Workload


def check_precedence(w: Workload) -> None:
    """``after`` names other stages of the workload, and precedence has no cycle."""
    labels = [s.label for s in w.stages]
    for j, st in enumerate(w.stages):
        for k, name in enumerate(st.after or []):
            loc = ("stages", j, "after", k)
            if name == st.label:
                error_at("Workload", loc, "precedence",
                         f"stage {st.label!r} cannot come after itself", name)
            if name not in labels:
                close = difflib.get_close_matches(name, labels, n=1)
                guess = f" (did you mean {close[0]!r}?)" if close else ""
                error_at("Workload", loc, "precedence",
                         f"unknown stage {name!r}; the workload's stages are "
                         f"{', '.join(labels)}{guess}", name)
    order = _cycle(w)
    if order:
        j = labels.index(order[0])
        error_at("Workload", ("stages", j, "after"), "precedence_cycle",
                 f"precedence cycle {' → '.join(order)}: no stage of it could start; "
                 "change `after` of one of them", w.stages[j].after or [])


def _cycle(w: Workload) -> list[str]:
    """A precedence cycle as stage labels (first = last), or []."""
    before = {s.label: [p.label for p in w.predecessors(s)] for s in w.stages}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(label: str) -> list[str]:
        state[label] = 1
        path.append(label)
        for nxt in before[label]:
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[label] = 2
        return []

    for label in before:
        if label not in state and (found := visit(label)):
            return found
    return []


def _hours(p: Portfolio, value: TimePoint, loc: tuple[int | str, ...]) -> Decimal:
    horizon = p.settings.horizon
    try:
        hours = hours_from_start(value, horizon.start if horizon else None)
    except ValueError as exc:
        error_at("Portfolio", loc, "calendar", str(exc), str(value))
    period = p.settings.period_hours
    if not Decimal(0) <= hours <= period:
        error_at("Portfolio", loc, "calendar",
                 f"{value} is {hours:.6g} h from the horizon start, outside the horizon "
                 f"[0, {period:.6g}] h; move it or lengthen the horizon", str(value))
    return hours


def _check_serving(p: Portfolio, st: Stage, base: tuple[str | int, ...]) -> None:
    """An inference stage serves within the horizon, from a go-live before its end."""
    if st.kind != "inference":  # StageKind, a StrEnum (no runtime import: a cycle)
        return
    period = p.settings.period_hours
    if st.hours > period:
        error_at("Portfolio", (*base, "hours"), "out_of_range",
                 f"an inference stage serves at most the horizon ({period} h); give the "
                 f"hours it serves in it (it goes live that long before the horizon end)",
                 str(st.hours))
    for field in ("earliest_start", "deadline"):
        value = getattr(st, field)
        if value is not None and _hours(p, value, (*base, field)) >= period:
            error_at("Portfolio", (*base, field), "calendar",
                     f"the go-live {value} is at or after the horizon end: the service would "
                     "never run; give an earlier date", str(value))
    if st.late_penalty_usd_per_hour is not None:
        error_at("Portfolio", (*base, "late_penalty_usd_per_hour"), "calendar",
                 "an inference stage goes live at its date (late penalties apply to "
                 "training and testing); put the penalty on the stage before it",
                 str(st.late_penalty_usd_per_hour))


def check_calendar(p: Portfolio) -> None:
    """Every time lies in the horizon (dates need its start); a window opens before it
    closes; an outage ends after it starts and takes no more nodes than exist."""
    for i, w in enumerate(p.workloads):
        for j, st in enumerate(w.stages):
            base = ("workloads", i, "stages", j)
            start = (_hours(p, st.earliest_start, (*base, "earliest_start"))
                     if st.earliest_start is not None else Decimal(0))
            if st.deadline is not None:
                due = _hours(p, st.deadline, (*base, "deadline"))
                if due <= start:
                    error_at("Portfolio", (*base, "deadline"), "calendar",
                             f"deadline {st.deadline} is not after earliest_start "
                             f"{st.earliest_start}", str(st.deadline))
            _check_serving(p, st, base)
            rate = st.late_penalty_usd_per_hour
            if rate is not None and 0 < rate < Decimal("0.000001"):
                error_at("Portfolio", (*base, "late_penalty_usd_per_hour"), "out_of_range",
                         f"{rate} USD per hour is below a micro-dollar, the planner's unit; "
                         "give at least 0.000001 (or 0 for a hard deadline)", str(rate))
    for i, site in enumerate(p.onprem):
        for j, offer in enumerate(site.offers):
            for k, out in enumerate(offer.outages):
                at = ("onprem", i, "offers", j, "outages", k)
                begin = _hours(p, out.from_, (*at, "from"))
                end = _hours(p, out.to, (*at, "to"))
                if end <= begin:
                    error_at("Portfolio", (*at, "to"), "calendar",
                             f"outage ends at {out.to}, not after it starts ({out.from_})",
                             str(out.to))
                if out.nodes > offer.nodes:
                    error_at("Portfolio", (*at, "nodes"), "out_of_range",
                             f"{out.nodes} nodes down, but {offer.id} has {offer.nodes}",
                             out.nodes)
