"""The plan's timeline: when every placement runs, why then, and each pool's schedule.

Times follow :mod:`planner.compile.calendar`: a training or testing placement runs
``[start, start + hours)`` from the whole hour the solver chose; an inference placement
runs from its go-live to the horizon end. ``schedule[]`` lists, per capacity-limited pool
the placements use (an offer's inventory or quota, a site's GPU quota), who holds how many
units when, the pool's outages, and its peak.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from planner.compile.calendar import at, predecessors, window
from planner.compile.candidates import Candidates, StageRef
from planner.compile.market import gpu_resource, offer_resource
from planner.models.calendar import as_datetime
from planner.models.plan import Horizon, Placement, Plan, PoolSchedule, Run, Window
from planner.models.portfolio import Portfolio, StageKind
from planner.models.world import World
from planner.money import to_micro

_SIX = Decimal("0.000001")


def hours_text(hours: Decimal) -> str:
    """``120``, ``37.5``: hours without trailing zeros."""
    return f"{hours.normalize():f}"


def date_at(start: datetime | None, hours: Decimal) -> datetime | None:
    """``hours`` after ``start`` (to the second), or None without a start."""
    if start is None:
        return None
    return start + timedelta(seconds=int((hours * 3600).to_integral_value()))


class _Stage:
    """One stage's interval in the plan (exact hours) and the sites it runs at."""

    def __init__(self, start: Decimal, end: Decimal, sites: frozenset[str]) -> None:
        self.start, self.end, self.sites = start, end, sites


def _intervals(portfolio: Portfolio, cands: Candidates, placements: list[Placement],
               starts: dict[str, int]) -> dict[str, _Stage]:
    """Stage key → its exact start and end (the latest end of its placements)."""
    settings = portfolio.settings
    refs = {r.key: r for r in cands.stages}
    out: dict[str, _Stage] = {}
    for p in placements:
        key = f"{p.workload}/{p.stage}"
        ref = refs[key]
        w = window(settings, ref.stage)
        begin = w.golive if w.golive is not None else Decimal(starts[key])
        end = settings.period_hours if ref.stage.kind is StageKind.INFERENCE \
            else begin + p.hours
        got = out.get(key)
        out[key] = _Stage(begin, end, frozenset([p.site])) if got is None else \
            _Stage(begin, max(got.end, end), got.sites | {p.site})
    return out


def _late_hours(portfolio: Portfolio, ref: StageRef, st: _Stage) -> int:
    w = window(portfolio.settings, ref.stage)
    if not w.soft or ref.stage.kind is StageKind.INFERENCE:
        return 0
    return max(0, math.ceil(st.end) - math.floor(w.due))


def _pools(world: World, p: Placement) -> list[tuple[str, str, int]]:
    """The limited pools a placement holds: (resource, unit, amount at once)."""
    offer = world.offer(p.site, p.offer)
    assert offer is not None
    out = []
    if offer.capacity is not None:
        out.append((offer_resource(p.site, p.offer), "instances", p.instances))
    if offer.gpu_model and (p.site, offer.gpu_model) in world.gpu_quotas:
        out.append((gpu_resource(p.site, offer.gpu_model), "gpus",
                    int(p.instances * offer.gpu_count)))
    return out


def _capacity(world: World, resource: str) -> int:
    kind, _, rest = resource.partition(":")
    site, _, name = rest.rpartition("/")
    if kind == "gpu":
        return world.gpu_quotas[(site, name)]
    offer = world.offer(site, name)
    assert offer is not None and offer.capacity is not None
    return offer.capacity


def _outages(portfolio: Portfolio, begin: datetime | None) -> dict[str, list[Window]]:
    settings = portfolio.settings
    out: dict[str, list[Window]] = defaultdict(list)
    for site in portfolio.onprem:
        for offer in site.offers:
            for o in offer.outages:
                a = max(Decimal(0), at(settings, o.from_))
                b = min(settings.period_hours, at(settings, o.to))
                if a < b:
                    out[offer_resource(site.id, offer.id)].append(Window(
                        start=a, end=b, amount=o.nodes, start_at=date_at(begin, a),
                        end_at=date_at(begin, b)))
    return out


def _peak(runs: list[Run], outages: list[Window]) -> tuple[int, Decimal]:
    """Most units held at once (outages included) and the first hour it is reached; at
    equal times ends come first (intervals are half-open)."""
    events = [(r.start, 1, r.amount) for r in runs] + [(r.end, 0, -r.amount) for r in runs]
    events += [(w.start, 1, w.amount) for w in outages] + [(w.end, 0, -w.amount)
                                                            for w in outages]
    load, best, when = 0, 0, Decimal(0)
    for t, is_start, delta in sorted(events):
        load += delta
        if is_start and load > best:
            best, when = load, t
    return best, when


def schedule(portfolio: Portfolio, world: World, placements: list[Placement],
             begin: datetime | None) -> list[PoolSchedule]:
    """Every limited pool the placements use, with its runs, outages and peak."""
    runs: dict[str, list[Run]] = defaultdict(list)
    units: dict[str, str] = {}
    for p in placements:
        assert p.start is not None and p.end is not None
        for resource, unit, amount in _pools(world, p):
            units[resource] = unit
            runs[resource].append(Run(workload=p.workload, stage=p.stage, offer=p.offer,
                                      start=p.start, end=p.end, amount=amount))
    downs = _outages(portfolio, begin)
    out = []
    for resource in sorted(runs):
        site = resource.partition(":")[2].rpartition("/")[0]
        held = sorted(runs[resource], key=lambda r: (r.start, r.workload, r.stage))
        peak, when = _peak(held, downs.get(resource, []))
        out.append(PoolSchedule(resource=resource, site=site, unit=units[resource],
                                capacity=_capacity(world, resource), peak=peak, peak_at=when,
                                runs=held, outages=downs.get(resource, [])))
    return out


class _Ends:
    """Per pool, who frees it at each hour (runs and outages that end then), and the pools
    of each stage: the index behind "full until then"."""

    def __init__(self, pools: list[PoolSchedule]) -> None:
        self.at: dict[tuple[str, Decimal], set[str]] = defaultdict(set)
        self.pools_of: dict[str, list[str]] = defaultdict(list)
        for pool in pools:
            for r in pool.runs:
                self.at[(pool.resource, r.end)].add(f"{r.workload}/{r.stage}")
                self.pools_of[f"{r.workload}/{r.stage}"].append(pool.resource)
            for w in pool.outages:
                self.at[(pool.resource, w.end)].add("an outage")

    def busy(self, p: Placement, key: str) -> str:
        """Who holds a pool of placement ``p`` until it starts."""
        for resource in self.pools_of.get(key, []):
            held = self.at.get((resource, p.start or Decimal(0)), set()) - {key}
            if held:
                return f"{resource} is full until then ({', '.join(sorted(held))} ends)"
        return "the pools it needs are full until then"


def _why_then(portfolio: Portfolio, ref: StageRef, st: _Stage, stages: dict[str, _Stage],
              busy: str) -> str:
    """Why the stage starts when it does: its window, a predecessor, or busy capacity."""
    settings = portfolio.settings
    w = window(settings, ref.stage)
    when = f"hour {hours_text(st.start)}"
    if w.golive is not None:
        return f"when: goes live at {when} and serves to the horizon end"
    before = [f"{ref.workload.id}/{p.label}" for p in
              predecessors(settings, ref.workload, ref.stage)]
    transfer = ref.stage.transfer_hours
    ready = [(stages[k].end + (transfer if not st.sites <= stages[k].sites else 0), k)
             for k in before if k in stages]
    if st.start <= math.ceil(w.release):
        return (f"when: starts at {when}, its earliest start" if w.release > 0
                else f"when: starts at {when}, the horizon start")
    if ready and st.start <= math.ceil(max(ready)[0]):
        at, key = max(ready)
        label = key.split("/", 1)[1]
        if at > stages[key].end:
            return (f"when: starts at {when}, after {label} ends at hour "
                    f"{hours_text(stages[key].end)} and its artifact is copied from "
                    f"{', '.join(sorted(stages[key].sites))} ({hours_text(transfer)} h)")
        return f"when: starts at {when}, right after {label} ends"
    return f"when: starts at {when}: {busy}"


def with_timeline(plan: Plan, portfolio: Portfolio, world: World, cands: Candidates,
                  starts: dict[str, int]) -> Plan:
    """``plan`` with start/end on every placement, the pools' schedule and late penalties;
    ``starts`` maps a batch stage key to the whole hour it starts."""
    settings = portfolio.settings
    begin = as_datetime(settings.horizon.start) if settings.horizon is not None else None
    stages = _intervals(portfolio, cands, plan.placements, starts)
    refs = {r.key: r for r in cands.stages}
    late = {k: _late_hours(portfolio, refs[k], st) for k, st in stages.items()}
    timed = []
    for p in plan.placements:
        key = f"{p.workload}/{p.stage}"
        st = stages[key]
        end = st.start + (settings.period_hours - st.start
                          if p.kind is StageKind.INFERENCE else p.hours)
        timed.append(p.model_copy(update={
            "start": st.start.quantize(_SIX), "end": end.quantize(_SIX),
            "start_at": date_at(begin, st.start), "end_at": date_at(begin, end),
            "late_hours": late[key]}))
    pools = schedule(portfolio, world, timed, begin)
    ends = _Ends(pools)
    placed = []
    for p in timed:
        key = f"{p.workload}/{p.stage}"
        why = _why_then(portfolio, refs[key], stages[key], stages, ends.busy(p, key))
        placed.append(p.model_copy(update={"why": [*p.why, why]}))
    micro = 0  # as the solver counts it: micro-dollars per hour late × whole hours
    for key, hours in late.items():
        rate = window(settings, refs[key].stage).late_usd_per_hour
        if hours and rate is not None:
            micro += to_micro(rate) * hours
    totals = plan.totals.model_copy(update={
        "late_penalty_usd": (Decimal(micro) / Decimal(10**6)).quantize(_SIX)})
    return plan.model_copy(update={
        "placements": placed, "totals": totals,
        "horizon": Horizon(start=begin, hours=settings.period_hours),
        "schedule": pools})
