"""Plans with a timeline, made by hand from the example plans (until the solvers write them).

``scheduled(plan)`` gives every placement a start and an end and the plan a schedule of its
capacity-limited pools: batch stages of a pool run one after the other (a workload's stages
in pipeline order), inference is live for its hours up to the horizon end. The report only
draws what the plan says, so these need not be optimal, only consistent.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from planner.models.plan import Horizon, Placement, Plan, PoolSchedule, Run, Window
from planner.models.portfolio import StageKind

PERIOD = Decimal(730)


def _pool_of(p: Placement, resources: list[str]) -> tuple[str, int] | None:
    """The capacity-limited pool a placement draws on, and how many units it holds."""
    offer = f"offer:{p.site}/{p.offer}"
    if offer in resources:
        return offer, p.instances
    gpu = f"gpu:{p.site}/{p.gpu_model}"
    if gpu in resources:
        return gpu, int(p.instances * p.gpus_per_instance)
    return None


Held = list[tuple[Decimal, Decimal, int]]


def _fits(held: Held, start: Decimal, hours: Decimal, amount: int, capacity: int) -> bool:
    end = start + hours
    points = [start, *(s for s, _, _ in held if start < s < end)]
    return all(amount + sum(n for s, e, n in held if s <= t < e) <= capacity for t in points)


def _earliest(held: Held, ready: Decimal, hours: Decimal, amount: int, capacity: int) -> Decimal:
    """The first start ≥ ``ready`` (``ready`` or a run's end) where ``amount`` units fit."""
    for t in sorted({ready, *(e for _, e, _ in held if e > ready)}):
        if _fits(held, t, hours, amount, capacity):
            return t
    return max([ready, *(e for _, e, _ in held)])


def _times(plan: Plan, resources: list[str]) -> list[tuple[Decimal, Decimal]]:
    held: dict[str, Held] = defaultdict(list)
    capacity = {r.resource: int(r.capacity_unit_hours / PERIOD) for r in plan.resources}
    stage_done: dict[str, Decimal] = defaultdict(Decimal)
    out = []
    for p in plan.placements:
        if p.kind is StageKind.INFERENCE:
            out.append((max(PERIOD - p.hours, Decimal(0)), PERIOD))
            continue
        pool = _pool_of(p, resources)
        start = stage_done[p.workload]
        if pool:
            start = _earliest(held[pool[0]], start, p.hours, pool[1], capacity[pool[0]])
            held[pool[0]].append((start, start + p.hours, pool[1]))
        stage_done[p.workload] = start + p.hours
        out.append((start, start + p.hours))
    return out


def _peak(runs: list[Run], outages: list[Window]) -> tuple[int, Decimal]:
    events = sorted({r.start for r in runs} | {o.start for o in outages})
    best, at = 0, Decimal(0)
    for t in events:
        level = sum(r.amount for r in runs if r.start <= t < r.end)
        level += sum(o.amount for o in outages if o.start <= t < o.end)
        if level > best:
            best, at = level, t
    return best, at


def scheduled(plan: Plan, start: datetime | None = None,
              outages: dict[str, list[tuple[int, int, int]]] | None = None,
              late: dict[tuple[str, str], int] | None = None) -> Plan:
    """``plan`` with start/end on every placement and a schedule of its limited pools.

    ``start`` dates the horizon; ``outages`` maps a pool to (from hour, to hour, units);
    ``late`` gives (workload, stage) hours past a soft deadline."""
    resources = [r.resource for r in plan.resources]
    times = _times(plan, resources)
    placements = []
    runs: dict[str, list[Run]] = defaultdict(list)
    for p, (s, e) in zip(plan.placements, times, strict=True):
        dated = {} if start is None else {
            "start_at": start + timedelta(hours=float(s)),
            "end_at": start + timedelta(hours=float(e))}
        placements.append(p.model_copy(update={
            "start": s, "end": e, **dated,
            "late_hours": (late or {}).get((p.workload, p.stage), 0)}))
        pool = _pool_of(p, resources)
        if pool:
            runs[pool[0]].append(Run(workload=p.workload, stage=p.stage, offer=p.offer,
                                     start=s, end=e, amount=pool[1]))
    schedule = []
    for r in plan.resources:
        downs = [Window(start=Decimal(a), end=Decimal(b), amount=n,
                        start_at=None if start is None else start + timedelta(hours=a),
                        end_at=None if start is None else start + timedelta(hours=b))
                 for a, b, n in (outages or {}).get(r.resource, [])]
        if not runs[r.resource] and not downs:
            continue
        peak, peak_at = _peak(runs[r.resource], downs)
        capacity = int(r.capacity_unit_hours / PERIOD)
        schedule.append(PoolSchedule(
            resource=r.resource, site=r.site,
            unit="instances" if r.resource.startswith("offer:") else "gpus",
            capacity=capacity, peak=peak, peak_at=peak_at, runs=runs[r.resource],
            outages=downs))
    return plan.model_copy(update={"placements": placements, "schedule": schedule,
                                   "horizon": Horizon(start=start, hours=PERIOD)})
