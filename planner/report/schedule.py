"""The report's schedule section: every stage on one timeline, then per capacity-limited
site a Gantt chart of each pool and its use over time (``Plan.schedule``). Plans without a
timeline (made before plans had one) get no section.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from planner.models.plan import Plan, PoolSchedule, Run
from planner.models.portfolio import Portfolio
from planner.report.fmt import esc, resource_label
from planner.report.gantt import RunInfo, gantt, lanes, legend, unit_word, utilization
from planner.report.sections import Limits, section
from planner.report.timeline import (
    Axis,
    axis_of,
    hours_text,
    levels,
    point_text,
    stage_marks,
)


def run_info(plan: Plan, portfolio: Portfolio | None) -> dict[tuple[str, str], RunInfo]:
    """(workload, stage) → its kind and hours late (from the placements) and its window
    markers (from the portfolio, when given)."""
    kinds: dict[tuple[str, str], str] = {}
    late: dict[tuple[str, str], int] = defaultdict(int)
    for p in plan.placements:
        key = (p.workload, p.stage)
        kinds[key] = p.kind.value
        late[key] = max(late[key], p.late_hours)
    marks = stage_marks(portfolio)
    return {key: RunInfo(kinds.get(key), late.get(key, 0), marks.get(key))
            for key in kinds.keys() | marks.keys()}


def busiest(pools: Sequence[PoolSchedule], limit: int) -> list[tuple[int, PoolSchedule]]:
    """(index in the plan, pool) of the ``limit`` fullest pools (peak / capacity), grouped by
    site (sites and pools by name)."""
    ranked = sorted(enumerate(pools),
                    key=lambda ip: (-ip[1].peak / max(ip[1].capacity, 1), ip[1].resource))
    return sorted(ranked[:limit], key=lambda ip: (ip[1].site, ip[1].resource))


def _caption(pool: PoolSchedule, axis: Axis) -> str:
    _, what, _ = resource_label(pool.resource)
    full = ' <span class="badge st-binding">full</span>' if pool.peak >= pool.capacity else ""
    when = point_text(pool.peak_at, axis.start)
    return (f'<span title="{esc(pool.resource)}">{esc(what)}</span> · capacity '
            f"{esc(unit_word(pool.unit, pool.capacity))} at once · peak {pool.peak:,} at "
            f"{esc(when)}{full}")


def pool_figure(uid: int, pool: PoolSchedule, axis: Axis,
                info: dict[tuple[str, str], RunInfo], limits: Limits) -> str:
    """The Gantt chart and the use over time of one pool, in one figure."""
    note = ""
    if len(pool.runs) > limits.lanes:
        note = (f'<p class="muted">Showing the first {limits.lanes:,} of {len(pool.runs):,} '
                "runs; the use over time counts them all.</p>")
    return (f'<figure class="pool" id="pool-{uid}"><figcaption>{_caption(pool, axis)}'
            "</figcaption>"
            f"{gantt(pool, axis, info, uid=uid, limit=limits.lanes)}{note}"
            f"{utilization(pool, axis, levels(pool), uid=uid)}</figure>")


def stage_runs(plan: Plan) -> list[Run]:
    """Every timed placement as a run (its instances, ``offer at site``), by workload (in
    plan order), then start."""
    order: dict[str, int] = {}
    for p in plan.placements:
        order.setdefault(p.workload, len(order))
    rows = [Run(workload=p.workload, stage=p.stage, offer=f"{p.offer} at {p.site}",
                start=p.start, end=p.end, amount=p.instances)
            for p in plan.placements if p.start is not None and p.end is not None]
    return sorted(rows, key=lambda r: (order[r.workload], r.start, r.end, r.stage))


def stages_figure(plan: Plan, axis: Axis, info: dict[tuple[str, str], RunInfo],
                  limits: Limits) -> str:
    """Every stage on one timeline (cloud offers without a quota included)."""
    runs = stage_runs(plan)
    if not runs:
        return ""
    note = ""
    if len(runs) > limits.lanes:
        note = (f'<p class="muted">Showing the first {limits.lanes:,} of {len(runs):,} '
                "placements (by workload).</p>")
    chart = lanes(runs[:limits.lanes], [], "instances", axis, info, uid=len(plan.schedule),
                  title=f"Timeline of all {len(runs):,} placements")
    return (f'<figure class="pool" id="stages"><figcaption>Every stage, by workload'
            f"</figcaption>{chart}{note}</figure>")


def _lead(plan: Plan, axis: Axis, shown: int) -> str:
    length = esc(hours_text(axis.hours))
    if axis.start is not None:
        when = (f"Times are UTC; the horizon starts {esc(point_text(0, axis.start))} and lasts "
                f"{length} hours.")
    else:
        when = (f"Times are hours from the start of the horizon ({length} hours long); the "
                "portfolio gives it no start date.")
    lead = (f"When each stage runs, by workload; then, per site, when it holds units of a "
            "capacity-limited pool (an on-prem node class or a cloud quota): one lane per "
            f"run, outages hatched, and the units in use against the capacity. {when}")
    if not plan.schedule:
        lead += " No stage uses a capacity-limited pool."
    if shown < len(plan.schedule):
        lead += (f" Showing the {shown:,} fullest of {len(plan.schedule):,} pools; "
                 "the plan's <code>schedule</code> lists them all.")
    return lead


def _drawn(plan: Plan, info: dict[tuple[str, str], RunInfo]) -> list[str]:
    """The ``LEGEND`` keys the charts of this plan use."""
    marks = [i.marks for i in info.values() if i.marks is not None]
    used = {"outages": any(p.outages for p in plan.schedule),
            "pools": bool(plan.schedule), "capacity": bool(plan.schedule),
            "release": any(m.release is not None for m in marks),
            "due": any(m.due is not None for m in marks)}
    return [key for key, on in used.items() if on]


def schedule(plan: Plan, portfolio: Portfolio | None, limits: Limits) -> str:
    """The section (empty for a plan without a timeline)."""
    axis = axis_of(plan)
    if axis is None:
        return ""
    info = run_info(plan, portfolio)
    pools = busiest(plan.schedule, limits.pools)
    kinds = sorted({i.kind for i in info.values() if i.kind is not None})
    parts = [f"<p>{legend(kinds, _drawn(plan, info))}</p>"]
    parts.append(stages_figure(plan, axis, info, limits))
    site = None
    for uid, pool in pools:
        if pool.site != site:
            site = pool.site
            parts.append(f"<h3>{esc(site)}</h3>")
        parts.append(pool_figure(uid, pool, axis, info, limits))
    return section("schedule", "Schedule", "".join(parts), lead=_lead(plan, axis, len(pools)))
