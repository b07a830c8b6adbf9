"""The verifier's check of ``schedule[]``: the plan's timeline per capacity-limited pool.

``schedule[]`` lists exactly the limited pools the placements use (those of
``resources[]``: ``offer:<site>/<offer>`` with an inventory or an instance quota,
``gpu:<site>/<model>`` with a GPU quota), each once, with what the inputs and the
placements give:

* ``site``, ``unit`` (``instances`` or ``gpus``) and ``capacity`` (units at once);
* ``runs``: one per timed placement holding units of the pool, in any order: its workload,
  stage, offer, ``start``, ``end`` (the placement's own times) and ``amount`` (its
  instances, or instances × GPUs per instance);
* ``outages``: the node class's declared outages, in any order: ``[from, to)`` in hours
  and the nodes down, dated (``start_at`` / ``end_at``) when the horizon is;
* ``peak``: the most units held at once, outages included, and ``peak_at`` the first
  instant it is reached (the sweep of :func:`planner.verify.capacity.steps`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal

from planner.models.plan import Plan, PoolSchedule
from planner.models.world import World
from planner.verify.base import TOLERANCE, Checked, Violation, date_of, num, same_date
from planner.verify.capacity import Outages, Uses, capacity_of, steps

RunKey = tuple[str, str, str, Decimal, Decimal, Decimal]
"""workload, stage, offer, start, end, amount"""

_SHOWN = 3


def _want_runs(uses: list[tuple[Checked, Decimal]]) -> Counter[RunKey]:
    out: Counter[RunKey] = Counter()
    for c, n in uses:
        p = c.placement
        if p.start is not None and p.end is not None:
            out[(p.workload, p.stage, p.offer, p.start, p.end, n)] += 1
    return out


def _describe(keys: Counter[RunKey]) -> str:
    runs = sorted(keys.elements())
    shown = "; ".join(f"{w}/{s} {num(n)} of {offer} during [{num(a)}, {num(b)})"
                      for w, s, offer, a, b, n in runs[:_SHOWN])
    return shown + (f" and {len(runs) - _SHOWN} more" if len(runs) > _SHOWN else "")


def _check_runs(where: str, uses: list[tuple[Checked, Decimal]],
                pool: PoolSchedule) -> list[Violation]:
    want = _want_runs(uses)
    got: Counter[RunKey] = Counter((r.workload, r.stage, r.offer, r.start, r.end,
                                    Decimal(r.amount)) for r in pool.runs)
    out = []
    if missing := want - got:
        out.append(Violation("schedule", f"{where}.runs",
                             f"lists no run for {_describe(missing)}, which the placements "
                             "hold"))
    if extra := got - want:
        out.append(Violation("schedule", f"{where}.runs",
                             f"lists {_describe(extra)}, which no placement holds"))
    return out


def _windows(spans: list[tuple[Decimal, Decimal, int]]) -> str:
    return ", ".join(f"[{num(a)}, {num(b)}) {k}" for a, b, k in spans) or "none"


def _check_outages(where: str, want: list[tuple[Decimal, Decimal, int]], pool: PoolSchedule,
                   start: datetime | None) -> list[Violation]:
    got = sorted((o.start, o.end, o.amount) for o in pool.outages)
    exp = sorted(want)
    same = len(got) == len(exp) and all(
        abs(a - x) <= TOLERANCE and abs(b - y) <= TOLERANCE and k == z
        for (a, b, k), (x, y, z) in zip(got, exp, strict=True))
    if not same:
        return [Violation("schedule", f"{where}.outages",
                          f"plan lists {_windows(got)}; the portfolio declares {_windows(exp)}")]
    out = []
    for j, o in enumerate(pool.outages):
        for field, hours, at in (("start_at", o.start, o.start_at), ("end_at", o.end, o.end_at)):
            date = date_of(start, hours) if start is not None else None
            if (date is None) != (at is None) or (
                    date is not None and at is not None and not same_date(at, date)):
                out.append(Violation("schedule.dates", f"{where}.outages[{j}].{field}",
                                     f"plan says {at.isoformat() if at else None}; the "
                                     f"horizon start + {num(hours)} h is "
                                     f"{date.isoformat() if date else None}"))
    return out


def _check_peak(where: str, uses: Uses, resource: str, outages: Outages,
                pool: PoolSchedule) -> list[Violation]:
    load = steps(uses[resource], outages.get(resource, []))
    if not load:
        return []
    peak = max(s.held + s.down for s in load)
    at = next(s.at for s in load if s.held + s.down == peak)
    out = []
    if pool.peak != peak:
        out.append(Violation("schedule", f"{where}.peak",
                             f"plan says {pool.peak}; the runs and outages give {num(peak)}"))
    if abs(pool.peak_at - at) > TOLERANCE:
        out.append(Violation("schedule", f"{where}.peak_at",
                             f"plan says hour {num(pool.peak_at)}; the peak is first reached "
                             f"at hour {num(at)}"))
    return out


def _check_pool(world: World, where: str, uses: Uses, outages: Outages, pool: PoolSchedule,
                start: datetime | None) -> list[Violation]:
    resource = pool.resource
    gpu = resource.startswith("gpu:")
    out = [Violation("schedule", f"{where}.{label}",
                     f"plan says {got}, the inputs give {want}")
           for label, got, want in (
               ("site", pool.site, resource.partition(":")[2].rpartition("/")[0]),
               ("unit", pool.unit, "gpus" if gpu else "instances"),
               ("capacity", pool.capacity, capacity_of(world, resource)))
           if got != want]
    out += _check_runs(where, uses[resource], pool)
    out += _check_outages(where, outages.get(resource, []), pool, start)
    return out + _check_peak(where, uses, resource, outages, pool)


def check_schedule(world: World, uses: Uses, outages: Outages, plan: Plan,
                   start: datetime | None) -> list[Violation]:
    """``schedule[]`` lists exactly the pools the placements use, as they give them
    (module docstring); ``start`` is the horizon's start date, if any."""
    out = []
    seen: set[str] = set()
    for i, pool in enumerate(plan.schedule):
        where = f"schedule[{i}] ({pool.resource})"
        if pool.resource in seen:
            out.append(Violation("schedule", where, "listed twice"))
            continue
        seen.add(pool.resource)
        if pool.resource not in uses:
            out.append(Violation("schedule", where,
                                 "no placement uses this capacity-limited pool"))
            continue
        out += _check_pool(world, where, uses, outages, pool, start)
    for resource in sorted(set(uses) - seen):
        holders = ", ".join(f"placements[{c.index}]" for c, _ in uses[resource][:_SHOWN])
        more = " …" if len(uses[resource]) > _SHOWN else ""
        out.append(Violation("schedule", "schedule",
                             f"{resource} is used ({holders}{more}) but not listed"))
    return out
