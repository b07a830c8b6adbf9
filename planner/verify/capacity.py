"""The verifier's capacity checks: per period, at once, at every instant, and ``resources[]``.

Limited resources are an offer's inventory or quota at a site (``offer:<site>/<offer>``,
instances at once) and a site's GPU quota per model (``gpu:<site>/<model>``, GPUs at
once). Three checks, each necessary on its own:

* per period: instance-hours and GPU-hours (instances × run hours, exact) fit in
  capacity × period hours;
* per stage: what one stage needs at once fits (its instances run together);
* at every instant, when placements carry ``start``/``end``: at every event instant
  (a start or an end of a placement or of an outage) the instances (GPUs) of every
  placement running then, plus the nodes down in an outage then, fit. A placement without
  times on a resource where others have times is counted as running throughout
  (conservative); a resource whose placements all lack times is checked per period
  and per stage only — the plan makes no claim about when they run. The timeline check
  (:mod:`planner.verify.timeline`) runs this one with the portfolio's outages.

``resources[]`` is recomputed from the placements (its documented rule: use per unit of
a placement in milli-unit-hours, rounded up, times the units) and compared row by row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from planner.models.plan import Plan
from planner.models.world import World
from planner.verify.base import MILLI, Checked, Violation, ceil_milli, num

_UTILIZATION_TOLERANCE = 0.00005


def _offer_key(c: Checked) -> str | None:
    return f"offer:{c.site.id}/{c.offer.id}" if c.offer.capacity is not None else None


def _gpu_key(c: Checked, world: World) -> str | None:
    model = c.offer.gpu_model
    if model and (c.site.id, model) in world.gpu_quotas:
        return f"gpu:{c.site.id}/{model}"
    return None


def capacity_of(world: World, resource: str) -> int:
    """Units of a limited resource that exist at once (instances or GPUs)."""
    kind, _, rest = resource.partition(":")
    site, _, name = rest.rpartition("/")
    if kind == "gpu":
        return world.gpu_quotas[(site, name)]
    offer = world.offer(site, name)
    assert offer is not None and offer.capacity is not None
    return offer.capacity


Uses = dict[str, list[tuple[Checked, Decimal]]]


def uses_by_resource(world: World, checked: Iterable[Checked]) -> Uses:
    """Resource → the placements on it and how many units of it each holds at once."""
    out: dict[str, list[tuple[Checked, Decimal]]] = defaultdict(list)
    for c in checked:
        n = Decimal(c.placement.instances)
        if key := _offer_key(c):
            out[key].append((c, n))
        if key := _gpu_key(c, world):
            out[key].append((c, n * c.offer.gpu_count))
    return out


def check_period(world: World, by_resource: Uses) -> list[Violation]:
    """Unit-hours per planning period, exactly (no rounding in the planner's favour)."""
    out = []
    for resource, uses in sorted(by_resource.items()):
        used = sum((amount * c.hours for c, amount in uses), Decimal(0))
        cap = capacity_of(world, resource) * world.period_hours
        if used > cap:
            unit = "GPU-hours" if resource.startswith("gpu:") else "instance-hours"
            out.append(Violation(f"capacity.{resource.partition(':')[0]}", resource,
                                 f"{num(used)} {unit} > {num(cap)}"))
    return out


def check_stage_at_once(world: World, by_resource: Uses) -> list[Violation]:
    """What one stage holds of a resource at once fits in it."""
    out = []
    for resource, uses in sorted(by_resource.items()):
        per_stage: dict[str, Decimal] = defaultdict(Decimal)
        for c, amount in uses:
            per_stage[f"{c.placement.workload}/{c.placement.stage}"] += amount
        limit = capacity_of(world, resource)
        for stage, n in sorted(per_stage.items()):
            if n > limit:
                what = "GPUs" if resource.startswith("gpu:") else "instances"
                out.append(Violation("capacity.concurrency", f"{stage} on {resource}",
                                     f"needs {num(n)} {what} at once; {limit} exist"))
    return out


Outages = dict[str, list[tuple[Decimal, Decimal, int]]]
"""Resource → its outages: ``(from, to, units down)`` during ``[from, to)``."""


@dataclass(frozen=True)
class Step:
    """From ``at`` to the next step: ``held`` units in use (untimed placements included)
    and ``down`` units in an outage."""

    at: Decimal
    held: Decimal
    down: Decimal


def steps(uses: list[tuple[Checked, Decimal]],
          outages: Iterable[tuple[Decimal, Decimal, int]] = ()) -> list[Step]:
    """The load of one resource over time: a sweep over the start and end events (of the
    placements and the outages) at exact decimal times. Every event at one instant is
    applied before the instant's load is read, so at equal times an end frees its units
    before a start takes them (an interval is ``[start, end)``). Empty when no placement
    has times (an untimed placement counts as running throughout)."""
    held = sum((n for c, n in uses if c.placement.start is None), Decimal(0))
    events: dict[Decimal, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for c, n in uses:
        p = c.placement
        if p.start is not None and p.end is not None:
            events[p.start][0] += n
            events[p.end][0] -= n
    if not events:
        return []
    for begin, end, k in outages:
        events[begin][1] += k
        events[end][1] -= k
    out = []
    down = Decimal(0)
    for t in sorted(events):
        held += events[t][0]
        down += events[t][1]
        out.append(Step(t, held, down))
    return out


def _peak(uses: list[tuple[Checked, Decimal]]) -> tuple[Decimal, Decimal] | None:
    """The first instant with the most units in use, and that load; None if untimed."""
    load = steps(uses)
    if not load:
        return None
    top = max(s.held for s in load)
    return next((s.at, s.held) for s in load if s.held == top)


def check_instants(world: World, by_resource: Uses,
                   outages: Outages | None = None) -> list[Violation]:
    """At every instant, the instances of each (site, offer) and the GPUs of each (site,
    GPU model) in use, plus the units down in an outage then, fit in the inventory or
    quota. Reported once per resource, at the first instant of its worst excess."""
    out = []
    for resource, uses in sorted(by_resource.items()):
        busy = [s for s in steps(uses, (outages or {}).get(resource, [])) if s.held > 0]
        if not busy:
            continue
        worst = max(s.held + s.down for s in busy)
        step = next(s for s in busy if s.held + s.down == worst)
        limit = capacity_of(world, resource)
        if worst > limit:
            what = "GPUs" if resource.startswith("gpu:") else "instances"
            down = f" and {num(step.down)} down (outage)" if step.down else ""
            out.append(Violation("capacity.concurrency", f"{resource} at hour {num(step.at)}",
                                 f"{num(step.held)} {what} in use at once{down}; "
                                 f"{limit} exist"))
    return out


def _recomputed(world: World, by_resource: Uses) -> dict[str, tuple[int, int]]:
    """Resource → (used, capacity) in milli-unit-hours."""
    used: dict[str, int] = defaultdict(int)
    for resource, uses in by_resource.items():
        for c, amount in uses:
            used[resource] += ceil_milli(amount / c.units * c.hours) * c.units
    return {r: (u, ceil_milli(capacity_of(world, r) * world.period_hours))
            for r, u in used.items()}


def _milli(x: Decimal) -> str:
    return str((Decimal(x) / MILLI).quantize(Decimal("0.001")))


def check_resources(world: World, by_resource: Uses, plan: Plan) -> list[Violation]:
    """``resources[]`` lists exactly the limited resources the placements use, with the
    use, capacity and utilization the inputs give."""
    want = _recomputed(world, by_resource)
    out = []
    seen: set[str] = set()
    for i, r in enumerate(plan.resources):
        where = f"resources[{i}] ({r.resource})"
        if r.resource in seen:
            out.append(Violation("resources", where, "listed twice"))
            continue
        seen.add(r.resource)
        if r.resource not in want:
            out.append(Violation("resources", where, "no placement uses this limited resource"))
            continue
        used, cap = want[r.resource]
        site = r.resource.partition(":")[2].rpartition("/")[0]
        utilization = round(used / cap, 4) if cap else 1.0
        for label, got, expected in (
                ("site", r.site, site),
                ("used_unit_hours", str(r.used_unit_hours), _milli(Decimal(used))),
                ("capacity_unit_hours", str(r.capacity_unit_hours), _milli(Decimal(cap)))):
            if got != expected:
                out.append(Violation("resources", f"{where}.{label}",
                                     f"plan says {got}, the placements give {expected}"))
        if abs(r.utilization - utilization) > _UTILIZATION_TOLERANCE:
            out.append(Violation("resources", f"{where}.utilization",
                                 f"plan says {r.utilization}, the placements give {utilization}"))
    for resource in sorted(set(want) - seen):
        used, cap = want[resource]
        out.append(Violation("resources", "resources",
                             f"{resource} is used ({_milli(Decimal(used))} of "
                             f"{_milli(Decimal(cap))} unit-hours) but not listed"))
    return out


def check_capacity(world: World, checked: list[Checked], plan: Plan) -> list[Violation]:
    """The capacity rules per period and per stage, and the plan's ``resources[]``
    (capacity at every instant is checked with the timeline,
    :mod:`planner.verify.timeline`)."""
    by_resource = uses_by_resource(world, checked)
    return (check_stage_at_once(world, by_resource) + check_period(world, by_resource)
            + check_resources(world, by_resource, plan))
