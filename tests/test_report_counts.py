"""The report counts stages, not placement rows (an inference stage split over two sites
is one stage with two rows)."""

from __future__ import annotations

import re

from example_plans import EXAMPLES, plan_json

from planner import api
from planner.models.plan import Plan
from planner.report import render_html
from planner.report.explain import by_workload, stages_placed


def _card(html: str, title: str) -> str:
    match = re.search(rf"{title}</[^>]+>\s*<[^>]+>([^<]+)<", html)
    assert match, f"no {title!r} card"
    return match.group(1).strip()


def test_hospital_group_has_split_stages() -> None:
    """The fixture of the tests below: more placement rows than stages."""
    plan = Plan.model_validate_json(plan_json("hospital-group"))
    assert len(plan.placements) > stages_placed(plan)


def test_stages_placed_card_counts_every_stage_once() -> None:
    for name in ("hospital-group", "carmaker"):
        plan = Plan.model_validate_json(plan_json(name))
        portfolio = api.load_portfolio(EXAMPLES[name])
        stages = sum(len(w.stages) for w in portfolio.workloads)
        html = render_html(plan, portfolio)
        assert _card(html, "Stages placed") == str(stages)
        if len(plan.placements) != stages:
            assert f"{len(plan.placements)} placement rows" in html


def test_workload_table_counts_stages_not_rows() -> None:
    plan = Plan.model_validate_json(plan_json("hospital-group"))
    portfolio = api.load_portfolio(EXAMPLES["hospital-group"])
    expected = {w.id: len(w.stages) for w in portfolio.workloads}
    assert {w.workload: w.stages for w in by_workload(plan)} == expected
