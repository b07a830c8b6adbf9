"""Pipeline rules (issue: ML pipeline rules): each on a tiny instance where the rule
changes the optimum, checked by the independent verifier (``solve``) and against brute
force over the same problem."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bruteforce import brute_force
from builders import NOW, catalog, portfolio, row, small_catalog, solve, training, workload

from planner.catalog.load import LoadedCatalog
from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio
from planner.models.status import SolveStatus
from planner.money import MICRO


def checked(p: Portfolio, cats: list[LoadedCatalog] | None = None, **kw: Any) -> Plan:
    """Solve (verifier included) and compare the optimum with brute force."""
    cats = cats or [small_catalog()]
    plan = solve(p, cats, **kw)
    world = build_world(p, cats, now=NOW)
    problem = build_problem(generate(p, world), world)
    best = brute_force(problem)
    if best is None:
        assert plan.status is SolveStatus.INFEASIBLE
    else:
        assert plan.status is SolveStatus.OPTIMAL
        assert plan.solver.objective_usd == Decimal(best) / MICRO
    return plan


def sites(plan: Plan, wid: str, stage: str) -> list[str]:
    return sorted(p.site for p in plan.placements if (p.workload, p.stage) == (wid, stage))


def inference(**kw: Any) -> dict[str, Any]:
    base = {"kind": "inference", "vcpus": 8, "memory_gib": 32, "hours": 100}
    return {**base, **kw}


def eval_stage(**kw: Any) -> dict[str, Any]:
    base = {"kind": "testing", "vcpus": 8, "memory_gib": 32, "hours": 100}
    return {**base, **kw}


def with_model(w: dict[str, Any], size_gb: float, exportable: bool = False) -> dict[str, Any]:
    return {**w, "model": {"size_gb": size_gb, "exportable": exportable}}


# 1. data flow and egress along the pipeline ---------------------------------------------

def test_artifact_egress_keeps_inference_next_to_training() -> None:
    # Training can only run in Frankfurt (the only H100); CPU inference is 10 $ cheaper in
    # us-east-1 (0.40 vs 0.50 $/h × 100 h). A 1 GB model costs 0.02 $ to move there, a 1 TB
    # model 20 $: then inference stays in Frankfurt.
    rows = [r.model_dump(mode="json") for r in small_catalog().catalog.rows]
    cat = catalog([*rows, row("eu-central-1", "g.h100", "1", gpu="H100", gpus=8, vcpus=192,
                              mem=2048)])
    stages = [training(models={"H100": 1.0}), inference()]
    allowed = {"sites": ["aws:eu-central-1", "aws:us-east-1"]}

    def case(model_gb: float) -> Plan:
        w = with_model(workload("w", stages, home="aws:eu-central-1", **allowed), model_gb)
        return checked(portfolio([w]), [cat])

    small, big = case(1), case(1000)
    assert sites(small, "w", "training") == ["aws:eu-central-1"]
    assert sites(small, "w", "inference") == ["aws:us-east-1"]
    assert sites(big, "w", "inference") == ["aws:eu-central-1"]
    moved = next(p for p in small.placements if p.stage == "inference")
    assert moved.cost.egress_usd == Decimal("0.020000")
    assert any("model artifact" in why for why in moved.why)


def test_test_data_egress_counts_for_testing() -> None:
    w = workload("w", [eval_stage()], home="aws:eu-central-1")
    w["dataset"]["test_gb"] = 1000  # 20 $ to move within AWS; CPU saves only 10 $
    plan = checked(portfolio([w]))
    assert sites(plan, "w", "testing") == ["aws:eu-central-1"]
    w["dataset"]["test_gb"] = 100  # 2 $: moving is cheaper
    plan = checked(portfolio([w]))
    assert sites(plan, "w", "testing") == ["aws:us-east-1"]
    assert plan.placements[0].cost.egress_usd == Decimal("2.000000")


def test_inference_responses_pay_internet_egress() -> None:
    cat = catalog([row("us-east-1", "m.cpu", "0.40", vcpus=8, mem=32, country="US"),
                   row("eu-west-1", "m.cpu", "0.45", vcpus=8, mem=32, country="IE")])
    onprem = [{"id": "onprem:dc", "country": "US", "egress": {"internet_per_gb": "0.001"},
               "offers": [{"id": "cpu", "vcpus": 8, "memory_gib": 32, "nodes": 4,
                           "price_per_hour": "0.60"}]}]
    w = workload("w", [inference(response_gb=2000)], home="onprem:dc")
    plan = checked(portfolio([w], onprem=onprem), [cat])
    # Cloud: 40 $ compute + 2000 × 0.09 = 220 $; on-prem: 60 $ + 2 $.
    assert sites(plan, "w", "inference") == ["onprem:dc"]
    assert plan.placements[0].cost.egress_usd == Decimal("2.000000")


# 2. residency follows the data ----------------------------------------------------------

def test_inference_inherits_residency_unless_model_exportable() -> None:
    stages = [training(), inference()]
    locked = with_model(workload("w", stages, jurisdictions=["EU"]), 0)
    plan = checked(portfolio([locked]))
    assert sites(plan, "w", "inference") == ["aws:eu-west-1"]
    free = with_model(workload("w", stages, jurisdictions=["EU"]), 0, exportable=True)
    plan = checked(portfolio([free]))
    assert sites(plan, "w", "inference") == ["aws:us-east-1"]
    assert sites(plan, "w", "training") == ["aws:eu-west-1"]


# 3. co-location ---------------------------------------------------------------------------

def test_colocation_puts_testing_with_training() -> None:
    # Training is cheapest in eu-west-1 (EU); testing alone would go to eu-west-1 too —
    # so pin training to Frankfurt via sites and let testing roam.
    free = [training(), eval_stage()]
    together = [training(), eval_stage(colocate={"stage": "training", "level": "site"})]
    res = {"sites": ["aws:eu-central-1", "aws:us-east-1"]}
    h100 = catalog([*[r.model_dump(mode="json") for r in small_catalog().catalog.rows
                      if r.instance_type != "g.a100" or r.region == "eu-central-1"]])
    plan = checked(portfolio([workload("w", free, **res)]), [h100])
    assert sites(plan, "w", "training") == ["aws:eu-central-1"]
    assert sites(plan, "w", "testing") == ["aws:us-east-1"]
    plan = checked(portfolio([workload("w", together, **res)]), [h100])
    assert sites(plan, "w", "testing") == ["aws:eu-central-1"]
    assert any("co-located" in why for why in plan.placements[1].why)


def test_colocation_by_country() -> None:
    res = {"sites": ["aws:eu-central-1", "aws:us-east-1"]}
    cat = catalog([row("eu-central-1", "g.a100", "40", gpu="A100-80GB", gpus=8, vcpus=96,
                       mem=1024),
                   row("eu-central-1", "m.cpu", "0.50", country="DE", vcpus=8, mem=32),
                   row("us-east-1", "m.cpu", "0.40", country="US", vcpus=8, mem=32)])
    stages = [training(), eval_stage(colocate={"stage": "training", "level": "country"})]
    plan = checked(portfolio([workload("w", stages, **res)]), [cat])
    assert sites(plan, "w", "testing") == ["aws:eu-central-1"]


# 4. GPU substitution consumes capacity in the substituted GPU's hours ---------------------

def test_gpu_substitution_consumes_substituted_hours() -> None:
    onprem = [{"id": "onprem:dc", "country": "US", "offers": [
        {"id": "h100", "gpu_model": "H100", "gpu_count": 8, "vcpus": 128, "memory_gib": 1024,
         "nodes": 1, "price_per_hour": "10"}]}]
    # 1000 reference hours; one node gives 730 h. At H100 speed 2.0 it needs 500 h: fits.
    w = workload("w", [training(hours=1000, models={"H100": 2.0, "A100-80GB": 1.0})],
                 home="onprem:dc")
    plan = checked(portfolio([w], onprem=onprem))
    pl = plan.placements[0]
    assert pl.site == "onprem:dc" and pl.hours == Decimal("500.000000")
    use = next(r for r in plan.resources if r.resource == "offer:onprem:dc/h100")
    assert use.used_unit_hours == Decimal("500.000")


# 5. spot vs on-demand with a risk uplift --------------------------------------------------

def test_spot_risk_uplift_can_tip_the_choice() -> None:
    cat = catalog([row("us-east-1", "g.a100", "30", gpu="A100-80GB", gpus=8, vcpus=96,
                       mem=1024, spot="28", country="US")])
    w = workload("w", [training(spot=True)])
    low = checked(portfolio([w], settings={"spot_risk_uplift": "0.05"}), [cat])
    high = checked(portfolio([w], settings={"spot_risk_uplift": "0.10"}), [cat])
    assert low.placements[0].purchase.value == "spot"  # 28 × 1.05 = 29.4 < 30
    assert low.totals.spot_risk_usd == Decimal("14.000000")
    assert high.placements[0].purchase.value == "on_demand"  # 28 × 1.10 = 30.8 > 30


# 6. inference availability and latency ---------------------------------------------------

def test_replicas_spread_over_min_sites() -> None:
    one = checked(portfolio([workload("w", [inference(replicas=3, split=True)])]))
    assert sites(one, "w", "inference") == ["aws:us-east-1"]
    two = checked(portfolio([workload("w", [inference(replicas=3, min_sites=2)])]))
    assert sites(two, "w", "inference") == ["aws:eu-west-1", "aws:us-east-1"]
    assert sum(p.replicas for p in two.placements) == 3
    by_site = {p.site: p.replicas for p in two.placements}
    assert by_site == {"aws:us-east-1": 2, "aws:eu-west-1": 1}


def test_latency_slo_keeps_inference_near_users() -> None:
    # Frankfurt users: aws:eu-central-1 ~5 ms, Dublin ~20 ms, Virginia ~95 ms (estimates).
    near = inference(latency={"max_ms": 15, "users": ["eu-central"]})
    plan = checked(portfolio([workload("w", [near])]))
    assert sites(plan, "w", "inference") == ["aws:eu-central-1"]
    assert plan.pruned["inference.latency"] >= 2
    far = inference(latency={"max_ms": 200, "users": ["eu-central"]})
    plan = checked(portfolio([workload("w", [far])]))
    assert sites(plan, "w", "inference") == ["aws:us-east-1"]


def test_measured_latency_overrides_estimate() -> None:
    near = inference(latency={"max_ms": 30, "users": ["eu-central"]})
    settings = {"latency_ms": {"aws:us-east-1": {"eu-central": 25}}}
    plan = checked(portfolio([workload("w", [near])], settings=settings))
    assert sites(plan, "w", "inference") == ["aws:us-east-1"]


# 7. budgets, concentration, preferences, exclusions ---------------------------------------

def test_team_budget_overrides_preference() -> None:
    w = workload("w", [training()])
    w["placement"] = {"prefer_sites": ["aws:eu-west-1"]}
    settings = {"preference_weight": "0.5"}
    plan = checked(portfolio([w], settings=settings))
    assert sites(plan, "w", "training") == ["aws:eu-west-1"]  # 360 < 300 × 1.5
    capped = {**settings, "team_budgets": {"t": "350"}}
    plan = checked(portfolio([w], settings=capped))
    assert sites(plan, "w", "training") == ["aws:us-east-1"]


def test_budget_too_small_is_diagnosed() -> None:
    plan = checked(portfolio([workload("w", [training()])], settings={"budget_usd": "100"}))
    assert plan.status is SolveStatus.INFEASIBLE
    assert [c.rule for c in plan.conflicts] == ["budget:total"]


def test_provider_share_cap_spreads_spend() -> None:
    aws = catalog([row("us-east-1", "m.cpu", "0.40", vcpus=8, mem=32, country="US")])
    azure = catalog([row("eastus", "D8", "0.45", vcpus=8, mem=32, country="US",
                         provider="azure")], provider="azure")
    ws = [workload("a", [inference()]), workload("b", [inference()])]
    cloud = {"providers": ["aws", "azure"]}
    plan = checked(portfolio(ws, cloud=cloud), [aws, azure])
    assert {p.provider for p in plan.placements} == {"aws"}
    plan = checked(portfolio(ws, cloud=cloud, settings={"max_provider_share": "0.6"}),
                   [aws, azure])
    assert sorted(p.provider for p in plan.placements) == ["aws", "azure"]


def test_excluded_provider_is_pruned() -> None:
    w = workload("w", [training()])
    w["placement"] = {"exclude_sites": ["aws:us-east-1"]}
    plan = checked(portfolio([w]))
    assert sites(plan, "w", "training") == ["aws:eu-west-1"]
    assert plan.pruned["placement.excluded"] >= 1


# 8. explanations --------------------------------------------------------------------------

def test_why_here_names_the_cheaper_rejected_option() -> None:
    plan = checked(portfolio([workload("w", [training()], jurisdictions=["EU"])]))
    pl = plan.placements[0]
    assert pl.cheaper_rejected is not None
    assert pl.cheaper_rejected.site == "aws:us-east-1"
    assert pl.cheaper_rejected.rule == "residency.jurisdictions"
    assert pl.cheaper_rejected.delta_usd == Decimal("-60.000000")
    assert pl.runner_up is not None and pl.runner_up.site == "aws:eu-central-1"


def test_capacity_blocked_runner_up_is_explained() -> None:
    quota = {"providers": ["aws"], "quotas": [
        {"site": "aws:us-east-1", "gpu_model": "A100-80GB", "gpus": 8}]}
    p = portfolio([workload("a", [training(hours=500)]), workload("b", [training(hours=400)])],
                  cloud=quota)
    plan = checked(p)
    displaced = next(pl for pl in plan.placements if pl.site != "aws:us-east-1")
    assert displaced.runner_up is not None
    assert displaced.runner_up.rule == "capacity:gpu:aws:us-east-1/A100-80GB"
    assert displaced.runner_up.why_not.endswith(
        "breaks capacity: aws:us-east-1 has 8 A100-80GB GPUs at once "
        "(5,840 GPU-hours per period)")
