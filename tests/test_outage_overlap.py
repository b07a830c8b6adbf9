"""Outages of one node class that overlap may not take more nodes together than it has:
the portfolio's validation refuses them (exit 2, the path of the outage that tips it over)
instead of ``planner plan`` and ``planner whatif`` crashing in the solvers' time model; the
what-if scenarios' outages are checked by the same rule, in the whole hours the solvers
count (rounded outwards)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from builders import NOW, small_catalog, training, workload
from click.testing import CliRunner, Result

from planner.cli.main import cli
from planner.compile.resolve import build_world
from planner.errors import InputError
from planner.inputs.files import validate_as
from planner.models.portfolio import Portfolio
from planner.whatif import Scenario, apply_scenario

REPO = Path(__file__).resolve().parent.parent
QUARTER = REPO / "examples" / "quarter-deadlines.yaml"
CATALOGS = str(REPO / "catalogs")
SCENARIOS = str(REPO / "examples" / "scenarios.yaml")
MAINTENANCE = ("          - {from: 2027-02-08, to: 2027-02-15, nodes: 1}"
               "   # week 6: firmware and cooling")
OVERLAPPING = ("          - {from: 2027-01-10, to: 2027-01-12, nodes: 2}\n"
               "          - {from: 2027-01-11, to: 2027-01-13, nodes: 1}")
SITE = "onprem:frankfurt"


def _quarter(tmp_path: Path, outages: str) -> Path:
    """The quarter example (a 2-node DGX pod) with other outages of the pod."""
    text = QUARTER.read_text()
    assert MAINTENANCE in text
    path = tmp_path / "quarter.yaml"
    path.write_text(text.replace(MAINTENANCE, outages))
    return path


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("command", ["validate", "plan", "whatif"])
def test_overlapping_outages_are_refused_by_every_command(tmp_path: Path, command: str) -> None:
    path = str(_quarter(tmp_path, OVERLAPPING))
    args = {"validate": [command, path], "plan": [command, path, "-q"],
            "whatif": [command, path, SCENARIOS]}[command]
    line = _one_error_line(_run(*args, "--catalogs", CATALOGS))
    assert "onprem[0].offers[0].outages[1].nodes" in line
    assert "outages[0] and outages[1] overlap at 2027-01-11" in line
    assert "together take 3 nodes down, but dgx-a100 has 2" in line
    assert "take fewer nodes down, or move the outages apart" in line


def test_outages_back_to_back_or_within_the_inventory_are_fine(tmp_path: Path) -> None:
    for outages in ("          - {from: 2027-01-10, to: 2027-01-12, nodes: 2}\n"
                    "          - {from: 2027-01-12, to: 2027-01-13, nodes: 1}",
                    "          - {from: 2027-01-10, to: 2027-01-12, nodes: 1}\n"
                    "          - {from: 2027-01-11, to: 2027-01-13, nodes: 1}"):
        result = _run("validate", str(_quarter(tmp_path, outages)), "--catalogs", CATALOGS)
        assert result.exit_code == 0, result.output


def _pod(outages: list[dict[str, Any]], nodes: int = 2) -> dict[str, Any]:
    """A portfolio (as data) whose one workload trains on an on-prem pod of ``nodes``."""
    offer = {"id": "dgx", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 128,
             "memory_gib": 1024, "price_per_hour": 20, "nodes": nodes, "outages": outages}
    w = workload("fraud-eu", [training(hours=20, gpus=8)], home=SITE, sites=[SITE])
    return {"name": "test", "cloud": {"providers": ["aws"]}, "settings": {"period_hours": 730},
            "onprem": [{"id": SITE, "country": "DE", "offers": [offer]}], "workloads": [w]}


def test_outages_overlapping_only_in_whole_hours_are_refused_too() -> None:
    # [0.5, 1.5) and [1.5, 2.5) h do not overlap, but the solvers count outages in whole
    # hours rounded outwards, [0, 2) and [1, 3): 3 of 2 nodes down in hour 1.
    data = _pod([{"from": 0.5, "to": 1.5, "nodes": 2}, {"from": 1.5, "to": 2.5, "nodes": 1}])
    with pytest.raises(InputError) as err:
        validate_as(Portfolio, data, "p.yaml")
    text = str(err.value)
    assert "onprem[0].offers[0].outages[1].nodes" in text and "whole hours" in text
    assert "outages[0] and outages[1] overlap in hour 1 from the horizon start" in text
    validate_as(Portfolio, _pod([{"from": 0, "to": 1, "nodes": 2},
                                 {"from": 1, "to": 2, "nodes": 1}]), "p.yaml")


def test_scenario_outages_use_the_same_whole_hour_rule() -> None:
    p = validate_as(Portfolio, _pod([{"from": 10.5, "to": 11.5, "nodes": 2}]), "p.yaml")
    world = build_world(p, [small_catalog()], now=NOW)
    sc = Scenario(name="x", outages=[{"site": SITE, "offer": "dgx", "from": 11.5, "to": 12.5,
                                      "nodes": 1}])
    with pytest.raises(InputError) as err:
        apply_scenario(p, world, sc, 0)
    text = str(err.value)
    assert "scenarios[0].outages[0].nodes" in text and "take 3 nodes" in text
    assert "has 2" in text and "whole hours" in text
