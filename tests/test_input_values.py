"""Hostile and mistaken values in a portfolio or scenario file: one clear line, never a
traceback. Each case is the example portfolio with one field changed, run through
``planner validate`` and ``planner plan`` (or ``planner whatif``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from planner.cli.main import cli

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "hospital-group.yaml"
CATALOGS = str(REPO / "catalogs")
INF_JSON = "__1e999__"
"""A value written as the JSON literal 1e999 (which parses as infinity)."""


def _set(doc: Any, dotted: str, value: Any) -> None:
    parts = dotted.split("/")
    for p in parts[:-1]:
        doc = doc[int(p)] if p.isdigit() else doc[p]
    last = parts[-1]
    doc[int(last) if last.isdigit() else last] = value


def _write(tmp_path: Path, changes: dict[str, Any], *, as_json: bool = False) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc = copy.deepcopy(doc)
    for dotted, value in changes.items():
        _set(doc, dotted, value)
    if as_json:
        out = tmp_path / "portfolio.json"
        out.write_text(json.dumps(doc).replace(f'"{INF_JSON}"', "1e999"))
    else:
        out = tmp_path / "portfolio.yaml"
        out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def _one_line_error(args: list[str], path: str, hint: str) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert f" {path}: " in line, line
    assert hint in line, line
    assert "Traceback" not in result.stderr
    return line


def _check_commands(file: Path, path: str, hint: str) -> None:
    for cmd in (["validate", str(file)], ["plan", str(file), "-q", "--time-limit", "5"]):
        line = _one_line_error([*cmd, "--catalogs", CATALOGS], path, hint)
        assert str(file) in line


W0S0 = "workloads/0/stages/0"
BERLIN = "onprem/0"

HUGE = [  # (field, value, path in the message, hint)
    (f"{W0S0}/hours", 1e300, "workloads[0].stages[0].hours", "at most 1,000,000 hours"),
    (f"{W0S0}/gpu/count", 10**20, "workloads[0].stages[0].gpu.count", "at most 100,000 GPUs"),
    (f"{W0S0}/gpu/models/H100", 1e300, "workloads[0].stages[0].gpu.models.H100", "at most 1,000"),
    (f"{W0S0}/vcpus", 10**20, "workloads[0].stages[0].vcpus", "at most 10,000,000 vCPUs"),
    (f"{W0S0}/memory_gib", 1e300, "workloads[0].stages[0].memory_gib", "GiB"),
    ("workloads/0/stages/2/replicas", 10**20, "workloads[0].stages[2].replicas",
     "at most 1,000,000 replicas"),
    ("workloads/0/stages/2/latency/max_ms", 1e300, "workloads[0].stages[2].latency.max_ms",
     "ms"),
    ("workloads/0/stages/2/response_gb", 1e300, "workloads[0].stages[2].response_gb", "GB"),
    ("workloads/0/dataset/size_gb", 1e300, "workloads[0].dataset.size_gb",
     "at most 1,000,000,000 GB"),
    ("workloads/0/model/size_gb", 1e300, "workloads[0].model.size_gb", "GB"),
    ("settings/period_hours", 1e300, "settings.period_hours", "at most 87,600 hours"),
    ("settings/budget_usd", 1e300, "settings.budget_usd", "at most 1,000,000,000,000 USD"),
    ("settings/team_budgets/imaging", 1e300, "settings.team_budgets.imaging", "USD"),
    ("settings/move_fixed_usd", 1e300, "settings.move_fixed_usd", "USD"),
    ("settings/max_moves", 10**20, "settings.max_moves", "at most 10,000,000"),
    ("settings/spot_risk_uplift", 1e300, "settings.spot_risk_uplift", "at most 10"),
    ("settings/max_catalog_age_days", 10**20, "settings.max_catalog_age_days", "days"),
    ("settings/latency_ms", {"onprem:berlin-dc": {"de": 1e300}},
     "settings.latency_ms.onprem:berlin-dc.de", "ms"),
    (f"{BERLIN}/offers/1/price_per_hour", 1e300, "onprem[0].offers[1].price_per_hour",
     "at most 100,000 USD per hour"),
    (f"{BERLIN}/offers/1/nodes", 10**20, "onprem[0].offers[1].nodes", "nodes"),
    (f"{BERLIN}/offers/0/gpu_count", 10**20, "onprem[0].offers[0].gpu_count", "GPUs"),
    (f"{BERLIN}/offers/0/amortization/capex_usd", 1e300,
     "onprem[0].offers[0].amortization.capex_usd", "USD"),
    (f"{BERLIN}/offers/0/amortization/power_kw", 1e300,
     "onprem[0].offers[0].amortization.power_kw", "kW"),
    (f"{BERLIN}/egress/internet_per_gb", 1e300, "onprem[0].egress.internet_per_gb",
     "USD per GB"),
    ("cloud/quotas/0/gpus", 10**20, "cloud.quotas[0].gpus", "at most 10,000,000"),
    # Infinity and NaN, as YAML writes them (.inf, .nan).
    ("workloads/0/dataset/size_gb", float("inf"), "workloads[0].dataset.size_gb",
     "not a finite number"),
    (f"{W0S0}/hours", float("nan"), "workloads[0].stages[0].hours", "not a finite number"),
    (f"{BERLIN}/offers/1/price_per_hour", float("nan"), "onprem[0].offers[1].price_per_hour",
     "not a finite number"),
    # Each field within its limit, but together an hourly price above the limit.
    (f"{BERLIN}/offers/0/amortization", {"capex_usd": 1e9, "lifetime_years": 0.1,
                                         "power_kw": 0, "usd_per_kwh": 0},
     "onprem[0].offers[0].amortization", "amortized price"),
]


@pytest.mark.parametrize(("field", "value", "path", "hint"), HUGE,
                         ids=[f"{c[0]}={c[1]!r}"[-60:] for c in HUGE])
def test_huge_numbers_are_rejected_with_the_limit(tmp_path: Path, field: str, value: Any,
                                                  path: str, hint: str) -> None:
    _check_commands(_write(tmp_path, {field: value}), path, hint)


@pytest.mark.parametrize(("field", "path"), [
    (f"{W0S0}/hours", "workloads[0].stages[0].hours"),
    ("settings/period_hours", "settings.period_hours"),
    (f"{BERLIN}/offers/1/price_per_hour", "onprem[0].offers[1].price_per_hour"),
])
def test_json_1e999_is_rejected(tmp_path: Path, field: str, path: str) -> None:
    file = _write(tmp_path, {field: INF_JSON}, as_json=True)
    assert "1e999" in file.read_text()
    _check_commands(file, path, "finite")


BAD_VALUES = [
    (f"{BERLIN}/country", "UK", "onprem[0].country", "did you mean 'GB' (United Kingdom)?"),
    (f"{BERLIN}/country", "XX", "onprem[0].country", "ISO 3166-1 alpha-2"),
    (f"{BERLIN}/country", "de", "onprem[0].country", "did you mean 'DE' (Germany)?"),
    ("workloads/1/residency/countries", ["UK"], "workloads[1].residency.countries[0]",
     "did you mean 'GB'"),
    ("workloads/1/stages/2/residency", {"countries": ["US", "XX"]},
     "workloads[1].stages[2].residency.countries[1]", "ISO 3166-1 alpha-2"),
    ("workloads/0/residency/jurisdictions", ["UK"], "workloads[0].residency.jurisdictions[0]",
     "did you mean 'GB' (United Kingdom)?"),
    ("settings/team_budgets/imaging", -5, "settings.team_budgets.imaging", "at least 0"),
    ("settings/latency_ms", {"onprem:berlin-dc": {"de": -3}},
     "settings.latency_ms.onprem:berlin-dc.de", "at least 0"),
    ("settings/budget_usd", -1, "settings.budget_usd", "at least 0"),
    ("settings/period_hours", 0, "settings.period_hours", "at least 1 and at most"),
    ("workloads/0/stages/2/replicas", 0, "workloads[0].stages[2].replicas", "at least 1"),
    (f"{W0S0}/gpu/count", 0, "workloads[0].stages[0].gpu.count", "at least 1"),
    (f"{W0S0}/gpu/models/H100", 0, "workloads[0].stages[0].gpu.models.H100", "at least 0.001"),
    (f"{BERLIN}/offers/1/nodes", 0, "onprem[0].offers[1].nodes", "at least 1"),
    (f"{BERLIN}/offers/0/amortization/lifetime_years", 0,
     "onprem[0].offers[0].amortization.lifetime_years", "at least 0.1"),
    ("workloads/0/stages/2/latency/max_ms", 0, "workloads[0].stages[2].latency.max_ms",
     "greater than 0"),
    (f"{BERLIN}/offers/0/gpu_count", 0, "onprem[0].offers[0].gpu_count", "needs gpu_count ≥ 1"),
    ("settings/max_provider_share", float("nan"), "settings.max_provider_share",
     "not a finite number"),
    (f"{BERLIN}/offers/1/memory_gib", 0, "onprem[0].offers[1].memory_gib", "at least 0.001"),
    (f"{BERLIN}/lat", float("nan"), "onprem[0].lat", "not a finite number"),
    ("settings/user_regions", {"ward": {"lat": 0, "lon": float("inf")}},
     "settings.user_regions.ward.lon", "not a finite number"),
    # a run shorter than the plan's micro-hour was an empty interval: a "planner bug"
    (f"{W0S0}/hours", 0.0000001, "workloads[0].stages[0].hours", "at least 0.001"),
    # YAML's true is not the number 1 (pydantic's int fields would read it as 1)
    (f"{W0S0}/gpu/count", True, "workloads[0].stages[0].gpu.count", "expected a number, not true"),
    (f"{BERLIN}/offers/1/nodes", True, "onprem[0].offers[1].nodes", "expected a number"),
    ("workloads/0/stages/2/replicas", False, "workloads[0].stages[2].replicas",
     "expected a number, not false"),
]


@pytest.mark.parametrize(("field", "value", "path", "hint"), BAD_VALUES,
                         ids=[f"{c[0]}={c[1]!r}"[-60:] for c in BAD_VALUES])
def test_silently_accepted_values_are_rejected(tmp_path: Path, field: str, value: Any,
                                               path: str, hint: str) -> None:
    _check_commands(_write(tmp_path, {field: value}), path, hint)


COLOCATION = [
    ({"workloads/0/stages/1/colocate": {"stage": "train"}}, "workloads[0].stages[1].colocate.stage",
     "unknown stage 'train'; the workload's stages are training, testing, inference "
     "(did you mean 'training'?)"),
    ({"workloads/1/stages/2/colocate": {"stage": "serving"}},
     "workloads[1].stages[2].colocate.stage", "stages are training, testing, inference"),
    ({"workloads/0/stages/1/colocate": {"stage": "testing"}},
     "workloads[0].stages[1].colocate.stage", "cannot co-locate with itself"),
    ({"workloads/0/stages/0/colocate": {"stage": "testing"}}, "workloads[0].stages[0].colocate",
     "co-location cycle training → testing → training"),
    ({"workloads/0/stages/0/colocate": {"stage": "inference"},
      "workloads/0/stages/2/colocate": {"stage": "testing"}}, "workloads[0].stages[0].colocate",
     "co-location cycle training → inference → testing → training"),
    ({"workloads/0/stages/1/name": "training"}, "workloads[0].stages[1].name",
     "stage name 'training' is used twice"),
]


@pytest.mark.parametrize(("changes", "path", "hint"), COLOCATION,
                         ids=[c[2][:40] for c in COLOCATION])
def test_colocation_errors_name_the_stage(tmp_path: Path, changes: dict[str, Any], path: str,
                                          hint: str) -> None:
    _check_commands(_write(tmp_path, changes), path, hint)


CROSS_REFERENCES = [
    ("workloads/2/dataset/home", "onprem:berlin-dcc", "workloads[2].dataset.home",
     "did you mean 'onprem:berlin-dc'?"),
    ("cloud/quotas/0/site", "aws:eu-central-9", "cloud.quotas[0].site", "did you mean 'aws:eu-"),
    ("workloads/2/placement", {"prefer_sites": ["onprem:berlin"]},
     "workloads[2].placement.prefer_sites[0]", "did you mean 'onprem:berlin-dc'?"),
    ("workloads/3/placement", {"exclude_providers": ["azur"]},
     "workloads[3].placement.exclude_providers[0]", "did you mean 'azure'?"),
    ("settings/team_budgets", {"clinical-a": 100}, "settings.team_budgets.clinical-a",
     "did you mean 'clinical-ai'?"),
    ("workloads/0/stages/2/latency", {"max_ms": 40, "users": ["eu-centrl"]},
     "workloads[0].stages[2].latency.users[0]", "did you mean 'eu-central'?"),
    ("settings/latency_ms", {"onprem:berlin-d": {"de": 3}}, "settings.latency_ms.onprem:berlin-d",
     "did you mean 'onprem:berlin-dc'?"),
    ("settings/latency_ms", {"onprem:berlin-dc": {"dee": 3}},
     "settings.latency_ms.onprem:berlin-dc.dee", "did you mean 'de'?"),
    ("cloud/tags", {"aws:eu-central-2x": ["X"]}, "cloud.tags.aws:eu-central-2x",
     "did you mean 'aws:eu-central-"),
    ("cloud/certifications", {"azure:westus3": ["x"]}, "cloud.certifications.azure:westus3",
     "did you mean 'azure:westus2'?"),
    (f"{W0S0}/gpu/models", {"H10": 1.0}, "workloads[0].stages[0].gpu.models.H10",
     "did you mean 'H100'?"),
]


@pytest.mark.parametrize(("field", "value", "path", "hint"), CROSS_REFERENCES,
                         ids=[c[2] for c in CROSS_REFERENCES])
def test_cross_references_give_path_and_suggestion(tmp_path: Path, field: str, value: Any,
                                                   path: str, hint: str) -> None:
    _check_commands(_write(tmp_path, {field: value}), path, hint)
