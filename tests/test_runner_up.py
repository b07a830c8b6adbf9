"""Runner-up explanations name the rule that blocks them, and their numbers agree.

Each case is a tiny portfolio where the cheaper runner-up is kept out by one thing: a
capacity, a budget, a co-location rule, or only the pipeline egress (a cost, not a rule).
Every plan goes through the independent verifier (``builders.solve``). The blocker check
itself is tested on array problems in test_blockers.py.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import numpy as np
from builders import NOW, catalog, portfolio, row, small_catalog, solve, training, workload
from example_plans import plan_json

from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.explain import runner_up
from planner.models.plan import Placement, Plan
from planner.models.status import SolveStatus
from planner.plans.build import build_plan
from planner.solvers.base import Solution, SolveOptions
from planner.verify.check import verify


def stage(plan: Plan, wid: str, label: str) -> Placement:
    return next(p for p in plan.placements if (p.workload, p.stage) == (wid, label))


def eval_stage(**kw: Any) -> dict[str, Any]:
    return {"kind": "testing", "vcpus": 8, "memory_gib": 32, "hours": 100, **kw}


def inference(**kw: Any) -> dict[str, Any]:
    return {"kind": "inference", "vcpus": 8, "memory_gib": 32, "hours": 100, **kw}


def why_delta(p: Placement) -> Decimal | None:
    """The signed dollar amount of the ``why`` line that compares with the runner-up."""
    first = p.why[0]
    m = re.search(r"change the plan's cost by ([+-])\$([\d,]+\.\d\d)", first)
    if m is None:
        return None
    return Decimal(m.group(1) + m.group(2).replace(",", ""))


def assert_why_agrees_with_runner_up(plan: Plan) -> None:
    for p in plan.placements:
        said = why_delta(p)
        if said is None:
            continue
        assert p.runner_up is not None
        assert said == p.runner_up.delta_usd.quantize(Decimal("0.01")), p.why[0]


# the hospital example ------------------------------------------------------------------

def test_hospital_testing_runner_up_is_blocked_by_colocation() -> None:
    plan = Plan.model_validate_json(plan_json("hospital-group"))
    assert plan.status is SolveStatus.OPTIMAL
    p = stage(plan, "sepsis-eu", "testing")
    ru = p.runner_up
    assert ru is not None and (ru.site, ru.offer) == ("aws:eu-north-1", "g6.xlarge")
    assert ru.rule == "colocation:sepsis-eu/testing"
    assert "co-location: sepsis-eu/testing must run at the same country as training" in (
        ru.why_not)
    # By hand (catalogs/aws.json on-demand prices, 24 h, 4 GB model from Berlin at
    # $0.01/GB, the 120 GB test data at $0.01/GB the same either way): the runner-up costs
    # 0.8536 × 24 + 1.20 = 21.6864 per unit; with the artifact egress 21.7264, against the
    # chosen 1.0064 × 24 + 1.20 + 0.04 = 25.3936.
    assert ru.total_usd == Decimal("21.6864")
    assert ru.delta_usd == Decimal("21.7264") - Decimal("25.3936")
    assert why_delta(p) == Decimal("-3.67")
    assert "at the optimum" in p.why[0]
    assert_why_agrees_with_runner_up(plan)


def test_hospital_inference_runner_up_loses_only_on_artifact_egress() -> None:
    plan = Plan.model_validate_json(plan_json("hospital-group"))
    p = stage(plan, "sepsis-us", "inference")
    ru = p.runner_up
    assert ru is not None and ru.site == "azure:eastus" and ru.rule is None
    assert "allowed by every rule, but it loses on total cost" in ru.why_not
    assert ru.delta_usd > 0 and f"${ru.delta_usd:.2f} more" in ru.why_not


def test_example_plans_say_optimum_only_when_optimal() -> None:
    for name in ("hospital-group", "carmaker"):
        plan = Plan.model_validate_json(plan_json(name))
        text = json.dumps([[*p.why, p.runner_up.why_not if p.runner_up else ""]
                           for p in plan.placements])
        if plan.status is not SolveStatus.OPTIMAL:
            assert "optimum" not in text
        assert "blocked at the optimum" not in text
        assert_why_agrees_with_runner_up(plan)


# tiny portfolios: one blocker each ------------------------------------------------------

def test_runner_up_blocked_by_capacity() -> None:
    # 8 A100 GPUs in us-east-1 ($30/h) fit one of the two trainings: a (500 h) saves more
    # there than b (400 h) would. b's runner-up, us-east-1, is 400 × (30 − 36) = −2,400 $.
    quota = {"providers": ["aws"], "quotas": [
        {"site": "aws:us-east-1", "gpu_model": "A100-80GB", "gpus": 8}]}
    plan = solve(portfolio([workload("a", [training(hours=500)]),
                            workload("b", [training(hours=400)])], cloud=quota))
    b = stage(plan, "b", "training")
    assert b.site == "aws:eu-west-1" and b.runner_up is not None
    assert b.runner_up.site == "aws:us-east-1"
    assert b.runner_up.rule == "capacity:gpu:aws:us-east-1/A100-80GB"
    assert "breaks capacity: aws:us-east-1 has 8 A100-80GB GPUs" in b.runner_up.why_not
    assert b.runner_up.delta_usd == Decimal(400 * (30 - 36))
    assert why_delta(b) == Decimal("-2400.00")
    assert next(r for r in plan.resources if r.resource.startswith("gpu:")).binding


def test_runner_up_blocked_by_budget() -> None:
    # eu-west-1 is preferred (surcharge 50 % elsewhere): 360 $ < 300 × 1.5 in the objective,
    # but the team may spend 350 $: the plan takes us-east-1 at 300 $.
    w = workload("w", [training()])
    w["placement"] = {"prefer_sites": ["aws:eu-west-1"]}
    settings_ = {"preference_weight": "0.5", "team_budgets": {"t": "350"}}
    plan = solve(portfolio([w], settings=settings_))
    p = stage(plan, "w", "training")
    assert p.site == "aws:us-east-1" and p.runner_up is not None
    assert p.runner_up.site == "aws:eu-west-1"
    assert p.runner_up.rule == "budget:team:t"
    assert "breaks budget: spend of team t at most $350.00 per period" in p.runner_up.why_not
    assert "after the spot-risk uplift and the preference surcharge" in p.runner_up.why_not
    assert p.runner_up.delta_usd == Decimal(10 * (36 - 30))


def test_runner_up_blocked_by_colocation() -> None:
    # Training can only run in Frankfurt; testing is 10 $ cheaper in us-east-1
    # (0.40 vs 0.50 $/h × 100 h) but must stay in training's country.
    p = stage(colocation_case(), "w", "testing")
    assert p.site == "aws:eu-central-1" and p.runner_up is not None
    assert p.runner_up.site == "aws:us-east-1"
    assert p.runner_up.rule == "colocation:w/testing"
    assert p.runner_up.why_not == (
        "cheaper per unit, but with the rest of the plan unchanged it breaks co-location: "
        "w/testing must run at the same country as training")
    assert p.runner_up.delta_usd == Decimal("-10")
    assert why_delta(p) == Decimal("-10.00")


def egress_case(model_gb: float) -> tuple[Any, list[Any]]:
    # Training can only run in Frankfurt (the only H100); CPU inference is 10 $ cheaper per
    # unit in us-east-1 (0.40 vs 0.50 $/h × 100 h); moving the model costs 0.02 $/GB.
    rows = [r.model_dump(mode="json") for r in small_catalog().catalog.rows]
    cat = catalog([*rows, row("eu-central-1", "g.h100", "1", gpu="H100", gpus=8, vcpus=192,
                              mem=2048)])
    w = workload("w", [training(models={"H100": 1.0}), inference()], home="aws:eu-central-1",
                 sites=["aws:eu-central-1", "aws:us-east-1"])
    w["model"] = {"size_gb": model_gb}
    return portfolio([w]), [cat]


def test_runner_up_loses_only_on_pipeline_egress() -> None:
    plan = solve(*egress_case(1000))  # 1,000 GB × 0.02 $ = 20 $ > 10 $
    p = stage(plan, "w", "inference")
    assert p.site == "aws:eu-central-1" and p.runner_up is not None
    assert p.runner_up.site == "aws:us-east-1" and p.runner_up.rule is None
    assert p.runner_up.delta_usd == Decimal(20 - 10)
    assert p.runner_up.why_not == (
        "cheaper per unit and allowed by every rule, but it loses on total cost: with "
        "pipeline egress (model artifact moves) the plan would cost $10.00 more")
    assert why_delta(p) == Decimal("10.00")


# status wording -------------------------------------------------------------------------

def plan_from(x_site: str, status: SolveStatus, bound_share: float) -> Plan:
    """The egress case (1 GB model: inference belongs in us-east-1) with inference forced
    to ``x_site`` and the solver status and bound given: a plan that is not proven optimal."""
    p, cats = egress_case(1)
    world = build_world(p, cats, now=NOW)
    cands = generate(p, world)
    problem = build_problem(cands, world)
    x = np.zeros(problem.n_options, dtype=np.int64)
    for s in range(problem.n_stages):
        opts = list(problem.options_of(s))
        pick = next(o for o in opts if cands.options[o].site_id ==
                    (x_site if s == 1 else "aws:eu-central-1")
                    and cands.options[o].purchase.value == "on_demand")
        x[pick] = 1
    objective = problem.objective(x)
    sol = Solution("test", status, x, objective, round(objective * bound_share), 0.0)
    plan = build_plan(p, world, cands, problem, sol, SolveOptions(), reproducible=True)
    assert verify(p, world, plan, allow_untimed=True) == []
    return plan


def test_feasible_plan_is_not_called_optimal() -> None:
    plan = plan_from("aws:eu-central-1", SolveStatus.FEASIBLE, 0.9)
    p = stage(plan, "w", "inference")
    assert p.why[0].startswith("chosen in this plan (not proven optimal; gap 10.00 %) over "
                               "the cheaper-per-unit aws:us-east-1/m.cpu")
    assert p.runner_up is not None and p.runner_up.delta_usd == Decimal("-9.98")
    assert p.runner_up.why_not == (
        "cheaper per unit and allowed by every rule: it would lower the plan's cost by "
        "$9.98; the solver did not find this improvement (not proven optimal; gap 10.00 %)")
    assert_why_agrees_with_runner_up(plan)


def test_optimal_plan_says_at_the_optimum() -> None:
    plan = solve(*egress_case(1000))
    assert plan.status is SolveStatus.OPTIMAL
    assert stage(plan, "w", "inference").why[0].startswith("chosen at the optimum over")


def colocation_case() -> Plan:
    """Training only in Frankfurt; testing cheaper in us-east-1 but co-located by country."""
    res = {"sites": ["aws:eu-central-1", "aws:us-east-1"]}
    cat = catalog([row("eu-central-1", "g.a100", "40", gpu="A100-80GB", gpus=8, vcpus=96,
                       mem=1024),
                   row("eu-central-1", "m.cpu", "0.50", country="DE", vcpus=8, mem=32),
                   row("us-east-1", "m.cpu", "0.40", country="US", vcpus=8, mem=32)])
    stages = [training(), eval_stage(colocate={"stage": "training", "level": "country"})]
    return solve(portfolio([workload("w", stages, **res)]), [cat])


def test_large_portfolios_are_not_analysed(monkeypatch: Any) -> None:
    monkeypatch.setattr(runner_up, "ANALYSE_MAX_STAGES", 1)
    ru = stage(colocation_case(), "w", "testing").runner_up
    assert ru is not None and ru.rule is None
    assert ru.why_not == ("cheaper per unit, but blocked by capacity or side constraints "
                          "(not analysed for large portfolios)")
    assert ru.delta_usd == Decimal("-10")


def test_spent_budget_says_so(monkeypatch: Any) -> None:
    monkeypatch.setattr(runner_up, "PLAN_BUDGET_S", 0.0)
    ru = stage(colocation_case(), "w", "testing").runner_up
    assert ru is not None and ru.rule is None
    assert "not analysed (the explanation time budget is spent)" in ru.why_not


def test_move_names_the_rule_that_keeps_the_stage_from_staying() -> None:
    # b trained in us-east-1 before; now a (500 h) needs the same 8 GPUs and saves more
    # there, so b moves to eu-west-1 although its previous option is still the cheapest.
    before = solve(portfolio([workload("b", [training(hours=400)])]))
    assert stage(before, "b", "training").site == "aws:us-east-1"
    quota = {"providers": ["aws"], "quotas": [
        {"site": "aws:us-east-1", "gpu_model": "A100-80GB", "gpus": 8}]}
    now = portfolio([workload("a", [training(hours=500)]),
                     workload("b", [training(hours=400)])], cloud=quota)
    plan = solve(now, previous=before)
    (move,) = plan.moves
    assert (move.workload, move.now) == ("b", ["aws:eu-west-1/g.a100"])
    assert move.why == ("staying, with the rest of the plan unchanged, would break capacity: "
                        "aws:us-east-1 has 8 A100-80GB GPUs at once (5,840 GPU-hours per period)")


def _slow_cheap_training(**deadline: Any) -> Plan:
    """Training on A100 ($30/h, 100 h) is cheaper than on H100 ($60/h, 1.5× faster: 66.7
    h), but testing (10 h, after it) has a deadline at hour 80."""
    test = {"kind": "testing", "vcpus": 8, "memory_gib": 32, "hours": 10, "deadline": 80,
            **deadline}
    w = workload("f", [training(hours=100, models={"H100": 1.5, "A100-80GB": 1.0}), test],
                 sites=["aws:us-east-1"])
    return solve(portfolio([w], settings={"period_hours": 730}))


def test_runner_up_blocked_by_a_successors_soft_deadline_names_its_late_penalty() -> None:
    """The swap check moves one stage: the cheaper option ends after the successor starts.
    The reason named only "f/testing starts"; the reviewer could not see that starting
    testing later is what costs: 30 h late × $100 = $3,000 against the $1,000 saved."""
    plan = _slow_cheap_training(late_penalty_usd_per_hour=100)
    t, test = stage(plan, "f", "training"), stage(plan, "f", "testing")
    assert t.offer == "g.h100" and test.late_hours == 0 and t.runner_up is not None
    assert t.runner_up.offer == "g.a100" and t.runner_up.rule == "precedence"
    assert t.runner_up.delta_usd == Decimal(-1000)
    text = t.runner_up.why_not
    assert "between hour 0 (its earliest start) and hour 67 (f/testing starts)" in text
    assert "moves one stage only" in text
    # A100 ends at 100; testing, 10 h, then ends at 110: 30 h past hour 80, at $100 per hour
    assert test.start is not None and test.end is not None
    assert (test.start, test.end) == (67, 77)
    assert ("f/testing (now hour 67–77, deadline hour 80) would have to start 33 h later, "
            "at hour 100, and end 30 h past its soft deadline: $3,000.00 in late penalty "
            "($100.00 per hour)") in text, text


def test_runner_up_blocked_by_a_successors_hard_deadline_says_so() -> None:
    plan = _slow_cheap_training()
    t = stage(plan, "f", "training")
    assert t.runner_up is not None and t.runner_up.rule == "precedence"
    assert "f/testing (now hour 67–77, deadline hour 80) would have to start 33 h later, " \
           "at hour 100, and end 30 h past its hard deadline" in t.runner_up.why_not
