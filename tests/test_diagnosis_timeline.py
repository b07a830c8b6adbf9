"""The time-aware infeasibility diagnosis: deadlines, windows, precedence arcs and outages
as assumption literals on the exact schedule model; every core is re-solved."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
from builders import NOW, portfolio, small_catalog, training, workload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner import api
from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.compile.timing import build_timing
from planner.explain.conflicts import diagnose, recheck_timed_conflicts
from planner.models.portfolio import Portfolio
from planner.models.problem import Problem
from planner.models.timing import Outage, Precedence, Timing
from planner.solvers.base import SolveOptions, SolveStatus
from planner.solvers.schedule_cpsat import solve_schedule
from planner.solvers.schedule_diagnosis import (
    TimedNames,
    check_timed_conflict,
    diagnose_timed,
    find_timed_core,
)

OPTS = SolveOptions(time_limit_s=20, workers=1, deterministic=True)
POOL = "offer:onprem:dc/dgx"


def _pool(use_now: list[int], cap: int, horizon: int, hours: list[int], *,
          due: list[int] | None = None, release: list[int] | None = None,
          precedence: tuple[Precedence, ...] = (), outages: tuple[Outage, ...] = ()
          ) -> tuple[Problem, Timing]:
    """One option per stage, all on one on-prem pool of ``cap`` nodes (whose node-hours
    per period never bind)."""
    n = len(use_now)
    problem = Problem(
        n_stages=n, stage_ptr=np.arange(n + 1), units=np.ones(n, dtype=np.int64),
        opt_cost=np.full(n, 100), opt_obj=np.full(n, 100), opt_compute=np.full(n, 100),
        opt_ub=np.ones(n, dtype=np.int64), opt_site=np.zeros(n, dtype=np.int64),
        opt_moved=np.zeros(n, dtype=bool), use_opt=np.arange(n),
        use_res=np.zeros(n, dtype=np.int64),
        use_amt=np.array([u * h * 1000 for u, h in zip(use_now, hours, strict=True)]),
        res_cap=np.array([cap * horizon * 1000]), res_names=(POOL,),
        site_names=("onprem:dc",), site_provider=("onprem",), site_cloud=(False,),
        stage_keys=tuple(f"fraud/s{i}" for i in range(n)))
    timing = Timing(horizon=horizon, opt_hours=np.array(hours),
                    release=np.array(release or [0] * n), due=np.array(due or [horizon] * n),
                    late_cost=np.zeros(n, dtype=np.int64), to_end=np.zeros(n, dtype=bool),
                    use_now=np.array(use_now), res_now=np.array([cap]),
                    precedence=precedence, outages=outages)
    return problem, timing


def _status(problem: Problem, timing: Timing) -> SolveStatus:
    return solve_schedule(problem, timing, OPTS).solution.status


def _assert_each_drop_admits_a_schedule(problem: Problem, timing: Timing,
                                        rules: list[str]) -> None:
    assert _status(problem, timing) is SolveStatus.INFEASIBLE
    for rule in rules:
        assert _status(*_relaxed(problem, timing, {rule})) is SolveStatus.OPTIMAL, rule


def test_a_deadline_and_an_outage_conflict_and_dropping_either_admits_a_schedule() -> None:
    # 4 nodes; training needs all 4 for 100 h, done by hour 120; 2 nodes are down during
    # [10, 50): it can start at 50 at the earliest and end at 150.
    problem, timing = _pool([4], cap=4, horizon=300, hours=[100], due=[120],
                            outages=(Outage(0, 10, 50, 2),))
    rules, note = diagnose_timed(problem, timing, OPTS)
    assert "deadline:fraud/s0" in rules and "outage:onprem:dc/dgx#0" in rules
    assert set(rules) <= {"deadline:fraud/s0", "outage:onprem:dc/dgx#0", f"capacity:{POOL}"}
    assert note == "dropping any one of these rules makes the portfolio feasible"
    _assert_each_drop_admits_a_schedule(problem, timing, rules)


def test_an_outage_that_does_not_matter_stays_out_of_the_core() -> None:
    # The second outage (after the deadline) takes nothing the job needs.
    problem, timing = _pool([4], cap=4, horizon=300, hours=[100], due=[120],
                            outages=(Outage(0, 10, 50, 2), Outage(0, 200, 250, 4)))
    found = find_timed_core(problem, timing, OPTS)
    assert found.rules is not None and found.minimal
    assert "outage:onprem:dc/dgx#1" not in found.rules
    assert "outage:onprem:dc/dgx#0" in found.rules


def test_a_precedence_chain_too_long_for_its_deadline() -> None:
    # training → testing → evaluation, 40 h each on one node, the last done by hour 100:
    # the chain needs 120 h. Capacity is plentiful; only the arcs and the deadline conflict.
    chain = (Precedence(0, 1), Precedence(1, 2))
    problem, timing = _pool([1, 1, 1], cap=3, horizon=200, hours=[40, 40, 40],
                            due=[200, 200, 100], precedence=chain)
    rules, _ = diagnose_timed(problem, timing, OPTS)
    assert sorted(rules) == ["after:fraud/s0->s1", "after:fraud/s1->s2", "deadline:fraud/s2"]
    _assert_each_drop_admits_a_schedule(problem, timing, rules)


def test_an_earliest_start_and_a_deadline_leave_too_short_a_window() -> None:
    problem, timing = _pool([1, 1], cap=2, horizon=200, hours=[60, 10], release=[50, 0],
                            due=[100, 200])
    rules, _ = diagnose_timed(problem, timing, OPTS)
    assert sorted(rules) == ["deadline:fraud/s0", "window:fraud/s0"]
    _assert_each_drop_admits_a_schedule(problem, timing, rules)


def test_a_rule_named_none_is_never_relaxed() -> None:
    # With the deadline not relaxable, the window alone is the conflict.
    problem, timing = _pool([1], cap=1, horizon=200, hours=[60], release=[50], due=[100])
    names = TimedNames.default(problem, timing)
    fixed = dataclasses.replace(names, deadline=(None,))
    rules, _ = diagnose_timed(problem, timing, OPTS, fixed)
    assert rules == ["window:fraud/s0"]


def test_a_stage_longer_than_the_horizon_is_no_rule_anyone_can_drop() -> None:
    problem, timing = _pool([1], cap=1, horizon=50, hours=[60])
    rules, note = diagnose_timed(problem, timing, OPTS)
    assert rules == [] and "horizon" in note


def test_the_claim_recheck_confirms_a_timed_core_and_refutes_wrong_claims() -> None:
    problem, timing = _pool([4], cap=4, horizon=300, hours=[100], due=[120],
                            outages=(Outage(0, 10, 50, 2),))
    rules, _ = diagnose_timed(problem, timing, OPTS)
    ok = check_timed_conflict(problem, timing, rules, OPTS)
    assert ok.holds is True, ok.message
    alone = check_timed_conflict(problem, timing, ["deadline:fraud/s0"], OPTS)
    assert alone.holds is False and "a plan exists" in alone.message
    unknown = check_timed_conflict(problem, timing, ["deadline:fraud/s9"], OPTS)
    assert unknown.holds is False and "not a rule" in unknown.message
    fine = dataclasses.replace(timing, due=np.array([300]))
    assert check_timed_conflict(problem, fine, [], OPTS).holds is False


def test_a_feasible_schedule_has_no_core() -> None:
    problem, timing = _pool([2], cap=4, horizon=300, hours=[100], due=[120],
                            outages=(Outage(0, 10, 50, 2),))
    assert find_timed_core(problem, timing, OPTS).rules is None


# --- a portfolio: the conflict in words, re-solved --------------------------------------

def _fraud(deadline: str | None = "2027-01-12", outage: bool = True,
           residency: bool = True, nodes: int = 4) -> Portfolio:
    offer: dict[str, Any] = {"id": "dgx-a100", "gpu_model": "A100-80GB", "gpu_count": 8,
                             "vcpus": 128, "memory_gib": 1024, "price_per_hour": 20,
                             "nodes": nodes}
    if outage:  # half the pod is down in the first week
        offer["outages"] = [{"from": "2027-01-01", "to": "2027-01-08", "nodes": 2}]
    stage = training(hours=130, gpus=32, nodes=4,  # a gang of 4 nodes at once
                     **({"deadline": deadline} if deadline else {}))
    w = workload("fraud-eu", [stage], home="onprem:frankfurt",
                 **({"sites": ["onprem:frankfurt"]} if residency else {}))
    return portfolio([w], settings={"horizon": {"start": "2027-01-01", "end": "2027-04-01"}},
                     onprem=[{"id": "onprem:frankfurt", "country": "DE", "offers": [offer]}])


def _schedule_status(p: Portfolio) -> SolveStatus:
    world = build_world(p, [small_catalog()], now=NOW)
    cands = generate(p, world)
    problem = build_problem(cands, world)
    timing = build_timing(p, cands, problem, world.gpu_quotas)
    return solve_schedule(problem, timing, OPTS).solution.status


def test_a_portfolio_deadline_and_outage_conflict_in_words() -> None:
    p = _fraud()
    world = build_world(p, [small_catalog()], now=NOW)
    cands = generate(p, world)
    conflicts, summary = diagnose(p, world, cands, OPTS)
    rules = [c.rule for c in conflicts]
    assert sorted(rules) == ["capacity:offer:onprem:frankfurt/dgx-a100",
                             "deadline:fraud-eu/training", "outage:onprem:frankfurt/dgx-a100#0",
                             "residency.sites:fraud-eu"]
    words = {c.rule: c.message for c in conflicts}
    assert words["deadline:fraud-eu/training"] == "training of fraud-eu must end by 2027-01-12"
    assert words["outage:onprem:frankfurt/dgx-a100#0"] == (
        "onprem:frankfurt has 2 of 4 × dgx-a100 down from 2027-01-01 to 2027-01-08")
    assert words["capacity:offer:onprem:frankfurt/dgx-a100"] == (
        "onprem:frankfurt has 4 × dgx-a100 at once (8,640 instance-hours per period)")
    assert ("training of fraud-eu needs 4 × dgx-a100 at once for 130 h before 2027-01-12; "
            "onprem:frankfurt has 4 × dgx-a100, 2 free in that window (outage 2027-01-01 to "
            "2027-01-08)") in summary
    assert "dropping any one of these rules makes the portfolio feasible" in summary
    # Re-solved: infeasible as given, and dropping each rule of the core admits a schedule.
    assert _schedule_status(p) is SolveStatus.INFEASIBLE
    for relaxed in (_fraud(deadline=None), _fraud(outage=False), _fraud(residency=False),
                    _fraud(nodes=6)):
        assert _schedule_status(relaxed) is SolveStatus.OPTIMAL
    check = recheck_timed_conflicts(p, world, cands, rules, OPTS)
    assert check.holds is True, check.message
    assert recheck_timed_conflicts(p, world, cands, rules[:1], OPTS).holds is False


def test_the_transfer_to_another_site_is_part_of_the_arc() -> None:
    # Training may run only in Frankfurt, testing only in Ireland: 100 h + 10 h to copy
    # the model + 100 h do not end by hour 205.
    stages = [training(hours=100, gpus=8, residency={"sites": ["aws:eu-central-1"]}),
              training(hours=100, gpus=8, kind="testing", deadline=205, transfer_hours=10,
                       residency={"sites": ["aws:eu-west-1"]})]
    p = portfolio([workload("fraud-eu", stages)])
    world = build_world(p, [small_catalog()], now=NOW)
    cands = generate(p, world)
    conflicts, _ = diagnose(p, world, cands, OPTS)
    messages = {c.rule: c.message for c in conflicts}
    assert messages["after:fraud-eu/training->testing"] == (
        "testing of fraud-eu starts only after its training ends (and 10 h later at a site "
        "where it did not run: transfer_hours)")
    assert "deadline:fraud-eu/testing" in messages


def test_an_undeclared_deadline_is_not_a_rule_of_the_portfolio() -> None:
    # Without a deadline (the horizon is the only limit) a feasible portfolio has no core;
    # a claim naming a deadline it does not declare is refuted as unknown.
    p = _fraud(deadline=None)
    world = build_world(p, [small_catalog()], now=NOW)
    cands = generate(p, world)
    check = recheck_timed_conflicts(p, world, cands, ["deadline:fraud-eu/training"], OPTS)
    assert check.holds is False and "not a rule" in check.message


def test_a_pipeline_too_long_for_the_testing_deadline_names_the_arc() -> None:
    # training (100 h) then testing (100 h), testing due at hour 150: the cloud has any
    # number of GPUs, so only the order and the deadline conflict.
    stages = [training(hours=100, gpus=8), training(hours=100, gpus=8, kind="testing",
                                                     deadline=150)]
    p = portfolio([workload("fraud-eu", stages)])
    world = build_world(p, [small_catalog()], now=NOW)
    cands = generate(p, world)
    conflicts, summary = diagnose(p, world, cands, OPTS)
    assert {c.rule: c.message for c in conflicts} == {
        "after:fraud-eu/training->testing": "testing of fraud-eu starts only after its "
                                            "training ends",
        "deadline:fraud-eu/testing": "testing of fraud-eu must end by hour 150"}
    assert "testing of fraud-eu runs 100 h before hour 150; its sites have no limit" in summary
    assert recheck_timed_conflicts(p, world, cands, [c.rule for c in conflicts],
                                   OPTS).holds is True


def test_times_in_words_are_utc_when_the_horizon_starts_with_an_offset() -> None:
    # The horizon starts at 2027-01-04 00:00 +05:30 (2027-01-03 18:30 UTC): a deadline
    # 155.5 h later is 2027-01-10 06:00 UTC, not the local 11:30 called "UTC".
    from decimal import Decimal

    from planner.explain.timed_conflicts import when

    p = portfolio([workload("fraud-eu", [training(hours=10, gpus=8)])],
                  settings={"horizon": {"start": "2027-01-04T00:00:00+05:30",
                                        "end": "2027-02-01"}})
    assert when(p.settings, Decimal("155.5")) == "2027-01-10 06:00 UTC"
    assert when(p.settings, Decimal("5.5")) == "2027-01-04"


# --- random tiny instances: every core re-solved independently -------------------------

@st.composite
def _tiny(draw: st.DrawFn) -> tuple[Problem, Timing]:
    n = draw(st.integers(2, 3))
    horizon = draw(st.integers(6, 10))
    ints = st.integers
    hours = [draw(ints(1, 4)) for _ in range(n)]
    release = [draw(ints(0, 2)) for _ in range(n)]
    # each window mostly fits its stage alone: conflicts come from the rules together
    due = [min(horizon, r + h + draw(ints(-1, 4))) for r, h in zip(release, hours, strict=True)]
    arcs = tuple(Precedence(a, b) for a, b in itertools.combinations(range(n), 2)
                 if draw(st.sampled_from([True, True, False])))
    cap = draw(ints(1, 3))
    use = [draw(ints(1, cap)) for _ in range(n)]
    outages = tuple(Outage(0, t, t + draw(ints(1, 3)), draw(ints(1, cap)))
                    for t in sorted({draw(ints(0, horizon - 1)) for _ in range(draw(ints(0, 2)))}))
    problem, timing = _pool(use, cap=cap, horizon=horizon, hours=hours, due=due,
                            release=release, precedence=arcs)
    fits = [o for o in outages if sum(p.amount for p in outages
                                      if p.start <= o.start < p.end) <= cap]
    return problem, dataclasses.replace(timing, outages=tuple(fits))


def _relaxed(problem: Problem, timing: Timing, drop: set[str]) -> tuple[Problem, Timing]:
    """Every named rule in ``drop`` dropped (capacity: as many nodes as all stages need)."""
    for rule in sorted(drop):
        if rule.startswith("capacity:"):
            more = int(timing.use_now.sum()) + sum(o.amount for o in timing.outages)
            timing = dataclasses.replace(timing, res_now=timing.res_now + more)
            problem = dataclasses.replace(problem, res_cap=problem.res_cap * 100)
        else:
            names = TimedNames.default(problem, timing)
            kind = rule.split(":", 1)[0]
            k = getattr(names, kind).index(rule)
            if kind in ("deadline", "window"):
                field, free = ("due", timing.horizon) if kind == "deadline" else ("release", 0)
                values = getattr(timing, field).copy()
                values[k] = free
                timing = dataclasses.replace(timing, **{field: values})
            else:  # mark the arc or outage harmless, keeping the indices of the others
                if kind == "after":
                    arcs = list(timing.precedence)
                    arcs[k] = Precedence(arcs[k].before, arcs[k].after, -timing.horizon)
                    timing = dataclasses.replace(timing, precedence=tuple(arcs))
                else:
                    outs = list(timing.outages)
                    outs[k] = Outage(outs[k].res, outs[k].start, outs[k].end, 0)
                    timing = dataclasses.replace(timing, outages=tuple(outs))
    return problem, timing


def _all_rules(problem: Problem, timing: Timing) -> set[str]:
    names = TimedNames.default(problem, timing)
    every = (*names.deadline, *names.window, *names.after, *names.outage, f"capacity:{POOL}")
    return {n for n in every if n is not None}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(_tiny())
def test_random_cores_conflict_and_are_minimal(case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    found = find_timed_core(problem, timing, OPTS)
    if _status(problem, timing) is not SolveStatus.INFEASIBLE:
        assert found.rules is None
        return
    assert found.rules is not None and found.minimal
    core = set(found.rules)
    others = _all_rules(problem, timing) - core
    # The core alone (everything else dropped) admits no schedule …
    assert _status(*_relaxed(problem, timing, others)) is SolveStatus.INFEASIBLE
    # … and dropping any one rule of it as well admits one.
    for rule in core:
        assert _status(*_relaxed(problem, timing, others | {rule})) is SolveStatus.OPTIMAL, rule


def test_a_go_live_before_training_can_end_names_the_go_live_and_the_order() -> None:
    stages = [training(hours=130, gpus=8),
              {"kind": "inference", "gpu": {"models": {"A100-80GB": 1.0}, "count": 8},
               "vcpus": 8, "memory_gib": 64, "hours": 730, "earliest_start": "2027-01-03"}]
    p = portfolio([workload("fraud-eu", stages)],
                  settings={"horizon": {"start": "2027-01-01", "end": "2027-04-01"}})
    world = build_world(p, [small_catalog()], now=NOW)
    cands = generate(p, world)
    conflicts, summary = diagnose(p, world, cands, OPTS)
    assert {c.rule: c.message for c in conflicts} == {
        "after:fraud-eu/training->inference": "inference of fraud-eu starts only after its "
                                              "training ends",
        "deadline:fraud-eu/inference": "inference of fraud-eu must be live by 2027-01-03"}
    assert "inference of fraud-eu serves from 2027-01-03 to the horizon end" in summary
    assert "training of fraud-eu runs 130 h within the horizon (by 2027-04-01)" in summary


def _dated_service(go_live: str, horizon_start: str) -> Portfolio:
    """Three 8-GPU replicas live from ``go_live`` on a 16-GPU pod the data may not leave."""
    offer = {"id": "dgx-a100", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 128,
             "memory_gib": 1024, "price_per_hour": 20, "nodes": 2}
    service = {"kind": "inference", "gpu": {"models": {"A100-80GB": 1.0}, "count": 8},
               "vcpus": 8, "memory_gib": 64, "hours": 100, "replicas": 3,
               "earliest_start": go_live}
    w = workload("fraud-eu", [service], home="onprem:frankfurt",
                 sites=["onprem:frankfurt"])
    return portfolio([w], settings={"horizon": {"start": horizon_start,
                                                "end": "2027-04-01"}},
                     onprem=[{"id": "onprem:frankfurt", "country": "DE", "offers": [offer]}])


def test_a_dated_service_needs_its_gpus_from_its_go_live_to_the_horizon_end() -> None:
    # Three 8-GPU replicas on a 16-GPU pod the data may not leave: capacity and residency
    # conflict, no time rule; the service live from 2027-01-03 holds its GPUs for the
    # 2,112 h to the horizon end, not for its `hours` (100), which a go-live overrides.
    p = _dated_service("2027-01-03", "2027-01-01")
    world = build_world(p, [small_catalog()], now=NOW)
    conflicts, summary = diagnose(p, world, generate(p, world), OPTS)
    assert "residency.sites:fraud-eu" in {c.rule for c in conflicts}
    assert "inference of fraud-eu needs 24 × A100-80GB at once for 2112 h" in summary
    assert "for 100 h" not in summary


def test_verify_re_solves_a_timed_claim_and_refutes_a_tampered_one() -> None:
    p = _fraud()
    plan = api.plan(p, [small_catalog()], time_limit_s=20, now=NOW, all_or_nothing=True)
    assert plan.status is SolveStatus.INFEASIBLE
    rules = {c.rule for c in plan.conflicts}
    assert {"deadline:fraud-eu/training", "outage:onprem:frankfurt/dgx-a100#0"} <= rules
    assert "2 free in that window" in (plan.diagnosis or "")
    ok = api.verify_report(p, plan, [small_catalog()], time_limit_s=20)
    assert ok.violations == [] and ok.confirmed
    fewer = plan.model_copy(update={"conflicts": [c for c in plan.conflicts
                                                  if not c.rule.startswith("outage:")]})
    refuted = api.verify_report(p, fewer, [small_catalog()], time_limit_s=20)
    assert [v.rule for v in refuted.violations] == ["conflicts"]
    assert "a plan exists" in str(refuted.violations[0])


def test_a_gang_larger_than_any_offer_is_named_as_a_gang_not_as_gpus() -> None:
    # 32 GPUs as a gang of 4 nodes on a 2-node pod: the pod's 16 GPUs are not the point,
    # its 2 nodes are.
    p = _fraud(deadline=None, outage=False, nodes=2)
    world = build_world(p, [small_catalog()], now=NOW)
    _, summary = diagnose(p, world, generate(p, world), OPTS)
    assert ("each replica on 4 whole instances of one offer at once (its sites have at "
            "most 2 of one offer at once)") in summary


def test_a_dated_service_s_hours_read_as_a_number_when_the_horizon_starts_at_odd_seconds(
        ) -> None:
    # The horizon starts at 06:30:17: the hours from the go-live to its end were printed
    # with the 28 places of their Decimal ("for 2112.000000000000000000000000 h").
    p = _dated_service("2027-01-03T00:00:00Z", "2027-01-01T06:30:17Z")
    world = build_world(p, [small_catalog()], now=NOW)
    _, summary = diagnose(p, world, generate(p, world), OPTS)
    assert "inference of fraud-eu needs 24 × A100-80GB at once for 2112 h" in summary
