"""Plans of the example portfolios, computed once per test session.

The JSON is byte-stable: planned with --reproducible at a fixed "now" (so catalog-age
warnings do not change with the calendar), with catalog paths relative to the repo.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import yaml

from planner import api
from planner.inputs.files import validate_as
from planner.models.portfolio import Portfolio

REPO = Path(__file__).resolve().parent.parent


def _is_portfolio(path: Path) -> bool:
    data = yaml.safe_load(path.read_text("utf-8"))
    return isinstance(data, dict) and "workloads" in data


# Every example portfolio (other example files, e.g. what-if scenarios, are left out).
EXAMPLES = {p.stem: p for p in sorted((REPO / "examples").glob("*.yaml")) if _is_portfolio(p)}
CATALOGS = REPO / "catalogs"
NOW = datetime(2026, 12, 1, tzinfo=UTC)  # shortly after the bundled catalogs were read

INFEASIBLE = """
name: tiny-lab
description: H100 training on a lab that has only an L4 box
onprem:
  - id: onprem:lab
    country: DE
    offers:
      - {id: l4-box, gpu_model: L4, gpu_count: 1, vcpus: 16, memory_gib: 64, nodes: 1,
         price_per_hour: 1.0}
workloads:
  - id: vision-model
    team: research
    dataset: {size_gb: 10, home: "onprem:lab"}
    residency: {sites: ["onprem:lab"]}
    stages:
      - kind: training
        gpu: {models: {H100: 1.0}, count: 8}
        hours: 10
"""


@cache
def plan_json(name: str) -> str:
    """The reproducible plan JSON of ``examples/<name>.yaml``."""
    portfolio = api.load_portfolio(EXAMPLES[name])
    plan = api.plan(
        portfolio, api.load_catalogs(CATALOGS), time_limit_s=20, reproducible=True, now=NOW
    )
    return _relative(plan.model_dump_json(indent=2) + "\n")


def _relative(text: str) -> str:
    return text.replace(f"{REPO}/", "")


@cache
def infeasible_plan_json() -> str:
    """A plan with no placements: one stage no site can run."""
    portfolio = validate_as(Portfolio, yaml.safe_load(INFEASIBLE), "tiny-lab.yaml")
    plan = api.plan(
        portfolio, api.load_catalogs(CATALOGS), time_limit_s=10, reproducible=True, now=NOW
    )
    return _relative(plan.model_dump_json(indent=2) + "\n")


def write_plan(tmp: Path, name: str) -> Path:
    """Write the example's plan to ``tmp/<name>-plan.json`` and return the path."""
    path = tmp / f"{name}-plan.json"
    path.write_text(infeasible_plan_json() if name == "infeasible" else plan_json(name))
    return path
