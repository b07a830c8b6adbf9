"""The limits on numbers: the largest values the schema allows still plan (or stop with the
clear too-large error), scenario files are bounded too, the ISO country list is complete,
and the guide lists every limit."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from planner import api
from planner.cli.main import cli
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.errors import InputError
from planner.models import limits
from planner.models.portfolio import Portfolio
from planner.vocab.jurisdictions import ADEQUATE, country_name, region_table, suggest_country
from tests.test_input_values import (
    CATALOGS,
    EXAMPLE,
    REPO,
    _check_commands,
    _one_line_error,
    _write,
)

TOP = 10**12

LARGEST_SETTINGS = {
    "settings/period_hours": 87_600,
    "settings/budget_usd": TOP,
    "settings/team_budgets": {"clinical-ai": TOP, "imaging": TOP},
    "settings/move_fixed_usd": 10**9,
    "settings/spot_risk_uplift": 10,
    "settings/preference_weight": 100,
    "settings/max_moves": 10**7,
    "settings/max_catalog_age_days": 10**6,
    "workloads/0/dataset/size_gb": 10**9,
    "workloads/0/dataset/test_gb": 10**9,
    "workloads/3/dataset/size_gb": 10**9,
    "workloads/3/stages/0/hours": 80_000,  # ends before its inference goes live
    "onprem/0/offers/1/nodes": 10**7,
    "cloud/quotas/0/gpus": 10**7,
}


def test_largest_settings_sizes_and_counts_still_plan_and_verify(tmp_path: Path) -> None:
    file = _write(tmp_path, LARGEST_SETTINGS)
    out = tmp_path / "plan.json"
    res = CliRunner().invoke(cli, ["plan", str(file), "--catalogs", CATALOGS, "-q",
                                   "--time-limit", "20", "-o", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    res = CliRunner().invoke(cli, ["verify", str(file), str(out), "--catalogs", CATALOGS],
                             catch_exceptions=False)
    assert res.exit_code == 0 and "verified" in res.stdout, res.stderr


STAGE_AT_MAX = {  # the training stage of sepsis-eu at every limit of a stage
    "workloads/0/stages/0/hours": 10**6,
    "workloads/0/stages/0/gpu/count": limits.MAX_GPUS,
    "workloads/0/stages/0/vcpus": limits.MAX_VCPUS,
    "workloads/0/stages/0/memory_gib": int(limits.MAX_MEMORY_GIB),
    "workloads/0/stages/0/gpu/models": {"H100": 0.001, "A100-80GB": 0.001},
}


def test_a_stage_at_every_maximum_stops_with_the_too_large_error(tmp_path: Path) -> None:
    _check_commands(_write(tmp_path, STAGE_AT_MAX), "workloads[0].stages[0]",
                    "is too large to plan (limit $1e12 per stage)")


@pytest.mark.parametrize("changes", [
    STAGE_AT_MAX,
    {"workloads/0/stages/2/replicas": limits.MAX_REPLICAS, "workloads/0/stages/2/min_sites": 1,
     "workloads/0/stages/2/gpu/count": limits.MAX_GPUS},
], ids=["training", "inference-replicas"])
def test_array_and_object_candidates_raise_the_same_error(changes: dict[str, Any]) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    for dotted, value in changes.items():
        parts = dotted.split("/")
        node = doc
        for p in parts[:-1]:
            node = node[int(p)] if p.isdigit() else node[p]
        node[parts[-1]] = value
    portfolio = Portfolio.model_validate(doc)
    world = build_world(portfolio, api.load_catalogs(REPO / "catalogs"))
    messages = []
    for keep in (True, False):  # explain mode, large-portfolio mode
        with pytest.raises(InputError) as err:
            generate(portfolio, world, keep_pruned_options=keep)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "too large to plan" in messages[0] and "workloads[0].stages[" in messages[0]


def _scenario(tmp_path: Path, scenario: dict[str, Any]) -> Path:
    out = tmp_path / "scenarios.yaml"
    out.write_text(yaml.safe_dump({"scenarios": [{"name": "s", **scenario}]}))
    return out


SCENARIOS = [
    ({"price_multipliers": [{"provider": "aws", "factor": 1e300}]},
     "scenarios[0].price_multipliers[0].factor", "at most 1,000"),
    ({"price_multipliers": [{"provider": "aws", "factor": 0}]},
     "scenarios[0].price_multipliers[0].factor", "greater than 0"),
    ({"price_multipliers": [{"provider": "aws", "factor": float("nan")}]},
     "scenarios[0].price_multipliers[0].factor", "not a finite number"),
    ({"price_multipliers": [{"provider": "awz", "factor": 2}]},
     "scenarios[0].price_multipliers[0].provider", "did you mean 'aws'?"),
    ({"price_multipliers": [{"gpu_model": "H10", "factor": 2}]},
     "scenarios[0].price_multipliers[0].gpu_model", "did you mean 'H100'?"),
    ({"capacity": [{"site": "onprem:berlin-dc", "offer": "dgx-a100", "instances": 10**20}]},
     "scenarios[0].capacity[0].instances", "at most 10,000,000"),
    ({"capacity": [{"site": "onprem:berlin-dc", "offer": "dgx-a10", "instances": 2}]},
     "scenarios[0].capacity[0].offer", "did you mean 'dgx-a100'?"),
    ({"capacity": [{"site": "aws:eu-central-1", "gpu_model": "H100", "gpus": -1}]},
     "scenarios[0].capacity[0].gpus", "at least 0"),
    ({"capacity": [{"site": "aws:eu-central-1", "gpu_model": "A100-80G", "gpus": 4}]},
     "scenarios[0].capacity[0].gpu_model", "did you mean 'A100-80GB'?"),
    ({"regulations": [{"data_class": "health", "remove_jurisdictions": ["EU"],
                       "replace_with": ["UK"]}]},
     "scenarios[0].regulations[0].replace_with[0]", "did you mean 'GB' (United Kingdom)?"),
    ({"regulations": [{"data_class": "health", "remove_jurisdictions": ["EUU"]}]},
     "scenarios[0].regulations[0].remove_jurisdictions[0]", "did you mean 'EU'?"),
]


@pytest.mark.parametrize(("scenario", "path", "hint"), SCENARIOS, ids=[s[1] for s in SCENARIOS])
def test_scenario_values_are_checked(tmp_path: Path, scenario: dict[str, Any], path: str,
                                     hint: str) -> None:
    file = _scenario(tmp_path, scenario)
    line = _one_line_error(["whatif", str(EXAMPLE), str(file), "--catalogs", CATALOGS,
                            "--executor", "serial", "--time-limit", "5"], path, hint)
    assert str(file) in line


def test_iso_country_list_covers_every_country_the_planner_knows() -> None:
    data = json.loads((REPO / "planner" / "data" / "iso3166.json").read_text("utf-8"))
    codes = data["countries"]
    assert len(codes) == 249 and all(re.fullmatch(r"[A-Z]{2}", c) for c in codes)
    assert all(v in codes and k not in codes for k, v in data["aliases"].items())
    assert all(country_name(c) for c in ADEQUATE)  # EU, EEA and adequacy countries
    for provider, regions in region_table().items():
        for region, facts in regions.items():
            assert country_name(str(facts["country"])), (provider, region)
    for cat in api.load_catalogs(REPO / "catalogs"):
        assert all(country_name(r.country) for r in cat.catalog.rows)


@pytest.mark.parametrize(("text", "code"), [
    ("UK", "GB"), ("EL", "GR"), ("de", "DE"), ("Germany", "DE"), ("United Kingdom", "GB"),
    ("XX", None), ("ZZZ", None),
])
def test_country_suggestions(text: str, code: str | None) -> None:
    assert suggest_country(text) == code


def test_guide_lists_every_limit() -> None:
    guide = (REPO / "planner" / "docs" / "guide.md").read_text("utf-8")
    section = guide.split("### Limits", 1)[1].split("\n#", 1)[0]
    for name in dir(limits):
        if re.fullmatch(r"(MAX|MIN)_[A-Z_]+", name):
            value = getattr(limits, name)
            shown = limits.fmt_limit(value)  # as the error messages show it
            assert shown in section, f"{name} = {shown} is missing from the guide's limits"
