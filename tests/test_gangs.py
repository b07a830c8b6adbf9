"""Whole instances: a replica runs on one instance, or on a declared gang of instances of
one offer; offers it does not fit and runs that overrun their window are pruned by named
rules. Every plan here goes through the independent verifier (``solve``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from builders import NOW, catalog, portfolio, row, small_catalog, solve, training, workload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planner import api
from planner.catalog.load import LoadedCatalog
from planner.compile.resolve import build_world
from planner.compile.rules import HardwareAsk, node_share
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio, Stage
from planner.report.explain import instance_count
from planner.verify.check import verify


def _cpu_catalog() -> LoadedCatalog:
    """A small CPU instance that is cheapest per vCPU, and a large one (the issue's case)."""
    return catalog([
        row("us-east-1", "m6i.xlarge", "0.192", vcpus=4, mem=16, country="US"),
        row("us-east-1", "m6i.8xlarge", "1.60", vcpus=32, mem=128, country="US"),
        row("us-east-1", "d2s", "0.09", vcpus=2, mem=8, country="US"),
        row("us-east-1", "d8s", "0.40", vcpus=8, mem=32, country="US"),
    ])


def _cpu(**kw: Any) -> dict[str, Any]:
    return {"kind": "training", "vcpus": 32, "memory_gib": 128, "hours": 10, **kw}


def _plan(stage: dict[str, Any], cats: list[LoadedCatalog] | None = None, **extra: Any) -> Plan:
    """Plan without asserting feasibility (infeasible plans are verified too)."""
    p = portfolio([workload("w", [stage])], **extra)
    cats = cats or [_cpu_catalog()]
    plan = api.plan(p, cats, now=NOW, time_limit_s=10)
    assert verify(p, build_world(p, cats, now=NOW), plan) == []
    return plan


# ---- the two defects of the issue --------------------------------------------------------


def test_a_32_vcpu_job_is_not_spread_over_small_instances() -> None:
    # Before: 8 × m6i.xlarge (8 × $0.192 < $1.60), vCPUs and memory pooled across instances.
    plan = solve(portfolio([workload("w", [_cpu()])]), [_cpu_catalog()])
    (p,) = plan.placements
    assert (p.offer, p.instances, p.nodes_per_replica, p.replicas) == ("m6i.8xlarge", 1, 1, 1)
    assert plan.pruned["hardware.fit"] == 3  # m6i.xlarge, d2s and d8s are too small


def test_inference_replicas_each_get_their_own_instance() -> None:
    # Before: 2 replicas of 8 vCPUs on 8 × d2s (2 vCPUs each).
    stage = {"kind": "inference", "vcpus": 8, "memory_gib": 32, "hours": 730, "replicas": 2}
    plan = solve(portfolio([workload("w", [stage])]), [_cpu_catalog()])
    (p,) = plan.placements
    assert (p.offer, p.instances, p.replicas, p.nodes_per_replica) == ("d8s", 2, 2, 1)
    assert plan.totals.compute_usd == Decimal("584.000000")  # 2 × $0.40 × 730 h


def test_split_replicas_count_one_instance_each() -> None:
    stage = {"kind": "inference", "vcpus": 8, "memory_gib": 32, "hours": 730, "replicas": 3,
             "split": True}
    plan = solve(portfolio([workload("w", [stage])]), [_cpu_catalog()])
    assert sum(p.replicas for p in plan.placements) == 3
    assert all(p.instances == p.replicas and p.offer == "d8s" for p in plan.placements)


# ---- gangs --------------------------------------------------------------------------------


def test_a_fixed_gang_runs_every_replica_on_that_many_instances() -> None:
    plan = solve(portfolio([workload("w", [_cpu(nodes=8, replicas=2)])]), [_cpu_catalog()])
    (p,) = plan.placements
    # 8 nodes of 4 vCPUs / 16 GiB: m6i.xlarge fits each node and is the cheapest.
    assert (p.offer, p.replicas, p.nodes_per_replica, p.instances) == ("m6i.xlarge", 2, 8, 16)
    assert instance_count(p) == "16 (2 replicas × 8 nodes)"
    assert plan.totals.compute_usd == Decimal("30.720000")  # 16 × $0.192 × 10 h


def test_a_fixed_gang_too_small_for_every_offer_is_pruned_with_the_fix() -> None:
    plan = _plan(_cpu(nodes=2), [catalog([row("us-east-1", "m6i.xlarge", "0.192", vcpus=4,
                                              mem=16, country="US")])])
    assert not plan.feasible
    (u,) = plan.unplaced
    assert u.reasons == [
        "1 option pruned by hardware.fit, e.g. workloads[0].stages[0]: needs 16 vCPUs and "
        "64 GiB per node of its 2-node gang; m6i.xlarge has 4 vCPUs and 16 GiB — raise nodes "
        "to 8 (or use max_nodes), or choose a larger offer"]
    assert "holds a replica or a node of its gang on one instance" in (plan.diagnosis or "")


def test_max_nodes_picks_the_smallest_gang_per_offer() -> None:
    # m6i.xlarge needs 8 nodes ($1.536/h), d2s 16 ($1.44/h), d8s 4 ($1.60/h), m6i.8xlarge 1.
    plan = solve(portfolio([workload("w", [_cpu(max_nodes=16)])]), [_cpu_catalog()])
    (p,) = plan.placements
    assert (p.offer, p.nodes_per_replica, p.instances) == ("d2s", 16, 16)
    capped = solve(portfolio([workload("w", [_cpu(max_nodes=8)])]), [_cpu_catalog()])
    (q,) = capped.placements
    assert (q.offer, q.nodes_per_replica, q.instances) == ("m6i.xlarge", 8, 8)
    assert capped.pruned["hardware.fit"] == 1  # d2s would need 16


def test_max_nodes_too_small_says_how_many_are_needed() -> None:
    plan = _plan(_cpu(max_nodes=2), [catalog([row("us-east-1", "m6i.xlarge", "0.192",
                                                  vcpus=4, mem=16, country="US")])])
    (u,) = plan.unplaced
    assert u.reasons == [
        "1 option pruned by hardware.fit, e.g. workloads[0].stages[0]: needs 32 vCPUs and "
        "128 GiB at once, 8 × m6i.xlarge (4 vCPUs and 16 GiB each); max_nodes is 2 — raise "
        "max_nodes to 8, or choose a larger offer"]


def test_a_replica_without_a_gang_names_the_gang_that_would_fit() -> None:
    plan = _plan(_cpu(), [catalog([row("us-east-1", "m6i.xlarge", "0.192", vcpus=4, mem=16,
                                       country="US")])])
    (u,) = plan.unplaced
    assert u.reasons[0].endswith(
        "workloads[0].stages[0]: needs 32 vCPUs and 128 GiB at once; m6i.xlarge has 4 vCPUs "
        "and 16 GiB — declare nodes: 8 or max_nodes, or choose a larger offer")


def test_gpus_split_unevenly_take_the_larger_share_on_every_node() -> None:
    stage = Stage.model_validate(training(gpus=6, nodes=4))
    assert node_share(HardwareAsk.of(stage), 4) == (2, Decimal(2), Decimal(16))
    one_gpu = catalog([row("us-east-1", "g1", "3", gpu="A100-80GB", gpus=1, vcpus=8, mem=64,
                           country="US"),
                       row("us-east-1", "g2", "7", gpu="A100-80GB", gpus=2, vcpus=8, mem=64,
                           country="US")])
    plan = solve(portfolio([workload("w", [training(gpus=6, nodes=4)])]), [one_gpu])
    (p,) = plan.placements
    assert (p.offer, p.instances) == ("g2", 4)  # 2 GPUs per node; g1 has 1
    assert plan.pruned["hardware.fit"] == 1


def test_a_fraction_of_a_gpu_never_holds_a_node() -> None:
    cat = catalog([row("us-east-1", "v.half", "1", gpu="A10", gpus=0.5, vcpus=8, mem=64,
                       country="US")])
    plan = _plan(training(gpus=1, models={"A10": 1.0}, max_nodes=4), [cat])
    assert "less than one whole GPU" in plan.unplaced[0].reasons[0]


# ---- the window ---------------------------------------------------------------------------


def test_a_run_longer_than_its_window_is_pruned_with_the_numbers() -> None:
    stage = training(hours=1200, deadline=730, models={"A100-80GB": 1.0, "H100": 2.0})
    plan = solve(portfolio([workload("w", [stage])], settings={"period_hours": 2190}))
    (p,) = plan.placements
    assert p.gpu_model == "H100" and p.hours == Decimal("600.000000")  # 600 h fits 730 h
    late = _plan(training(hours=1200, deadline=730), [small_catalog()],
                 settings={"period_hours": 2190})
    (u,) = late.unplaced
    assert (
        "3 options pruned by calendar.window, e.g. workloads[0].stages[0]: runs 1,200 h on "
        "A100-80GB; its window is 730 h (start 0 → deadline 730) — move the deadline or "
        "earliest_start, allow a faster GPU, or make the deadline soft "
        "(late_penalty_usd_per_hour above 0; 0 keeps it hard)") in u.reasons


def test_a_zero_late_penalty_keeps_the_deadline_hard_and_the_hint_says_so() -> None:
    # late_penalty_usd_per_hour: 0 is a hard deadline (no hour late is priced): the run
    # is pruned, and the hint does not ask for the field the stage already has.
    zero = _plan(training(hours=1200, deadline=730, late_penalty_usd_per_hour=0),
                 [small_catalog()], settings={"period_hours": 2190})
    (u,) = zero.unplaced
    assert any("late_penalty_usd_per_hour above 0; 0 keeps it hard" in r for r in u.reasons)


def test_the_window_starts_at_the_release_and_rounds_the_run_up() -> None:
    stage = training(hours=100.5, earliest_start=10, deadline=110)
    plan = _plan(stage, [small_catalog()])
    assert any("runs 101 h (100.5 h rounded up) on A100-80GB; its window is 100 h (start 10 "
               "→ deadline 110)" in r for r in plan.unplaced[0].reasons)
    assert solve(portfolio([workload("w", [training(hours=100, earliest_start=10,
                                                    deadline=110)])])).feasible
    # a window of 100.5 h fits a 100.5 h run exactly, but not in whole hours: say so
    inward = _plan(training(hours=100.5, deadline=100.5), [small_catalog()])
    assert any("its window is 100 h (start 0 → deadline 100, 0 → 100.5 rounded inward to "
               "whole hours, in which the planner schedules)" in r
               for r in inward.unplaced[0].reasons)


def test_a_soft_deadline_keeps_the_run_up_to_the_horizon_end() -> None:
    soft = training(hours=1000, deadline=730, late_penalty_usd_per_hour=5)
    plan = solve(portfolio([workload("w", [soft])], settings={"period_hours": 2190}))
    assert plan.feasible and "calendar.window" not in plan.pruned
    too_long = _plan(dict(soft, hours=3000), [small_catalog()], settings={"period_hours": 2190})
    assert any("its window is 2,190 h (start 0 → horizon end 2,190) — start it earlier"
               in r for r in too_long.unplaced[0].reasons)


def test_without_dates_a_run_must_fit_the_horizon() -> None:
    plan = _plan(training(hours=800), [small_catalog()])  # period: 730 h
    assert plan.pruned.get("calendar.window") == 3
    assert "horizon end 730" in plan.unplaced[0].reasons[0]


def test_inference_is_not_subject_to_the_window() -> None:
    """Inference serves from its go-live to the horizon end: no run to fit in a window."""
    stage = {"kind": "inference", "vcpus": 8, "memory_gib": 32, "hours": 730,
             "deadline": 700}
    plan = solve(portfolio([workload("w", [stage])]), [_cpu_catalog()])
    assert "calendar.window" not in plan.pruned
    assert plan.placements[0].start == 700 and plan.placements[0].end == 730


def test_inference_serving_more_than_the_horizon_is_an_input_error() -> None:
    stage = {"kind": "inference", "vcpus": 8, "memory_gib": 32, "hours": 5000}
    with pytest.raises(ValidationError, match="serves at most the horizon"):
        Portfolio.model_validate(portfolio([workload("w", [stage])]))


# ---- the verifier ---------------------------------------------------------------------------


def _tampered(stage: dict[str, Any], **change: Any) -> list[str]:
    p = portfolio([workload("w", [stage])])
    cats = [_cpu_catalog()]
    plan = solve(p, cats)
    data = plan.model_dump(mode="json")
    data["placements"][0].update(change)
    bad = Plan.model_validate(data)
    return [v.rule for v in verify(p, build_world(p, cats, now=NOW), bad)]


def test_verifier_rejects_instances_other_than_replicas_times_nodes() -> None:
    assert "hardware.gang" in _tampered(_cpu(nodes=8), instances=4)


def test_verifier_rejects_a_gang_the_stage_does_not_declare() -> None:
    # 16 nodes of m6i.xlarge fit, but the stage says 8 (cost rewritten: only the gang is off).
    rules = _tampered(_cpu(nodes=8), nodes_per_replica=16, instances=16)
    assert "hardware.gang" in rules
    assert "hardware.gang" in _tampered(_cpu(max_nodes=4), nodes_per_replica=8, instances=8)
    assert "hardware.gang" in _tampered(_cpu(), nodes_per_replica=2, instances=2)


def test_verifier_rejects_a_node_that_does_not_fit_one_instance() -> None:
    rules = _tampered(_cpu(nodes=8), nodes_per_replica=8, offer="d2s")
    assert "hardware.fit" in rules


# ---- property: every placed replica fits ------------------------------------------------


@st.composite
def gang_stages(draw: st.DrawFn) -> dict[str, Any]:
    stage: dict[str, Any] = {"kind": draw(st.sampled_from(["training", "inference"])),
                             "vcpus": draw(st.sampled_from([1, 3, 8, 20, 64])),
                             "memory_gib": draw(st.sampled_from(["1", "12.5", "64", "300"])),
                             "hours": 10, "replicas": draw(st.integers(1, 3))}
    if draw(st.booleans()):
        stage["gpu"] = {"models": {"A100-80GB": 1.0}, "count": draw(st.sampled_from([1, 3, 8,
                                                                                       12]))}
    gang = draw(st.sampled_from([None, "nodes", "max_nodes"]))
    if gang:
        stage[gang] = draw(st.integers(1, 6))
    return stage


GANG_CATALOG = catalog([
    row("us-east-1", "c.2", "0.1", vcpus=2, mem=8, country="US"),
    row("us-east-1", "c.16", "0.9", vcpus=16, mem=64, country="US"),
    row("us-east-1", "g.1", "3", gpu="A100-80GB", gpus=1, vcpus=12, mem=96, country="US"),
    row("us-east-1", "g.4", "13", gpu="A100-80GB", gpus=4, vcpus=48, mem=384, country="US"),
])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gang_stages())
def test_every_placed_replica_fits_its_nodes(stage: dict[str, Any]) -> None:
    plan = _plan(stage, [GANG_CATALOG])
    model = Stage.model_validate(stage)
    offers = {o["instance_type"]: o for o in GANG_CATALOG.catalog.model_dump()["rows"]}
    for p in plan.placements:
        n, offer = p.nodes_per_replica, offers[p.offer]
        assert p.instances == p.replicas * n
        assert n == model.nodes if model.nodes else 1 <= n <= (model.max_nodes or 1)
        gpus = -(-model.gpu.count // n) if model.gpu else 0
        assert gpus <= offer["gpu_count"]
        assert model.vcpus <= n * offer["vcpus"]
        assert model.memory_gib <= n * Decimal(str(offer["memory_gib"]))
    if not plan.feasible:
        assert plan.unplaced and any("hardware.fit" in r for r in plan.unplaced[0].reasons)


@pytest.mark.parametrize(("replicas", "nodes", "text"), [
    (1, 1, "1"), (3, 1, "3 (3 replicas)"), (1, 4, "4 (1 replica × 4 nodes)"),
    (2, 4, "8 (2 replicas × 4 nodes)"),
])
def test_the_instance_column_says_what_it_counts(replicas: int, nodes: int, text: str) -> None:
    (p,) = solve(portfolio([workload("w", [_cpu()])]), [_cpu_catalog()]).placements
    p = p.model_copy(update={"replicas": replicas, "nodes_per_replica": nodes,
                             "instances": replicas * nodes})
    assert instance_count(p) == text


def test_the_window_reads_dates_against_the_horizon_start() -> None:
    horizon = {"horizon": {"start": "2027-01-01"}, "period_hours": 2160}
    stage = training(hours=100, earliest_start="2027-01-10", deadline="2027-01-14")  # 96 h
    plan = _plan(stage, [small_catalog()], settings=horizon)
    assert any("runs 100 h on A100-80GB; its window is 96 h (start 216 → deadline 312)" in r
               for r in plan.unplaced[0].reasons)
    ok = dict(stage, deadline="2027-01-15")
    assert solve(portfolio([workload("w", [ok])], settings=horizon)).feasible
