"""The time rules of a conflict in words: deadlines, windows, precedence arcs, outages,
and what the stages caught in it need when, next to what their pools have free then.

:mod:`planner.solvers.schedule_diagnosis` answers with rule names; this module names the
time rules of a portfolio for it (:func:`timed_names`: only the rules the portfolio
declares are relaxable, see below), and words them (:func:`describe_timed`,
:func:`timed_demand`). Rule names:

* ``deadline:<workload>/<stage>``: a hard ``deadline`` (an inference stage's go-live
  date: ``earliest_start`` or ``deadline``);
* ``window:<workload>/<stage>``: an ``earliest_start``;
* ``after:<workload>/<a>-><b>``: stage ``b`` starts after ``a`` ends (``after``, or the
  pipeline order by default);
* ``outage:<site>/<offer>#<i>``: the ``i``-th outage of that on-prem node class;
* ``gang:<workload>/<stage>``: worded here for a candidate rule that prunes offers by the
  stage's gang size (``nodes`` / ``max_nodes``), should it be made relaxable under this
  name (the diagnosis relaxes any rule group the options carry).

The go-live the calendar derives for an inference stage without dates, soft deadlines
and the horizon are not relaxable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal

import numpy as np

from planner.compile.calendar import at, dated_golive, horizon
from planner.compile.candidates import Candidates
from planner.compile.market import offer_resource
from planner.models.calendar import TimePoint, as_datetime
from planner.models.portfolio import Portfolio, Settings, StageKind
from planner.models.problem import Problem
from planner.models.timing import Timing
from planner.solvers.schedule_diagnosis import TimedNames, arc_name


@dataclass(frozen=True)
class _DeclaredOutage:
    name: str
    site: str
    offer: str
    nodes: int
    start: TimePoint
    end: TimePoint


def _declared_outages(portfolio: Portfolio, problem: Problem) -> list[_DeclaredOutage]:
    """The outages the timing holds, in its order (as :mod:`planner.compile.timing` builds
    them: on-prem offers with a resource, outages that overlap the horizon)."""
    res = set(problem.res_names)
    h = horizon(portfolio.settings)
    out = []
    for site in portfolio.onprem:
        for offer in site.offers:
            if offer_resource(site.id, offer.id) not in res:
                continue
            for i, o in enumerate(offer.outages):
                start = max(0, math.floor(at(portfolio.settings, o.from_)))
                end = min(h, math.ceil(at(portfolio.settings, o.to)))
                if start < end:
                    out.append(_DeclaredOutage(f"outage:{site.id}/{offer.id}#{i}", site.id,
                                               offer.id, o.nodes, o.from_, o.to))
    return out


def timed_names(portfolio: Portfolio, cands: Candidates, problem: Problem,
                timing: Timing) -> TimedNames:
    """The rule names of the portfolio's time rules (module docstring); None for what the
    portfolio does not declare."""
    deadline: list[str | None] = []
    window: list[str | None] = []
    for ref in cands.stages:
        st = ref.stage
        hard = not st.late_penalty_usd_per_hour
        if st.kind is StageKind.INFERENCE:
            deadline.append(f"deadline:{ref.key}" if dated_golive(st) else None)
        else:
            deadline.append(f"deadline:{ref.key}" if st.deadline is not None and hard else None)
        window.append(f"window:{ref.key}" if st.earliest_start is not None else None)
    keys = [r.key for r in cands.stages]
    after = tuple(arc_name(keys[a.before], keys[a.after]) for a in timing.precedence)
    declared = _declared_outages(portfolio, problem)
    outage: tuple[str | None, ...] = tuple(d.name for d in declared)
    if len(outage) != len(timing.outages):  # never expected; name them by resource then
        outage = TimedNames.default(problem, timing).outage
    return TimedNames(tuple(deadline), tuple(window), after, outage)


def when(settings: Settings, value: TimePoint | int | Decimal) -> str:
    """A time for people: a date (and time of day) in UTC when the horizon has a start,
    else hours from the start. (A start with an offset, ``2027-01-04T00:00:00+05:30``,
    is moved to UTC first: the text says UTC, and plans and reports show UTC.)"""
    hours = at(settings, Decimal(value) if isinstance(value, int) else value)
    if settings.horizon is None:
        return f"hour {hours:g}"
    moment = (as_datetime(settings.horizon.start) + timedelta(hours=float(hours))
              ).astimezone(UTC)
    if moment.hour == 0 and moment.minute == 0:
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def describe_timed(name: str, portfolio: Portfolio, cands: Candidates) -> str | None:
    """One time rule in plain words, or None when ``name`` is not a time rule."""
    kind, _, scope = name.partition(":")
    settings = portfolio.settings
    stages = {r.key: r for r in cands.stages}
    if kind in ("deadline", "window") and scope in stages:
        ref = stages[scope]
        st, who = ref.stage, f"{ref.stage.label} of {ref.workload.id}"
        if kind == "window":
            assert st.earliest_start is not None
            verb = "goes live" if st.kind is StageKind.INFERENCE else "starts"
            return f"{who} {verb} no earlier than {when(settings, st.earliest_start)}"
        if st.kind is StageKind.INFERENCE:
            live = st.earliest_start if st.earliest_start is not None else st.deadline
            assert live is not None
            return f"{who} must be live by {when(settings, live)}"
        assert st.deadline is not None
        return f"{who} must end by {when(settings, st.deadline)}"
    if kind == "gang" and scope in stages:
        ref = stages[scope]
        st, who = ref.stage, f"{ref.stage.label} of {ref.workload.id}"
        if st.nodes is not None:
            return f"{who} runs each replica on {st.nodes} nodes at once (nodes: {st.nodes})"
        if st.max_nodes is not None:
            return f"{who} runs each replica on at most {st.max_nodes} nodes at once"
        return f"{who} runs each replica on one instance"
    if kind == "after":
        workload, _, arc = scope.partition("/")
        before, _, after = arc.partition("->")
        later = stages.get(f"{workload}/{after}")
        transfer = later.stage.transfer_hours if later is not None else Decimal(0)
        copy = (f" (and {transfer.normalize():f} h later at a site where it did not run: "
                "transfer_hours)" if transfer else "")
        return f"{after} of {workload} starts only after its {before} ends{copy}"
    if kind == "outage":
        for site in portfolio.onprem:
            for offer in site.offers:
                for i, o in enumerate(offer.outages):
                    if name == f"outage:{site.id}/{offer.id}#{i}":
                        return (f"{site.id} has {o.nodes} of {offer.nodes} × {offer.id} down "
                                f"from {when(settings, o.from_)} to {when(settings, o.to)}")
    return None


def _window_text(settings: Settings, timing: Timing, s: int) -> str:
    release, due, h = int(timing.release[s]), int(timing.due[s]), timing.horizon
    if timing.to_end[s]:
        return f"from {when(settings, release)} to the horizon end"
    if release > 0 and due < h:
        return f"between {when(settings, release)} and {when(settings, due)}"
    if due < h:
        return f"before {when(settings, due)}"
    if release > 0:
        return f"after {when(settings, release)}"
    return f"within the horizon (by {when(settings, h)})"


def _pool_text(settings: Settings, problem: Problem, timing: Timing, r: int, s: int) -> str:
    """What pool ``r`` has at once, and free during stage ``s``'s window under outages."""
    name = problem.res_names[r]
    kind, _, rest = name.partition(":")
    site, _, what = rest.rpartition("/")
    cap = int(timing.res_now[r])
    text = (f"{site} has a quota of {cap} {what} GPUs at once" if kind == "gpu"
            else f"{site} has {cap} × {what}")
    lo, hi = int(timing.release[s]), timing.horizon if timing.to_end[s] else int(timing.due[s])
    outs = [o for o in timing.outages if o.res == r and o.start < hi and o.end > lo]
    if not outs:
        return text
    points = {max(lo, o.start) for o in outs}
    down = max(sum(o.amount for o in outs if o.start <= t < o.end) for t in points)
    spans = ", ".join(f"{when(settings, o.start)} to {when(settings, o.end)}" for o in outs[:3])
    return f"{text}, {max(0, cap - down)} free in that window (outage {spans})"


def _stage_demand(settings: Settings, cands: Candidates, problem: Problem, timing: Timing,
                  s: int) -> str:
    ref = cands.stages[s]
    groups = problem.opt_groups or ((),) * problem.n_options
    opts = [o for o in problem.options_of(s) if not groups[o]] or list(problem.options_of(s))
    hours = sorted({int(timing.opt_hours[o]) for o in opts}) or [0]
    length = f"{hours[0]} h" if len(hours) == 1 else f"{hours[0]}–{hours[-1]} h"
    needs: dict[int, int] = {}
    for k in range(problem.use_opt.size):
        o, r = int(problem.use_opt[k]), int(problem.use_res[k])
        if o in opts and int(timing.use_now[k]):
            needs[r] = max(needs.get(r, 0), int(timing.use_now[k]) * int(problem.units[s]))
    who = f"{ref.stage.label} of {ref.workload.id}"
    when_ = _window_text(settings, timing, s)
    if not timing.to_end[s]:
        when_ = f"for {length} {when_}"
    if not needs:
        verb = "serves" if timing.to_end[s] else "runs"
        return f"{who} {verb} {when_.removeprefix('for ')}; its sites have no limit at once"
    pools = sorted(needs)[:3]
    what = " or ".join(sorted({f"{needs[r]} × {problem.res_names[r].rpartition('/')[2]}"
                               for r in pools}))
    return (f"{who} needs {what} at once {when_}; "
            + "; ".join(_pool_text(settings, problem, timing, r, s) for r in pools))


def _involved(core: list[str], cands: Candidates, problem: Problem, timing: Timing,
              names: TimedNames) -> list[int]:
    """The stages the rules of ``core`` constrain."""
    index = {r.key: r.index for r in cands.stages}
    out: set[int] = set()
    pools: set[int] = set()
    groups = problem.opt_groups or ()
    res = {n: i for i, n in enumerate(problem.res_names)}
    for rule in core:
        kind, _, scope = rule.partition(":")
        if kind in ("deadline", "window") and scope in index:
            out.add(index[scope])
        elif kind == "after" and rule in names.after:
            arc = timing.precedence[names.after.index(rule)]
            out |= {arc.before, arc.after}
        elif kind == "outage" and rule in names.outage:
            pools.add(timing.outages[names.outage.index(rule)].res)
        elif kind == "capacity" and scope in res:
            pools.add(res[scope])
        else:
            out |= {s for s in range(problem.n_stages) for o in problem.options_of(s)
                    if groups and rule in groups[o]}
    for k in range(problem.use_opt.size):
        if int(problem.use_res[k]) in pools and int(timing.use_now[k]):
            o = int(problem.use_opt[k])
            out.add(int(np.searchsorted(problem.stage_ptr, o, side="right")) - 1)
    return sorted(out)


def timed_demand(core: list[str], portfolio: Portfolio, cands: Candidates, problem: Problem,
                 timing: Timing, names: TimedNames) -> tuple[list[str], frozenset[int]]:
    """What the stages the time rules of the conflict constrain need, when, and what their
    pools have free then (at most six stages); and those stages. (The stages only the
    placement rules constrain are described as without time.)"""
    timed = [r for r in core if r.partition(":")[0] in ("deadline", "window", "after",
                                                          "outage")]
    stages = _involved(timed, cands, problem, timing, names)
    return ([_stage_demand(portfolio.settings, cands, problem, timing, s) for s in stages[:6]],
            frozenset(stages))
