"""The verifier's capacity checks: per period, at once, at every instant, and ``resources[]``.

Limited resources are an offer's inventory or quota at a site (``offer:<site>/<offer>``,
instances at once) and a site's GPU quota per model (``gpu:<site>/<model>``, GPUs at
once). Three checks, each necessary on its own:

* per period: instance-hours and GPU-hours (instances × run hours, exact) fit in
  capacity × period hours;
* per stage: what one stage needs at once fits (its instances run together);
* at every instant, when placements carry ``start``/``end``: at each start instant
  the instances (GPUs) of every placement running then fit. A placement without times
  on a resource where others have times is counted as running throughout
  (conservative); a resource whose placements all lack times is checked per period
  and per stage only — the plan makes no claim about when they run.

``resources[]`` is recomputed from the placements (its documented rule: use per unit of
a placement in milli-unit-hours, rounded up, times the units) and compared row by row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from planner.models.plan import Plan
from planner.models.world import World
from planner.verify.base import MILLI, Checked, Violation, ceil_milli, num

_HOUR_TOLERANCE = Decimal("0.000001")
_UTILIZATION_TOLERANCE = 0.00005


def _offer_key(c: Checked) -> str | None:
    return f"offer:{c.site.id}/{c.offer.id}" if c.offer.capacity is not None else None


def _gpu_key(c: Checked, world: World) -> str | None:
    model = c.offer.gpu_model
    if model and (c.site.id, model) in world.gpu_quotas:
        return f"gpu:{c.site.id}/{model}"
    return None


def _limit(world: World, resource: str) -> int:
    """Units of a limited resource that exist at once (instances or GPUs)."""
    kind, _, rest = resource.partition(":")
    site, _, name = rest.rpartition("/")
    if kind == "gpu":
        return world.gpu_quotas[(site, name)]
    offer = world.offer(site, name)
    assert offer is not None and offer.capacity is not None
    return offer.capacity


Uses = dict[str, list[tuple[Checked, Decimal]]]


def _uses(world: World, checked: Iterable[Checked]) -> Uses:
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
        cap = _limit(world, resource) * world.period_hours
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
        limit = _limit(world, resource)
        for stage, n in sorted(per_stage.items()):
            if n > limit:
                what = "GPUs" if resource.startswith("gpu:") else "instances"
                out.append(Violation("capacity.concurrency", f"{stage} on {resource}",
                                     f"needs {num(n)} {what} at once; {limit} exist"))
    return out


def check_timing(checked: list[Checked]) -> list[Violation]:
    """A timed placement runs exactly its run hours: ``end − start`` = hours."""
    out = []
    for c in checked:
        p = c.placement
        if p.start is None or p.end is None:
            continue
        if abs((p.end - p.start) - c.hours) > _HOUR_TOLERANCE:
            out.append(Violation("schedule.duration", c.where,
                                 f"runs {num(p.end - p.start)} h from {num(p.start)} to "
                                 f"{num(p.end)}; the stage needs {num(c.hours)} h on "
                                 f"{c.offer.id}"))
    return out


def _peak(uses: list[tuple[Checked, Decimal]]) -> tuple[Decimal, Decimal] | None:
    """The first start instant with the most units in use, and that load; None if untimed.

    A sweep over the start and end events; at equal times ends come first, since a
    placement runs in ``[start, end)``."""
    events: list[tuple[Decimal, int, Decimal]] = []
    always = Decimal(0)
    for c, n in uses:
        p = c.placement
        if p.start is None or p.end is None:
            always += n
        else:
            events += [(p.start, 1, n), (p.end, 0, -n)]
    if not events:
        return None
    best: tuple[Decimal, Decimal] | None = None
    load = always
    for t, is_start, delta in sorted(events):
        load += delta
        if is_start and (best is None or load > best[1]):
            best = (t, load)
    return best


def check_instants(world: World, by_resource: Uses) -> list[Violation]:
    """At every start instant, the instances of each (site, offer) and the GPUs of each
    (site, GPU model) in use fit in the inventory or quota."""
    out = []
    for resource, uses in sorted(by_resource.items()):
        peak = _peak(uses)
        limit = _limit(world, resource)
        if peak is not None and peak[1] > limit:
            what = "GPUs" if resource.startswith("gpu:") else "instances"
            out.append(Violation("capacity.concurrency", f"{resource} at hour {num(peak[0])}",
                                 f"{num(peak[1])} {what} in use at once; {limit} exist"))
    return out


def _recomputed(world: World, by_resource: Uses) -> dict[str, tuple[int, int]]:
    """Resource → (used, capacity) in milli-unit-hours."""
    used: dict[str, int] = defaultdict(int)
    for resource, uses in by_resource.items():
        for c, amount in uses:
            used[resource] += ceil_milli(amount / c.units * c.hours) * c.units
    return {r: (u, ceil_milli(_limit(world, r) * world.period_hours)) for r, u in used.items()}


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
    """Every capacity rule and the plan's own account of capacity use."""
    by_resource = _uses(world, checked)
    return (check_stage_at_once(world, by_resource) + check_period(world, by_resource)
            + check_timing(checked) + check_instants(world, by_resource)
            + check_resources(world, by_resource, plan))
