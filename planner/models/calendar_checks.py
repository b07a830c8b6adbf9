"""The calendar rules of a portfolio that span several fields: precedence between the
stages of a workload, dates against the horizon, windows, outages.

Called by the validators of :class:`~planner.models.portfolio.Workload` and
:class:`~planner.models.portfolio.Portfolio`; each error names its path in the input.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from planner.models.calendar import TimePoint, hours_from_start, shown
from planner.models.limits import error_at

if TYPE_CHECKING:
    from planner.models.portfolio import OnpremOffer, Portfolio, Stage, Workload

Span = tuple[Decimal, Decimal, int]
"""An outage in hours from the horizon start: ``[from, to)`` and the nodes it takes down."""


@dataclass(frozen=True)
class Overbooked:
    """Outages of one node class that take more nodes at once than it has: at ``hour``,
    when outage ``index`` starts, ``down`` nodes are down in it and the ``others``
    (indices) together. ``whole_hours``: only so in whole hours, as the planner counts
    outages (rounded outwards), not at the exact times."""

    index: int
    hour: Decimal
    down: int
    others: tuple[int, ...]
    whole_hours: bool = False


def _first_overbooked(spans: Sequence[Span], nodes: int) -> Overbooked | None:
    """The earliest outage start at which the outages down then take more than ``nodes``."""
    for k in sorted(range(len(spans)), key=lambda k: (spans[k][0], k)):
        t = spans[k][0]
        down = [j for j, (a, b, _) in enumerate(spans) if a <= t < b]
        total = sum(spans[j][2] for j in down)
        if total > nodes:
            return Overbooked(k, t, total, tuple(j for j in down if j != k))
    return None


def overbooked(spans: Sequence[Span], nodes: int, period: Decimal) -> Overbooked | None:
    """Whether outages at once take more than ``nodes`` nodes, at the exact times or in
    the whole hours the solvers count (rounded outwards and cut to the horizon, as
    :mod:`planner.compile.timing` does). The portfolio's validation and the what-if
    scenarios' outages and capacity changes share this rule."""
    exact = _first_overbooked(spans, nodes)
    if exact is not None:
        return exact
    end = max(1, math.floor(period))
    whole = [(Decimal(max(0, math.floor(a))), Decimal(min(end, math.ceil(b))), n)
             for a, b, n in spans]
    rounded = _first_overbooked([s if s[0] < s[1] else (s[0], s[0], 0) for s in whole], nodes)
    return None if rounded is None else Overbooked(
        rounded.index, rounded.hour, rounded.down, rounded.others, whole_hours=True)


def overbooked_message(found: Overbooked, offer: str, nodes: int, when: str) -> str:
    """``found`` in words: which outages overlap, when (``when``: the start of outage
    ``found.index`` as the user wrote it; the whole hour when only whole hours overlap) and
    how many nodes they take down together against the ``nodes`` of ``offer``."""
    names = " and ".join(f"outages[{j}]" for j in sorted((*found.others, found.index)))
    at = (f"in hour {found.hour:g} from the horizon start once rounded outwards to whole "
          "hours, as the solvers count outages," if found.whole_hours else f"at {when}")
    return (f"{names} overlap {at} and together take {found.down} nodes down, but {offer} "
            f"has {nodes}")


def check_precedence(w: Workload) -> None:
    """``after`` names other stages of the workload, and precedence has no cycle."""
    labels = [s.label for s in w.stages]
    for j, st in enumerate(w.stages):
        for k, name in enumerate(st.after or []):
            loc = ("stages", j, "after", k)
            if name == st.label:
                error_at("Workload", loc, "precedence",
                         f"stage {st.label!r} cannot come after itself", name)
            if name not in labels and "/" in name:
                error_at("Workload", loc, "precedence",
                         f"{name!r} looks like another workload's stage: `after` names "
                         f"stages of this workload only ({', '.join(labels)}); an order "
                         "between workloads cannot be given. Name a stage of this workload, "
                         "or give the stage an earliest_start after the other one's deadline",
                         name)
            if name not in labels:
                close = difflib.get_close_matches(name, labels, n=1)
                guess = f" (did you mean {close[0]!r}?)" if close else ""
                error_at("Workload", loc, "precedence",
                         f"unknown stage {name!r}; the workload's stages are "
                         f"{', '.join(labels)}{guess}", name)
            if name in (st.after or [])[:k]:
                error_at("Workload", loc, "precedence",
                         f"stage {name!r} is named twice in `after`; name it once", name)
        if st.transfer_hours and not w.predecessors(st):
            error_at("Workload", ("stages", j, "transfer_hours"), "precedence",
                     f"stage {st.label!r} has no predecessor to bring an artifact from "
                     "(its `after` or the pipeline order names none); drop "
                     "transfer_hours or name the stage it follows in `after`",
                     st.transfer_hours)
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


def _parsed(p: Portfolio, value: TimePoint, loc: tuple[int | str, ...]) -> Decimal:
    """Hours from the horizon start, wherever they lie."""
    horizon = p.settings.horizon
    try:
        return hours_from_start(value, horizon.start if horizon else None)
    except ValueError as exc:
        error_at("Portfolio", loc, "calendar", str(exc), str(value))


def _hours(p: Portfolio, value: TimePoint, loc: tuple[int | str, ...]) -> Decimal:
    hours = _parsed(p, value, loc)
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
    hours = {}
    for field in ("earliest_start", "deadline"):
        value = getattr(st, field)
        if value is not None:
            hours[field] = _hours(p, value, (*base, field))
            if hours[field] >= period:
                error_at("Portfolio", (*base, field), "calendar",
                         f"the go-live {shown(value)} is at or after the horizon end: the "
                         "service would never run; give an earlier date", str(value))
    if len(hours) == 2 and hours["earliest_start"] != hours["deadline"]:
        error_at("Portfolio", (*base, "deadline"), "calendar",
                 f"an inference stage goes live at one fixed hour, billed from then to the "
                 f"horizon end, and its earliest_start {shown(st.earliest_start)} sets it: "
                 f"deadline {shown(st.deadline)} (live by) could have no effect. Drop the "
                 "deadline (live from earliest_start), or drop earliest_start (live from "
                 "the deadline), or give both the same date",
                 str(st.deadline))
    if st.late_penalty_usd_per_hour is not None:
        error_at("Portfolio", (*base, "late_penalty_usd_per_hour"), "calendar",
                 "an inference stage goes live at its date (late penalties apply to "
                 "training and testing); put the penalty on the stage before it",
                 str(st.late_penalty_usd_per_hour))


def _check_outages(p: Portfolio, offer: OnpremOffer, at: tuple[str | int, ...]) -> None:
    """An outage ends after it starts, overlaps the horizon (a maintenance that began
    before it or ends after it counts for the part inside: a shared maintenance calendar
    need not be cut to the quarter) and takes no more nodes than exist, alone or together
    with the outages that overlap it."""
    spans = []
    period = p.settings.period_hours
    for k, out in enumerate(offer.outages):
        begin = _parsed(p, out.from_, (*at, "outages", k, "from"))
        end = _parsed(p, out.to, (*at, "outages", k, "to"))
        if end <= begin:
            error_at("Portfolio", (*at, "outages", k, "to"), "calendar",
                     f"outage ends at {shown(out.to)}, not after it starts "
                     f"({shown(out.from_)})",
                     str(out.to))
        if end <= 0 or begin >= period:
            error_at("Portfolio", (*at, "outages", k, "from"), "calendar",
                     f"outage [{shown(out.from_)}, {shown(out.to)}) lies outside the horizon [0, "
                     f"{period:.6g}] h ({begin:.6g} to {end:.6g} h from its start); "
                     "remove it, or check its dates", str(out.from_))
        begin, end = max(Decimal(0), begin), min(period, end)
        if out.nodes > offer.nodes:
            error_at("Portfolio", (*at, "outages", k, "nodes"), "out_of_range",
                     f"{out.nodes} nodes down, but {offer.id} has {offer.nodes}",
                     out.nodes)
        spans.append((begin, end, out.nodes))
    found = overbooked(spans, offer.nodes, p.settings.period_hours)
    if found is not None:
        out = offer.outages[found.index]
        early = _parsed(p, out.from_, (*at, "outages", found.index, "from")) < 0
        when = f"the horizon start ({shown(out.from_)} is before it)" if early \
            else shown(out.from_)
        error_at("Portfolio", (*at, "outages", found.index, "nodes"), "outage_overlap",
                 overbooked_message(found, offer.id, offer.nodes, when)
                 + "; take fewer nodes down, or move the outages apart", out.nodes)


def check_calendar(p: Portfolio) -> None:
    """Every time lies in the horizon (dates need its start); a window opens before it
    closes; an outage ends after it starts, and outages at once take no more nodes than
    exist."""
    for i, w in enumerate(p.workloads):
        for j, st in enumerate(w.stages):
            base = ("workloads", i, "stages", j)
            start = (_hours(p, st.earliest_start, (*base, "earliest_start"))
                     if st.earliest_start is not None else Decimal(0))
            if st.deadline is not None and st.kind != "inference":  # its go-live: below
                due = _hours(p, st.deadline, (*base, "deadline"))
                if due <= start:
                    after = "the horizon start" if st.earliest_start is None \
                        else f"earliest_start {st.earliest_start}"
                    error_at("Portfolio", (*base, "deadline"), "calendar",
                             f"deadline {st.deadline} is not after {after}",
                             str(st.deadline))
            _check_serving(p, st, base)
            rate = st.late_penalty_usd_per_hour
            if rate is not None and 0 < rate < Decimal("0.000001"):
                error_at("Portfolio", (*base, "late_penalty_usd_per_hour"), "out_of_range",
                         f"{rate} USD per hour is below a micro-dollar, the planner's unit; "
                         "give at least 0.000001 (or 0 for a hard deadline)", str(rate))
    for i, site in enumerate(p.onprem):
        for j, offer in enumerate(site.offers):
            _check_outages(p, offer, ("onprem", i, "offers", j))
