"""One test per business rule, each on a tiny hand-built instance where the rule
changes the answer. Every plan goes through the independent verifier (``solve``)."""

from __future__ import annotations

from decimal import Decimal

from builders import catalog, portfolio, row, small_catalog, solve, training, workload

from planner.models.status import SolveStatus


def site_of(plan, wid="w", stage="training"):  # type: ignore[no-untyped-def]
    return next(p.site for p in plan.placements if p.workload == wid and p.stage == stage)


def test_cheapest_site_wins_without_rules() -> None:
    plan = solve(portfolio([workload("w", [training()])]))
    assert site_of(plan) == "aws:us-east-1"
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.totals.total_usd == Decimal("300.000000")  # 1 × $30 × 10 h


def test_residency_jurisdiction_keeps_data_in_eu() -> None:
    plan = solve(portfolio([workload("w", [training()], jurisdictions=["EU"])]))
    assert site_of(plan) == "aws:eu-west-1"


def test_residency_country_pins_germany() -> None:
    plan = solve(portfolio([workload("w", [training()], countries=["DE"])]))
    assert site_of(plan) == "aws:eu-central-1"


def test_residency_sites_allow_list() -> None:
    plan = solve(portfolio([workload("w", [training()], sites=["aws:eu-central-1"])]))
    assert site_of(plan) == "aws:eu-central-1"


def test_certification_required() -> None:
    p = portfolio([workload("w", [training()], certifications=["c5"])])
    plan = solve(p)
    assert site_of(plan) == "aws:eu-central-1"  # the region table gives Frankfurt C5


def test_gpu_model_must_be_accepted() -> None:
    plan = solve(portfolio([workload("w", [training(models={"H100": 1.0})])]))
    assert next(p.offer for p in plan.placements) == "g.h100"


def test_gpu_speed_scales_hours_and_cost() -> None:
    # H100 at 2.5× speed: 60 $/h × 4 h = 240 < A100 30 $/h × 10 h = 300.
    plan = solve(portfolio([workload("w", [training(models={"H100": 2.5, "A100-80GB": 1.0})])]))
    pl = plan.placements[0]
    assert pl.offer == "g.h100" and pl.hours == Decimal("4.000000")
    assert plan.totals.total_usd == Decimal("240.000000")


def test_cpu_only_stage_never_on_gpu_offer() -> None:
    stage = {"kind": "training", "vcpus": 16, "memory_gib": 64, "hours": 5, "nodes": 2}
    plan = solve(portfolio([workload("w", [stage])]))
    pl = plan.placements[0]
    assert pl.offer == "m.cpu" and pl.instances == 2  # a gang of 2 × 8-vCPU instances


def test_restricted_offer_is_pruned() -> None:
    cat = catalog([
        row("us-east-1", "g.a100", "30", gpu="A100-80GB", gpus=8, vcpus=96, mem=1024,
            country="US", restricted=True),
        row("us-west-2", "g.a100", "33", gpu="A100-80GB", gpus=8, vcpus=96, mem=1024,
            country="US"),
    ])
    plan = solve(portfolio([workload("w", [training()], home="aws:us-west-2")]), [cat])
    assert site_of(plan) == "aws:us-west-2"
    assert plan.pruned["hardware.restricted"] == 1


def test_spot_only_when_allowed() -> None:
    no = solve(portfolio([workload("w", [training()])]))
    yes = solve(portfolio([workload("w", [training(spot=True)])]))
    assert no.placements[0].purchase.value == "on_demand"
    assert yes.placements[0].purchase.value == "spot"
    assert yes.totals.total_usd == Decimal("100.000000")


def test_dataset_egress_pulls_training_home() -> None:
    # 6 TB in Frankfurt: moving it to another AWS region costs 6000 × 0.02 = 120 $, more than
    # the 100 $ saved by training in us-east-1 (300 $) instead of at home (400 $).
    w = workload("w", [training()], home="aws:eu-central-1", size_gb=6000)
    plan = solve(portfolio([w]))
    pl = plan.placements[0]
    assert pl.site == "aws:eu-central-1" and pl.cost.egress_usd == 0
    # At 4 TB the move costs 80 $ and us-east-1 wins, paying the egress.
    w = workload("w", [training()], home="aws:eu-central-1", size_gb=4000)
    plan = solve(portfolio([w]))
    pl = plan.placements[0]
    assert pl.site == "aws:us-east-1"
    assert pl.cost.egress_usd == Decimal("80.000000")
    assert plan.totals.egress_usd == Decimal("80.000000")


def test_gpu_quota_capacity_forces_second_site() -> None:
    quota = {"providers": ["aws"], "quotas": [
        {"site": "aws:us-east-1", "gpu_model": "A100-80GB", "gpus": 8}]}
    # Each training needs 8 GPUs for 500 h; the quota gives 8 × 730 GPU-hours: one fits.
    p = portfolio([workload("a", [training(hours=500)]), workload("b", [training(hours=500)])],
                  cloud=quota)
    plan = solve(p)
    sites = sorted(pl.site for pl in plan.placements)
    assert sites == ["aws:eu-west-1", "aws:us-east-1"]
    binding = [r for r in plan.resources if r.binding]
    assert [r.resource for r in binding] == ["gpu:aws:us-east-1/A100-80GB"]


def test_concurrency_prunes_stage_larger_than_site() -> None:
    quota = {"providers": ["aws"], "quotas": [
        {"site": "aws:us-east-1", "gpu_model": "A100-80GB", "gpus": 8}]}
    plan = solve(portfolio([workload("w", [training(gpus=16, nodes=2)])], cloud=quota))
    assert site_of(plan) == "aws:eu-west-1"
    assert plan.pruned["capacity.concurrency"] == 1


def test_onprem_owned_capacity_and_amortized_price() -> None:
    onprem = [{"id": "onprem:dc", "country": "DE", "offers": [{
        "id": "dgx", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 128,
        "memory_gib": 1024, "nodes": 1,
        "amortization": {"capex_usd": "262800", "lifetime_years": 5, "power_kw": 10,
                         "usd_per_kwh": "0.2"}}]}]
    # 262800 / (5 × 8760) = 6 $/h + 10 kW × 0.2 = 8 $/h: cheaper than any cloud option.
    p = portfolio([workload("a", [training(hours=700)], home="onprem:dc"),
                   workload("b", [training(hours=700)], home="onprem:dc")], onprem=onprem)
    plan = solve(p)
    places = {pl.workload: pl for pl in plan.placements}
    onprem_ones = [pl for pl in places.values() if pl.site == "onprem:dc"]
    assert len(onprem_ones) == 1  # 1 node × 730 h holds one 700-h training
    assert onprem_ones[0].purchase.value == "owned"
    assert onprem_ones[0].cost.compute_usd == Decimal("5600.000000")


def test_no_option_reports_infeasible_with_reasons() -> None:
    plan = solve(portfolio([workload("w", [training()], countries=["FR"])]))
    assert plan.status is SolveStatus.INFEASIBLE
    assert plan.placements == []
    assert plan.unplaced[0].workload == "w"
    assert any("residency.countries" in r for r in plan.unplaced[0].reasons)


def test_capacity_conflict_reports_infeasible() -> None:
    cat = catalog([row("us-east-1", "g.a100", "30", gpu="A100-80GB", gpus=8, vcpus=96,
                       mem=1024, country="US")])
    quota = {"providers": ["aws"], "quotas": [
        {"site": "aws:us-east-1", "gpu_model": "A100-80GB", "gpus": 8}]}
    p = portfolio([workload("a", [training(hours=500)]), workload("b", [training(hours=500)])],
                  cloud=quota)
    plan = solve(p, [cat], all_or_nothing=True)
    assert plan.status is SolveStatus.INFEASIBLE
    assert plan.conflicts
    # without --all-or-nothing: one of them is planned, the other dropped with the
    # capacity it lost and what forcing it in would change
    plan = solve(p, [cat])
    assert plan.status is SolveStatus.PARTIAL
    (placed,) = {q.workload for q in plan.placements}
    (d,) = plan.dropped
    assert {placed, d.workload} == {"a", "b"}
    assert d.add_drops == [placed] and d.add_cost_usd == 0
    assert any(c.rule.startswith("capacity:") for c in d.conflicts)


def test_greedy_backend_gives_verified_plan() -> None:
    p = portfolio([workload("w", [training()], jurisdictions=["EU"])])
    plan = solve(p, solver="greedy")
    assert plan.solver.backend == "greedy" and site_of(plan) == "aws:eu-west-1"


def test_runner_up_explains_the_alternative() -> None:
    plan = solve(portfolio([workload("w", [training()], jurisdictions=["EU"])]))
    ru = plan.placements[0].runner_up
    assert ru is not None and ru.site == "aws:eu-central-1"
    assert ru.delta_usd == Decimal("40.000000") and "more" in ru.why_not


def test_small_catalog_is_valid() -> None:
    assert len(small_catalog().catalog.rows) == 7
