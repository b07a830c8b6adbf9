"""The verifier checks a time-aware plan's timeline from the inputs alone: horizon, start/end
of every placement, durations, go-live, windows, soft-deadline accounting, precedence,
capacity at every event point with outages, dates and ``schedule[]``.

One valid timed plan is built from a solved plan by giving every placement its interval
(the schedule and the late hours come from a brute-force oracle here, not from the
verifier's sweep); each test then breaks one rule and checks that the verifier names it.

The pool: 4 nodes of 8 GPUs, 2 of them down during [30, 40). The valid timeline, in hours
from 2027-01-01 (the pool is full during [30, 32.5), and testing ends at 30, the instant
the outage starts)::

    fraud/training   [0, 20)     2 nodes (16 GPUs, a gang of 2)
    fraud/testing    [20, 30)    1 node, after training
    fraud/inference  [60, 100)   2 replicas, live by its deadline (hour 60), after testing
    soft/training    [22.5, 32.5) 1 node; earliest_start 5, soft deadline 30: 3 h late × $5
    hard/training    [40, 50)    1 node; hard deadline 2027-01-03T02:00Z (hour 50)
    live/training    [50, 60)    1 node
    live/inference   [0, 100)    1 node, live from hour 0: follows nothing by default
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.compile.resolve import build_world
from planner.models.plan import Horizon, Placement, Plan, PoolSchedule, Run, Window
from planner.models.portfolio import Portfolio
from planner.models.world import Offer, World
from planner.verify.base import Checked
from planner.verify.capacity import check_instants, steps
from planner.verify.check import Violation, verify
from tests.builders import NOW, portfolio, small_catalog, solve, training, workload

ORIGIN = datetime(2027, 1, 1, tzinfo=UTC)
POOL = "offer:onprem:dc/gpu"
OUTAGES = [(Decimal(30), Decimal(40), 2)]
GPU_NODE = {"id": "gpu", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 128,
            "memory_gib": 1024, "nodes": 4, "price_per_hour": "1"}
NODE = {"id": "onprem:dc", "country": "DE", "offers": [{
    **GPU_NODE, "outages": [{"from": 30, "to": "2027-01-02T16:00:00Z", "nodes": 2}]}]}
SOFT = {("soft", "training"): (30, Decimal(5))}  # deadline hour, USD per hour late

Key = tuple[str, str]
Times = dict[Key, tuple[str, str] | None]

TIMES: Times = {
    ("fraud", "training"): ("0", "20"), ("fraud", "testing"): ("20", "30"),
    ("fraud", "inference"): ("60", "100"), ("soft", "training"): ("22.5", "32.5"),
    ("hard", "training"): ("40", "50"), ("live", "training"): ("50", "60"),
    ("live", "inference"): ("0", "100")}
INDEX = {key: i for i, key in enumerate(TIMES)}


def _stage(kind: str, hours: float, gpus: int = 8, **kw: Any) -> dict[str, Any]:
    return {**training(hours=hours, gpus=gpus), "kind": kind, **kw}


def _workload(wid: str, stages: list[dict[str, Any]]) -> dict[str, Any]:
    return workload(wid, stages, home="onprem:dc", sites=["onprem:dc"])


def _portfolio(live_after: list[str] | None = None) -> Portfolio:
    return portfolio([
        _workload("fraud", [_stage("training", 20, gpus=16, nodes=2), _stage("testing", 10),
                            _stage("inference", 100, deadline=60, replicas=2, split=True)]),
        _workload("soft", [_stage("training", 10, earliest_start=5, deadline=30,
                                  late_penalty_usd_per_hour="5")]),
        _workload("hard", [_stage("training", 10, deadline="2027-01-03T02:00:00Z")]),
        _workload("live", [_stage("training", 10), _stage("inference", 100, after=live_after)])],
        settings={"horizon": {"start": "2027-01-01"}, "period_hours": 100}, onprem=[NODE])


def _date(hours: Decimal) -> datetime:
    return ORIGIN + timedelta(hours=float(hours))


def _late(p: Placement) -> int:
    soft = SOFT.get((p.workload, p.stage))
    if soft is None or p.end is None:
        return 0
    return max(0, math.ceil(p.end) - soft[0])


def _load(runs: list[Run], t: Decimal) -> int:
    held = sum(r.amount for r in runs if r.start <= t < r.end)
    return held + sum(k for a, b, k in OUTAGES if a <= t < b)


def _pool(placements: list[Placement]) -> PoolSchedule:
    """The schedule of the one pool, with its peak by brute force over the event times."""
    runs = [Run(workload=p.workload, stage=p.stage, offer=p.offer, start=p.start, end=p.end,
                amount=p.instances) for p in placements if p.start is not None
            and p.end is not None]
    instants = sorted({r.start for r in runs} | {r.end for r in runs}
                      | {t for a, b, _ in OUTAGES for t in (a, b)})
    peak = max(_load(runs, t) for t in instants)
    return PoolSchedule(
        resource=POOL, site="onprem:dc", unit="instances", capacity=4, peak=peak,
        peak_at=next(t for t in instants if _load(runs, t) == peak), runs=runs,
        outages=[Window(start=a, end=b, amount=k, start_at=_date(a), end_at=_date(b))
                 for a, b, k in OUTAGES])


def untimed(p: Placement) -> Placement:
    """The placement without a claim about when it runs."""
    return p.model_copy(update={"start": None, "end": None, "start_at": None, "end_at": None,
                                "late_hours": 0})


def _interval(p: Placement, times: Times) -> Placement:
    t = times[(p.workload, p.stage)]
    if t is None:
        return untimed(p)
    start, end = Decimal(t[0]), Decimal(t[1])
    gang = p.workload == "fraud" and p.stage == "training"
    q = p.model_copy(update={"start": start, "end": end, "start_at": _date(start),
                             "end_at": _date(end), "nodes_per_replica": 2 if gang else 1})
    return q.model_copy(update={"late_hours": _late(q)})


def timed(base: Plan, times: Times | None = None, *,
          placements: list[Placement] | None = None) -> Plan:
    """``base`` as a time-aware plan: every placement given its interval in ``times``
    (``TIMES`` changed by the given keys), and the schedule, late hours, late penalty and
    objective that follow."""
    chosen = {**TIMES, **(times or {})}
    placed = placements or [_interval(p, chosen) for p in base.placements]
    penalty = sum((p.late_hours * SOFT[(p.workload, p.stage)][1] for p in placed
                   if p.late_hours), Decimal(0))
    solver = base.solver
    assert solver.objective_usd is not None and solver.bound_usd is not None
    penalty -= base.totals.late_penalty_usd  # the base's objective includes its own
    return base.model_copy(update={
        "horizon": Horizon(start=ORIGIN, hours=Decimal(100)), "placements": placed,
        "schedule": [_pool(placed)],
        "totals": base.totals.model_copy(update={
            "late_penalty_usd": penalty + base.totals.late_penalty_usd}),
        "solver": solver.model_copy(update={"objective_usd": solver.objective_usd + penalty,
                                            "bound_usd": solver.bound_usd + penalty})})


def edit(plan: Plan, key: Key, **update: Any) -> Plan:
    """The plan with one placement's fields changed (nothing else follows)."""
    i = INDEX[key]
    placements = list(plan.placements)
    placements[i] = placements[i].model_copy(update=update)
    return plan.model_copy(update={"placements": placements})


def check(p: Portfolio, plan: Plan) -> list[Violation]:
    return verify(p, build_world(p, [small_catalog()], now=NOW), plan)


def rules(found: list[Violation]) -> set[tuple[str, str]]:
    return {(v.rule, v.where) for v in found}


def at(key: Key, field: str | None = None) -> str:
    where = f"placements[{INDEX[key]}] ({key[0]}/{key[1]})"
    return f"{where}.{field}" if field else where


@pytest.fixture(scope="module")
def case() -> tuple[Portfolio, Plan]:
    p = _portfolio()
    base = solve(p)  # the verifier agrees with the pricing: inference billed from go-live
    assert [(pl.workload, pl.stage) for pl in base.placements] == list(TIMES)
    assert {pl.site for pl in base.placements} == {"onprem:dc"}
    return p, base


@pytest.fixture(scope="module")
def valid(case: tuple[Portfolio, Plan]) -> Plan:
    p, base = case
    plan = timed(base)
    assert check(p, plan) == []
    return plan


# --- billed hours, horizon, untimed placements ------------------------------------------


def test_inference_with_a_golive_date_is_billed_from_golive(case: tuple[Portfolio, Plan]) -> None:
    """Pricing bills dated inference for horizon − go-live; the verifier now agrees (on
    main it recomputed 100 h × 2 replicas and rejected the plan)."""
    _, base = case
    fraud = base.placements[INDEX[("fraud", "inference")]]
    live = base.placements[INDEX[("live", "inference")]]
    assert (fraud.hours, fraud.cost.compute_usd) == (Decimal(40), Decimal(80))
    assert (live.hours, live.cost.compute_usd) == (Decimal(100), Decimal(100))


def test_valid_timeline_and_its_schedule(valid: Plan) -> None:
    assert valid.totals.late_penalty_usd == Decimal(15)  # ⌈32.5⌉ − 30 = 3 h × $5
    pool = valid.schedule[0]
    assert (pool.peak, pool.peak_at) == (4, Decimal(30))  # full while the outage starts


def test_untimed_placement_in_a_timed_plan(case: tuple[Portfolio, Plan]) -> None:
    p, base = case
    found = check(p, timed(base, {("hard", "training"): None}))
    assert rules(found) == {("schedule.untimed", at(("hard", "training"), "start"))}


def _without_horizon(base: Plan) -> Plan:
    """``base`` as a plan before plans had a timeline (or with its timeline removed)."""
    return base.model_copy(update={
        "horizon": None, "schedule": [], "placements": [untimed(pl) for pl in base.placements],
        "totals": base.totals.model_copy(update={"late_penalty_usd": Decimal(0)}),
        "solver": base.solver.model_copy(update={
            "objective_usd": (base.solver.objective_usd or 0) - base.totals.late_penalty_usd,
            "bound_usd": (base.solver.bound_usd or 0) - base.totals.late_penalty_usd})})


def test_plan_without_horizon_keeps_todays_checks_when_allowed(
        case: tuple[Portfolio, Plan]) -> None:
    """A plan built before it is scheduled (``allow_untimed``): no claim about when, so no
    calendar checks, but nothing in it is late."""
    p, base = case
    old = _without_horizon(base)
    world = build_world(p, [small_catalog()], now=NOW)
    assert verify(p, world, old, allow_untimed=True) == []
    late = edit(old, ("soft", "training"), late_hours=2)
    assert rules(verify(p, world, late, allow_untimed=True)) == {
        ("window.late_hours", at(("soft", "training"), "late_hours"))}


def test_plan_without_horizon_is_refused(case: tuple[Portfolio, Plan]) -> None:
    """Every placing plan the planner writes is a schedule, and a plan from before plans
    had a timeline carries the same schema_version: without a horizon the verifier names
    the missing timeline and each placement's missing start/end."""
    p, base = case
    found = check(p, _without_horizon(base))
    assert rules(found) == {("schedule.missing", "horizon")} | {
        ("schedule.untimed", at(key, "start")) for key in TIMES}
    missing = next(v for v in found if v.rule == "schedule.missing")
    assert "horizon: 100 h from 2027-01-01" in missing.message
    assert "re-plan with `planner plan PORTFOLIO -o PLAN`" in missing.message


def test_the_planners_own_timeline_passes(case: tuple[Portfolio, Plan]) -> None:
    """The planner's time-aware plan of the same portfolio passes every timeline check."""
    p, base = case
    assert base.horizon is not None and base.schedule
    assert all(pl.start is not None for pl in base.placements)
    assert check(p, base) == []


@pytest.mark.parametrize(("horizon", "where"), [
    (Horizon(start=ORIGIN, hours=Decimal(120)), "horizon.hours"),
    (Horizon(start=ORIGIN + timedelta(days=1), hours=Decimal(100)), "horizon.start"),
    (Horizon(start=None, hours=Decimal(100)), "horizon.start")])
def test_horizon_is_the_portfolios(case: tuple[Portfolio, Plan], valid: Plan,
                                   horizon: Horizon, where: str) -> None:
    p, _ = case
    found = check(p, valid.model_copy(update={"horizon": horizon}))
    assert rules(found) == {("schedule.horizon", where)}


def test_placement_ends_after_the_horizon(case: tuple[Portfolio, Plan]) -> None:
    p, base = case
    found = check(p, timed(base, {("soft", "training"): ("95", "105")}))
    assert rules(found) == {("schedule.bounds", at(("soft", "training"), "end"))}
    assert "after the horizon end 100" in found[0].message


def test_inference_to_a_horizon_end_not_in_micro_hours_is_planned_and_passes() -> None:
    """A horizon from 00:00:17 to midnight lasts 23.995277… h: the plan states the end of
    a stage serving to it to six places (23.995278), which is the horizon end, not after
    it (the planner's own plan was refused as 'a planner bug')."""
    serving = {"kind": "inference", "gpu": {"models": {"A100-80GB": 1.0}, "count": 8},
               "vcpus": 8, "memory_gib": 64, "hours": 10}
    p = portfolio([workload("live", [serving])], settings={
        "horizon": {"start": "2027-01-01T00:00:17Z", "end": "2027-01-02"}})
    plan = solve(p)
    (placed,) = plan.placements
    assert placed.end == Decimal("23.995278") > p.settings.period_hours


# --- durations and go-live -------------------------------------------------------------


def test_batch_duration(case: tuple[Portfolio, Plan]) -> None:
    p, base = case
    found = check(p, timed(base, {("fraud", "testing"): ("20", "25")}))
    assert rules(found) == {("schedule.duration", at(("fraud", "testing")))}
    assert "runs 5 h from 20 to 25; the stage needs 10 h" in found[0].message


def test_inference_goes_live_at_its_golive(case: tuple[Portfolio, Plan]) -> None:
    p, base = case
    found = check(p, timed(base, {("fraud", "inference"): ("50", "100")}))
    assert rules(found) == {("schedule.golive", at(("fraud", "inference"), "start"))}
    assert "goes live at hour 60 (live by its deadline 60)" in found[0].message


def test_inference_serves_to_the_horizon_end(case: tuple[Portfolio, Plan]) -> None:
    p, base = case
    found = check(p, timed(base, {("live", "inference"): ("0", "90")}))
    assert rules(found) == {("schedule.duration", at(("live", "inference"), "end"))}


# --- one start per stage, gangs ----------------------------------------------------------


def _split(plan: Plan, second: tuple[str, str]) -> list[Placement]:
    """The placements with fraud/inference split into two 1-replica placements (at the
    end), the second one during ``second``."""
    i = INDEX[("fraud", "inference")]
    whole = plan.placements[i]
    cost = whole.cost.model_copy(update={k: getattr(whole.cost, k) / 2 for k in (
        "compute_usd", "egress_usd", "migration_usd", "total_usd")})
    one = whole.model_copy(update={"replicas": 1, "instances": 1, "cost": cost})
    s, e = Decimal(second[0]), Decimal(second[1])
    two = one.model_copy(update={"start": s, "end": e, "start_at": _date(s),
                                 "end_at": _date(e)})
    return [*plan.placements[:i], *plan.placements[i + 1:], one, two]


def test_split_stage_starts_together(case: tuple[Portfolio, Plan], valid: Plan) -> None:
    p, base = case
    assert check(p, timed(base, placements=_split(valid, ("60", "100")))) == []
    found = check(p, timed(base, placements=_split(valid, ("61", "100"))))
    last = f"placements[{len(TIMES)}] (fraud/inference).start"
    assert rules(found) == {("schedule.together", last), ("schedule.golive", last)}


def test_gang_nodes_run_at_once(case: tuple[Portfolio, Plan], valid: Plan) -> None:
    """A gang listed as two placements of one stage must hold one interval."""
    p, base = case
    gang = valid.placements[INDEX[("fraud", "training")]]
    other = gang.model_copy(update={"end": Decimal(30), "end_at": _date(Decimal(30))})
    found = check(p, timed(base, placements=[*valid.placements, other]))
    assert ("schedule.gang", f"placements[{len(TIMES)}] (fraud/training).end") in rules(found)


# --- windows and soft deadlines ----------------------------------------------------------


def test_earliest_start(case: tuple[Portfolio, Plan]) -> None:
    p, base = case
    assert check(p, timed(base, {("soft", "training"): ("5", "15")})) == []
    found = check(p, timed(base, {("soft", "training"): ("4.5", "14.5")}))
    assert rules(found) == {("window.earliest_start", at(("soft", "training"), "start"))}


def test_hard_deadline_from_a_date(case: tuple[Portfolio, Plan]) -> None:
    p, base = case
    found = check(p, timed(base, {("hard", "training"): ("41", "51")}))
    assert rules(found) == {("window.deadline", at(("hard", "training"), "end"))}
    assert "hard deadline 2027-01-03 02:00:00+00:00 (hour 50)" in found[0].message


@pytest.mark.parametrize(("end", "late"), [("30", 0), ("30.2", 1), ("32.5", 3), ("40", 10)])
def test_soft_deadline_accounting(case: tuple[Portfolio, Plan], end: str, late: int) -> None:
    p, base = case
    start = str(Decimal(end) - 10)
    plan = timed(base, {("soft", "training"): (start, end)})
    assert plan.placements[INDEX[("soft", "training")]].late_hours == late
    assert check(p, plan) == []
    wrong = edit(plan, ("soft", "training"), late_hours=late + 1)
    assert rules(check(p, wrong)) == {("window.late_hours",
                                       at(("soft", "training"), "late_hours"))}


def test_late_penalty_total(valid: Plan, case: tuple[Portfolio, Plan]) -> None:
    p, _ = case
    wrong = valid.model_copy(update={
        "totals": valid.totals.model_copy(update={"late_penalty_usd": Decimal("14.999999")}),
        "solver": valid.solver.model_copy(update={
            "objective_usd": (valid.solver.objective_usd or 0) - Decimal("0.000001"),
            "bound_usd": (valid.solver.bound_usd or 0) - Decimal("0.000001")})})
    found = check(p, wrong)
    assert rules(found) == {("totals", "totals.late_penalty_usd")}
    assert "micro-dollars) of the placements is 15" in found[0].message
    # the objective includes the late penalty: leaving it out is caught too
    assert ("totals", "solver.objective_usd") in rules(check(p, valid.model_copy(update={
        "solver": valid.solver.model_copy(update={"objective_usd": Decimal(260)})})))


def test_late_penalty_per_hour_in_micro_dollars() -> None:
    """Two 10 h jobs due at hour 10 on one node: one is 10 h late at $1.0000004 per hour,
    which counts as $1.000000 per hour, like every amount of money in a plan."""
    node = {"id": "onprem:dc", "country": "DE", "offers": [{**GPU_NODE, "nodes": 1}]}
    soft = _stage("training", 10, deadline=10, late_penalty_usd_per_hour="1.0000004")
    p = portfolio([_workload("a", [soft]), _workload("b", [soft])],
                  settings={"period_hours": 100}, onprem=[node])
    plan = solve(p)  # the planner's own plan passes
    assert sorted(pl.late_hours for pl in plan.placements) == [0, 10]
    assert plan.totals.late_penalty_usd == Decimal(10)
    exact = Decimal("10.000004")
    wrong = plan.model_copy(update={
        "totals": plan.totals.model_copy(update={"late_penalty_usd": exact}),
        "solver": plan.solver.model_copy(update={
            "objective_usd": (plan.solver.objective_usd or 0) + Decimal("0.000004"),
            "bound_usd": (plan.solver.bound_usd or 0) + Decimal("0.000004")})})
    assert rules(check(p, wrong)) == {("totals", "totals.late_penalty_usd")}


def test_hard_stage_is_never_late(valid: Plan, case: tuple[Portfolio, Plan]) -> None:
    p, _ = case
    found = check(p, edit(valid, ("hard", "training"), late_hours=1))
    assert rules(found) == {("window.late_hours", at(("hard", "training"), "late_hours"))}
    assert "the stage has no soft deadline" in found[0].message


# --- precedence ----------------------------------------------------------------------------


def test_testing_after_the_training_gang(case: tuple[Portfolio, Plan]) -> None:
    p, base = case
    found = check(p, timed(base, {("fraud", "testing"): ("15", "25")}))
    assert rules(found) == {("precedence", at(("fraud", "testing"), "start"))}
    assert "before training ends at hour 20 (placements[0])" in found[0].message


def test_inference_predecessors_end_by_golive(case: tuple[Portfolio, Plan]) -> None:
    p, base = case
    assert check(p, timed(base, {("fraud", "testing"): ("50", "60")})) == []  # ends at 60
    found = check(p, timed(base, {("fraud", "testing"): ("55", "65")}))
    assert rules(found) == {("precedence", at(("fraud", "inference"), "start"))}


def test_inference_live_from_hour_zero_follows_nothing(valid: Plan) -> None:
    """By default it serves the current model while the new one trains (the valid plan);
    an explicit ``after`` makes it wait for training after all."""
    live = {(pl.workload, pl.stage): pl for pl in valid.placements}
    assert live[("live", "inference")].start == 0
    assert live[("live", "training")].start == 50
    strict = _portfolio(live_after=["training"])
    found = check(strict, valid.model_copy(update={"inputs": None}))  # same plan, new rule
    assert rules(found) == {("precedence", at(("live", "inference"), "start"))}
    assert "(its `after`)" in found[0].message


# --- capacity at every event point -------------------------------------------------------


def test_capacity_at_once(case: tuple[Portfolio, Plan]) -> None:
    p, base = case
    found = check(p, timed(base, {("soft", "training"): ("5", "15"),
                                  ("hard", "training"): ("5", "15")}))
    assert [(v.rule, v.where, v.message) for v in found] == [
        ("capacity.concurrency", f"{POOL} at hour 5", "5 instances in use at once; 4 exist")]


def test_outage_overlap(case: tuple[Portfolio, Plan]) -> None:
    """3 nodes in use at hour 30 fit in 4, but not with 2 down for maintenance."""
    p, base = case
    found = check(p, timed(base, {("live", "training"): ("30", "40")}))
    assert [(v.rule, v.where, v.message) for v in found] == [
        ("capacity.concurrency", f"{POOL} at hour 30",
         "3 instances in use at once and 2 down (outage); 4 exist")]


def test_equal_time_end_and_start_share_nothing(case: tuple[Portfolio, Plan],
                                                valid: Plan) -> None:
    """Testing ends at 30 when the outage starts, the pool then full: allowed. Half an
    hour later it overlaps."""
    p, base = case
    assert check(p, valid) == []
    found = check(p, timed(base, {("fraud", "testing"): ("20.5", "30.5")}))
    assert rules(found) == {("capacity.concurrency", f"{POOL} at hour 30")}


def test_run_may_start_when_an_outage_ends(case: tuple[Portfolio, Plan]) -> None:
    """At hour 40 the outage gives its 2 nodes back: hard, live/training and
    live/inference then hold 3 of 4 (with the outage still counted, 5)."""
    p, base = case
    assert check(p, timed(base, {("live", "training"): ("40", "50")})) == []
    found = check(p, timed(base, {("live", "training"): ("39.5", "49.5"),
                                  ("hard", "training"): ("39.5", "49.5")}))
    assert [(v.where, v.message) for v in found] == [
        (f"{POOL} at hour 39.5", "3 instances in use at once and 2 down (outage); 4 exist")]


# --- dates ---------------------------------------------------------------------------------


def test_dates_follow_the_hours(case: tuple[Portfolio, Plan], valid: Plan) -> None:
    p, _ = case
    key = ("hard", "training")
    found = check(p, edit(valid, key, start_at=_date(Decimal(41))))
    assert rules(found) == {("schedule.dates", at(key, "start_at"))}
    found = check(p, edit(valid, key, end_at=None))
    assert rules(found) == {("schedule.dates", at(key, "end_at"))}


def test_no_dates_without_a_horizon_start() -> None:
    p = portfolio([_workload("w", [_stage("training", 10)])],
                  settings={"period_hours": 50},
                  onprem=[{"id": "onprem:dc", "country": "DE", "offers": [GPU_NODE]}])
    base = solve(p)
    pl = base.placements[0].model_copy(update={"start": Decimal(0), "end": Decimal(10)})
    plan = base.model_copy(update={
        "horizon": Horizon(hours=Decimal(50)), "placements": [pl],
        "schedule": [PoolSchedule(resource=POOL, site="onprem:dc", unit="instances",
                                  capacity=4, peak=1, peak_at=Decimal(0), runs=[
                                      Run(workload="w", stage="training", offer="gpu",
                                          start=Decimal(0), end=Decimal(10), amount=1)])]})
    assert check(p, plan) == []
    dated = plan.model_copy(update={"placements": [pl.model_copy(update={"start_at": ORIGIN})]})
    assert rules(check(p, dated)) == {("schedule.dates", "placements[0] (w/training).start_at")}


# --- schedule[] ------------------------------------------------------------------------------


def _pool_edit(plan: Plan, **update: Any) -> Plan:
    return plan.model_copy(update={"schedule": [plan.schedule[0].model_copy(update=update)]})


@pytest.mark.parametrize(("update", "field"), [
    ({"peak": 3}, "peak"), ({"peak_at": Decimal("22.5")}, "peak_at"),
    ({"capacity": 5}, "capacity"), ({"unit": "gpus"}, "unit"), ({"site": "onprem:x"}, "site"),
    ({"outages": []}, "outages")])
def test_schedule_fields(case: tuple[Portfolio, Plan], valid: Plan, update: dict[str, Any],
                         field: str) -> None:
    p, _ = case
    assert rules(check(p, _pool_edit(valid, **update))) == {
        ("schedule", f"schedule[0] ({POOL}).{field}")}


def test_schedule_runs(case: tuple[Portfolio, Plan], valid: Plan) -> None:
    p, _ = case
    runs = list(valid.schedule[0].runs)
    runs[0] = runs[0].model_copy(update={"amount": 1})
    found = check(p, _pool_edit(valid, runs=runs))
    assert rules(found) == {("schedule", f"schedule[0] ({POOL}).runs")}
    assert {v.message for v in found} == {
        "lists no run for fraud/training 2 of gpu during [0, 20), which the placements hold",
        "lists fraud/training 1 of gpu during [0, 20), which no placement holds"}
    reordered = _pool_edit(valid, runs=runs[::-1])
    assert rules(check(p, reordered)) == {("schedule", f"schedule[0] ({POOL}).runs")}
    assert check(p, _pool_edit(valid, runs=valid.schedule[0].runs[::-1])) == []


def test_schedule_lists_exactly_the_pools_used(case: tuple[Portfolio, Plan],
                                               valid: Plan) -> None:
    p, _ = case
    found = check(p, valid.model_copy(update={"schedule": []}))
    assert [(v.rule, v.where) for v in found] == [("schedule", "schedule")]
    assert f"{POOL} is used (placements[0], placements[1], placements[2] …)" in found[0].message
    extra = valid.schedule[0].model_copy(update={"resource": "offer:onprem:dc/other"})
    found = check(p, valid.model_copy(update={"schedule": [*valid.schedule, extra]}))
    assert rules(found) == {("schedule", "schedule[1] (offer:onprem:dc/other)")}
    twice = valid.model_copy(update={"schedule": [*valid.schedule, valid.schedule[0]]})
    assert rules(check(p, twice)) == {("schedule", f"schedule[1] ({POOL})")}


def test_outage_dates(case: tuple[Portfolio, Plan], valid: Plan) -> None:
    p, _ = case
    outage = valid.schedule[0].outages[0].model_copy(update={"end_at": None})
    found = check(p, _pool_edit(valid, outages=[outage]))
    assert rules(found) == {("schedule.dates", f"schedule[0] ({POOL}).outages[0].end_at")}


# --- the sweep against brute force ---------------------------------------------------------


def _world(capacity: int) -> World:
    offer = Offer(site_id="onprem:dc", id="gpu", gpu_model=None, gpu_count=Decimal(0), vcpus=1,
                  memory_gib=Decimal(1), price_per_hour=Decimal(1), spot_price_per_hour=None,
                  capacity=capacity)
    return World(sites={}, offers=(offer,), gpu_quotas={}, period_hours=Decimal(40))


def _checked(i: int, start: Decimal, end: Decimal) -> Checked:
    pl = Placement.model_validate({
        "workload": "w", "stage": f"s{i}", "kind": "training", "team": "t",
        "site": "onprem:dc", "provider": "onprem", "region": "dc", "country": "DE",
        "offer": "gpu", "purchase": "owned", "gpu_model": None, "gpus_per_instance": "0",
        "replicas": 1, "instances": 1, "hours": str(end - start),
        "cost": {"compute_usd": "0", "egress_usd": "0", "total_usd": "0"}, "why": [],
        "start": str(start), "end": str(end)})
    return Checked(i, pl, None, None, None, None)  # type: ignore[arg-type]


HALVES = st.integers(0, 40).map(lambda k: Decimal(k) / 2)
SPANS = st.tuples(HALVES, st.integers(1, 12).map(lambda k: Decimal(k) / 2), st.integers(1, 3))


@settings(max_examples=300, deadline=None)
@given(st.lists(SPANS, min_size=1, max_size=7), st.lists(SPANS, max_size=3),
       st.integers(1, 8))
def test_sweep_matches_a_brute_force_count(jobs: list[tuple[Decimal, Decimal, int]],
                                           downs: list[tuple[Decimal, Decimal, int]],
                                           capacity: int) -> None:
    """On a half-hour grid, held and down units at every instant, counted one by one."""
    uses = [(_checked(i, s, s + d), Decimal(n)) for i, (s, d, n) in enumerate(jobs)]
    outages = [(s, s + d, k) for s, d, k in downs]
    grid = [Decimal(k) / 2 for k in range(0, 2 * 40)]
    held = {t: sum(n for s, d, n in jobs if s <= t < s + d) for t in grid}
    down = {t: sum(k for a, b, k in outages if a <= t < b) for t in grid}
    load = {t: held[t] + down[t] for t in grid}
    top = max(load.values())
    first = next(t for t in grid if load[t] == top)
    sweep = steps(uses, outages)
    assert max(s.held + s.down for s in sweep) == top
    assert next(s.at for s in sweep if s.held + s.down == top) == first
    busy = [t for t in grid if held[t] > 0]
    worst = max(load[t] for t in busy)
    found = check_instants(_world(capacity), {POOL: uses}, {POOL: outages})
    if worst > capacity:
        when = next(t for t in busy if load[t] == worst)
        assert [v.where for v in found] == [f"{POOL} at hour {when.normalize():f}"]
    else:
        assert found == []
