"""Compare two plans: which stages moved or run at other times, how cost shifted, how
capacity use changed.

Two plans of *different* portfolios (different names) are not compared: that is an
input error. Two plans of the same portfolio made from different versions of it or
with different catalogs are compared — showing what an edit or a price refresh did is
what a diff is for — and the diff carries a warning saying which inputs changed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from planner.errors import InputError
from planner.inputs.checked import checked_plan
from planner.models.calendar import as_datetime
from planner.models.plan import Plan
from planner.plans.timeline import date_at


class StageChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workload: str
    stage: str
    old: list[str]
    new: list[str]
    old_usd: Decimal
    new_usd: Decimal


class Rescheduled(BaseModel):
    """A stage on the same sites and offers that runs at other times: its span (its
    placements' first start and last end, hours from each plan's horizon start, and the
    date-times when the horizon has a start date)."""

    model_config = ConfigDict(extra="forbid")

    workload: str
    stage: str
    old_start: Decimal
    old_end: Decimal
    new_start: Decimal
    new_end: Decimal
    old_start_at: datetime | None = None
    new_start_at: datetime | None = None


class CapacityChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: str
    old_utilization: float
    new_utilization: float


class PlanDiff(BaseModel):
    """What changed from ``old`` to ``new``."""

    model_config = ConfigDict(extra="forbid")

    old_status: str
    new_status: str
    old_total_usd: Decimal
    new_total_usd: Decimal
    delta_usd: Decimal
    moved: list[StageChange]
    """Stages on a site and offer they did not use before (what re-planning counts as a
    move and charges migration for)."""
    changed: list[StageChange] = []
    """Stages on the same sites and offers with another purchase option or another
    number of instances on them (replicas shifted between sites the stage already used)."""
    rescheduled: list[Rescheduled] = []
    """Stages on the same sites and offers (and purchase, instances) that start or end at
    another time: a re-plan after a deadline moved or an outage was added shifts them,
    and re-planning counts no move for it. Times are compared in hours when the horizons
    start at the same instant or either is undated, else by date (a warning says which)."""
    added: list[str]
    removed: list[str]
    delta_by_provider: dict[str, Decimal]
    delta_by_site: dict[str, Decimal]
    delta_by_team: dict[str, Decimal]
    delta_by_kind: dict[str, Decimal]
    capacity: list[CapacityChange]
    warnings: list[str] = []


def _where(plan: Plan) -> dict[tuple[str, str], tuple[list[str], Decimal]]:
    """Per stage, its placements (``site/offer/purchase ×instances``) and its cost."""
    out: dict[tuple[str, str], tuple[list[str], Decimal]] = {}
    for p in plan.placements:
        key = (p.workload, p.stage)
        sites, cost = out.get(key, ([], Decimal(0)))
        out[key] = (sorted([*sites, f"{p.site}/{p.offer}/{p.purchase.value} ×{p.instances}"]),
                    cost + p.cost.total_usd)
    return out


def _spans(plan: Plan) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """Per stage with times, its first start and last end (hours from the horizon start)."""
    out: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for p in plan.placements:
        if p.start is not None and p.end is not None:
            a, b = out.get((p.workload, p.stage), (p.start, p.end))
            out[(p.workload, p.stage)] = (min(a, p.start), max(b, p.end))
    return out


def _origin(plan: Plan) -> datetime | None:
    """The plan's horizon start (UTC; a naive one is UTC, as the verifier reads it)."""
    start = plan.horizon.start if plan.horizon is not None else None
    return None if start is None else as_datetime(start)


def _rescheduled(old: Plan, new: Plan, same: list[tuple[str, str]]) -> list[Rescheduled]:
    """The stages of ``same`` (placed alike in both plans) whose span differs: in hours
    when the horizons start together, else on the calendar."""
    a, b = _spans(old), _spans(new)
    t0, t1 = _origin(old), _origin(new)
    out = []
    for k in (k for k in same if k in a and k in b):
        (s0, e0), (s1, e1) = a[k], b[k]
        if t0 == t1 or None in (t0, t1):
            shifted = (s0, e0) != (s1, e1)
        else:
            shifted = (date_at(t0, s0), date_at(t0, e0)) != (date_at(t1, s1), date_at(t1, e1))
        if shifted:
            out.append(Rescheduled(workload=k[0], stage=k[1], old_start=s0, old_end=e0,
                                   new_start=s1, new_end=e1, old_start_at=date_at(t0, s0),
                                   new_start_at=date_at(t1, s1)))
    return out


def _offers(where: list[str]) -> set[str]:
    """The ``site/offer`` pairs of :func:`_where`'s placements."""
    return {w.rsplit("/", 1)[0] for w in where}


def _delta(old: dict[str, Decimal], new: dict[str, Decimal]) -> dict[str, Decimal]:
    keys = sorted(set(old) | set(new))
    out = {k: new.get(k, Decimal(0)) - old.get(k, Decimal(0)) for k in keys}
    return {k: v for k, v in out.items() if v}


def input_warnings(old: Plan, new: Plan) -> list[str]:
    """Which inputs differ between two plans of one portfolio (by their recorded digests),
    and how their horizons make the diff compare times."""
    if old.horizon is not None and new.horizon is not None:
        timing = _horizon_warnings(_origin(old), _origin(new))
    elif old.horizon is not None or new.horizon is not None:
        timing = ["one plan has no schedule (written by an older planner): no stage is "
                  "compared in time"]
    else:
        timing = []
    if old.inputs is None or new.inputs is None:
        return ["a plan does not record its inputs (written by an older planner): cannot "
                "tell whether the portfolio or the catalogs changed", *timing]
    out = [f"the {which} plan was made under the what-if scenario {plan.inputs.scenario!r}: "
           "the diff includes its changes" for which, plan in (("old", old), ("new", new))
           if plan.inputs is not None and plan.inputs.scenario is not None]
    if old.inputs.portfolio_sha256 != new.inputs.portfolio_sha256:
        out.append(f"the portfolio {new.portfolio!r} changed between the plans: the diff "
                   "includes the effect of that edit")
    out += timing
    if old.inputs.catalogs_sha256 != new.inputs.catalogs_sha256:
        out.append("the plans were priced with different catalogs: the diff includes the "
                   "effect of the price changes")
    return out


def _horizon_warnings(t0: datetime | None, t1: datetime | None) -> list[str]:
    """How the two horizons' starts (UTC; the same instant written with or without an
    offset is one start) make :func:`_rescheduled` compare times."""
    if t0 == t1:
        return []
    shown = [f"from {t:%Y-%m-%d %H:%M} UTC" if t is not None else "undated"
             for t in (t0, t1)]
    if t0 is None or t1 is None:
        return [f"one plan dates its horizon and the other does not (old: {shown[0]}, new: "
                f"{shown[1]}): rescheduled stages are compared in hours from each horizon's "
                "start, as if both started at the same instant"]
    return [f"the horizons start at different times (old: {shown[0]}, new: {shown[1]}): "
            "hours in the plans count from different instants, so rescheduled stages are "
            "compared by their dates (start and end), not by their hours"]


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """Moved stages, stages run at other times, cost delta by provider/site/team/kind,
    capacity changes.

    Both plans are validated again first (:func:`~planner.inputs.checked.checked_plan`):
    anything but a :class:`Plan` (a dict of a plan's JSON, a path) is an
    :class:`~planner.errors.InputError` naming ``old`` or ``new``, as are plans of
    different portfolios."""
    return compare_plans(checked_plan(old, "old"), checked_plan(new, "new"))


def compare_plans(old: Plan, new: Plan) -> PlanDiff:
    """:func:`diff_plans` of plans known to be valid (read from files, or just made)."""
    if old.portfolio != new.portfolio:
        raise InputError(f"the plans are of different portfolios ({old.portfolio!r} and "
                         f"{new.portfolio!r}); a diff compares two plans of one portfolio",
                         hint="pass two plans of the same portfolio")
    a, b = _where(old), _where(new)
    both = [(k, StageChange(workload=k[0], stage=k[1], old=a[k][0], new=b[k][0],
                            old_usd=a[k][1], new_usd=b[k][1]))
            for k in sorted(set(a) & set(b)) if a[k][0] != b[k][0]]
    moved = [c for k, c in both if not _offers(b[k][0]) <= _offers(a[k][0])]
    changed = [c for k, c in both if _offers(b[k][0]) <= _offers(a[k][0])]
    old_use = {r.resource: r.utilization for r in old.resources}
    new_use = {r.resource: r.utilization for r in new.resources}
    same = [k for k in sorted(set(a) & set(b)) if a[k][0] == b[k][0]]
    capacity = [CapacityChange(resource=r, old_utilization=old_use.get(r, 0.0),
                               new_utilization=new_use.get(r, 0.0))
                for r in sorted(set(old_use) | set(new_use))
                if old_use.get(r, 0.0) != new_use.get(r, 0.0)]
    return PlanDiff(
        old_status=old.status.value, new_status=new.status.value,
        old_total_usd=old.totals.total_usd, new_total_usd=new.totals.total_usd,
        delta_usd=new.totals.total_usd - old.totals.total_usd, moved=moved, changed=changed,
        rescheduled=_rescheduled(old, new, same),
        added=[f"{w}/{s}" for w, s in sorted(set(b) - set(a))],
        removed=[f"{w}/{s}" for w, s in sorted(set(a) - set(b))],
        delta_by_provider=_delta(old.totals.by_provider, new.totals.by_provider),
        delta_by_site=_delta(old.totals.by_site, new.totals.by_site),
        delta_by_team=_delta(old.totals.by_team, new.totals.by_team),
        delta_by_kind=_delta(old.totals.by_kind, new.totals.by_kind),
        capacity=capacity, warnings=input_warnings(old, new))
