"""`planner verify` on hostile plans: a plan with its timeline removed, placements of no
replica, non-finite numbers, an unknown schema version, another portfolio's name, and an
infeasibility claim that names no conflict.

Each must fail with its exit code (2: not a plan the verifier can check, or another
portfolio's; 6: a rule is broken), one clear message naming the path in the plan and a
fix, and never a traceback or "every rule holds".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from planner import api
from planner.compile.resolve import build_world
from planner.errors import InputError
from planner.verify.check import verify
from tests.builders import NOW, portfolio, small_catalog, training, workload

REPO = Path(__file__).resolve().parent.parent
CATALOGS = str(REPO / "catalogs")
HOSPITAL = REPO / "examples" / "hospital-group.yaml"
QUARTER = REPO / "examples" / "quarter-deadlines.yaml"
SEPSIS = REPO / "examples" / "infeasible-sepsis.yaml"
TIMES = ("start", "end", "start_at", "end_at", "late_hours")

Data = dict[str, Any]


def run(*args: str) -> tuple[int, str, str]:
    from planner.cli.main import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def verify_cli(portfolio_file: Path, plan_file: Path) -> tuple[int, str, str]:
    return run("verify", str(portfolio_file), str(plan_file), "--catalogs", CATALOGS)


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("plans")
    paths = {}
    for name, src, code in (("hospital", HOSPITAL, 0), ("quarter", QUARTER, 0),
                            ("sepsis", SEPSIS, 3)):
        paths[name] = out / f"{name}.json"
        got, _, err = run("plan", str(src), "--catalogs", CATALOGS, "-o", str(paths[name]),
                          "-q", "--time-limit", "20", "--workers", "2")
        assert got == code, err
    return paths


def edited(path: Path, tmp: Path, change: Callable[[Data], object], name: str = "edited"
           ) -> Path:
    data = json.loads(path.read_text())
    change(data)
    new = tmp / f"{name}-{path.name}"
    new.write_text(json.dumps(data))  # NaN and Infinity as Python's json writes them
    return new


def error_line(err: str) -> str:
    """The one line of a clean error (no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def without_timeline(data: Data) -> None:
    data.pop("horizon")
    data.pop("schedule")
    for p in data["placements"]:
        for key in TIMES:
            p.pop(key, None)


def placement(data: Data, workload_id: str, site: str) -> Data:
    return next(p for p in data["placements"] if p["workload"] == workload_id
                and p["kind"] == "inference" and p["site"] == site)


def index_of(data: Data, workload_id: str, site: str) -> int:
    return data["placements"].index(placement(data, workload_id, site))


# --- 1. a plan that places stages has a timeline -----------------------------------------


@pytest.mark.parametrize(("name", "src"), [("quarter", QUARTER), ("hospital", HOSPITAL)])
def test_plan_without_its_timeline_fails(plans: dict[str, Path], tmp_path: Path, name: str,
                                         src: Path) -> None:
    """Dated or not, every plan the planner writes is a schedule: without it, exit 6
    naming the missing horizon and each placement's missing start/end."""
    bare = edited(plans[name], tmp_path, without_timeline)
    code, out, err = verify_cli(src, bare)
    assert code == 6, err
    assert "every rule holds" not in out
    assert "violation: horizon: [schedule.missing] the plan has no timeline" in err
    assert "re-plan with `planner plan PORTFOLIO -o PLAN`" in err
    assert "placements[0] (" in err and ").start: [schedule.untimed] no start/end" in err


def test_plan_without_timeline_or_inputs_fails_against_an_impossible_deadline(
        plans: dict[str, Path], tmp_path: Path) -> None:
    """With the digests gone too, the plan cannot be told from another version of the
    portfolio: one whose deadline the placed stage cannot meet must still not pass."""
    data = yaml.safe_load(QUARTER.read_text())
    stage = data["workloads"][0]["stages"][0]
    assert (data["workloads"][0]["id"], stage["kind"]) == ("claims-de", "training")
    stage["deadline"] = "2027-01-10"  # 900 h of training cannot end 6 days in
    tight = tmp_path / "tight.yaml"
    tight.write_text(yaml.safe_dump(data))

    def strip(d: Data) -> None:
        without_timeline(d)
        d.pop("inputs")

    code, out, err = verify_cli(tight, edited(plans["quarter"], tmp_path, strip))
    assert code == 6, err
    assert "every rule holds" not in out and "[schedule.missing]" in err
    # with its timeline the same plan names the deadline it misses
    timed = edited(plans["quarter"], tmp_path, lambda d: d.pop("inputs"), "timed")
    code, _, err = verify_cli(tight, timed)
    assert code == 6 and "[window.deadline]" in err


def test_planners_own_plans_still_verify(plans: dict[str, Path]) -> None:
    for name, src in (("hospital", HOSPITAL), ("quarter", QUARTER)):
        code, out, err = verify_cli(src, plans[name])
        assert code == 0 and "every rule holds" in out, err


# --- 2. a placement serves at least one replica on at least one instance ------------------


@pytest.mark.parametrize(("change", "field", "got"), [
    ({"replicas": 0, "instances": 0}, "replicas", 0),
    ({"replicas": -1, "instances": -1}, "replicas", -1),
    ({"instances": 0}, "instances", 0),
    ({"nodes_per_replica": 0}, "nodes_per_replica", 0)])
def test_placement_of_no_replica_is_bad_input(plans: dict[str, Path], tmp_path: Path,
                                              change: Data, field: str, got: int) -> None:
    """A split inference placement of 0 (or −1) replicas: exit 2 with its path, not a
    decimal.InvalidOperation traceback (exit 1) nor a late cost violation (exit 6)."""
    data = json.loads(plans["hospital"].read_text())
    i = index_of(data, "sepsis-eu", "aws:eu-west-1")
    bad = edited(plans["hospital"], tmp_path,
                 lambda d: placement(d, "sepsis-eu", "aws:eu-west-1").update(change))
    code, out, err = verify_cli(HOSPITAL, bad)
    line = error_line(err)
    assert code == 2 and not out, err
    assert f"placements[{i}].{field}" in line
    if field != "nodes_per_replica":  # that one the plan model itself refuses
        assert line.startswith(f"error: the plan: placements[{i}].{field}: must be at least "
                               f"1 (got {got})")
        assert "re-plan with `planner plan PORTFOLIO -o PLAN`" in line


def test_verifier_refuses_a_placement_of_no_replica_built_in_memory() -> None:
    """``model_copy`` skips validation: the verifier itself refuses, never divides by 0."""
    p = portfolio([workload("w", [{"kind": "inference", "hours": 100, "vcpus": 2,
                                   "memory_gib": 4, "replicas": 2, "split": True}])])
    cats = [small_catalog()]
    plan = api.plan(p, cats, now=NOW, time_limit_s=10)
    zero = plan.placements[0].model_copy(update={"replicas": 0, "instances": 0})
    bad = plan.model_copy(update={"placements": [zero, *plan.placements[1:]]})
    with pytest.raises(InputError, match=r"placements\[0\]\.replicas: must be at least 1"):
        verify(p, build_world(p, cats, now=NOW), bad)


# --- 3. finite numbers, a known schema version, this portfolio ----------------------------


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d["solver"].update(gap=float("nan")), "solver.gap"),
    (lambda d: d["resources"][0].update(utilization=float("inf")), "resources[0].utilization"),
    (lambda d: d["solver"].update(time_limit_s=float("-inf")), "solver.time_limit_s")])
def test_non_finite_numbers_are_bad_input(plans: dict[str, Path], tmp_path: Path,
                                          change: Callable[[Data], object], path: str) -> None:
    code, out, err = verify_cli(HOSPITAL, edited(plans["hospital"], tmp_path, change))
    line = error_line(err)
    assert code == 2 and not out
    assert f"error: the plan: {path}: not a finite number" in line


@pytest.mark.parametrize(("version", "message", "hint"), [
    ("999", "999 is newer than the plan schema this planner reads (1)", "upgrade the planner"),
    (2, "2 is newer than the plan schema this planner reads (1)", "upgrade the planner"),
    (0, "0 is not a plan schema version (this planner reads 1)", "re-plan")])
def test_unknown_schema_version_is_bad_input(plans: dict[str, Path], tmp_path: Path,
                                             version: object, message: str, hint: str) -> None:
    bad = edited(plans["hospital"], tmp_path, lambda d: d.update(schema_version=version))
    code, out, err = verify_cli(HOSPITAL, bad)
    line = error_line(err)
    assert code == 2 and not out
    assert f"error: the plan: schema_version: {message}" in line and hint in line


@pytest.mark.parametrize("keep_inputs", [True, False])
def test_plan_naming_another_portfolio_is_refused(plans: dict[str, Path], tmp_path: Path,
                                                  keep_inputs: bool) -> None:
    """As `planner diff` refuses plans of different portfolios: exit 2, even when the
    digests (kept, or left out) do not tell."""
    def rename(d: Data) -> None:
        d["portfolio"] = "other"
        if not keep_inputs:
            d.pop("inputs")

    bad = edited(plans["hospital"], tmp_path, rename)
    code, out, err = verify_cli(HOSPITAL, bad)
    line = error_line(err)
    assert code == 2 and not out
    assert f"{bad}: the plan is for portfolio 'other', not 'hospital-group'" in line
    assert "verify it against the portfolio it was made from, or re-plan this one" in line


# --- 4. an infeasibility claim names its conflicting rules --------------------------------


def test_infeasibility_without_a_conflict_confirms_only_the_infeasibility(
        plans: dict[str, Path], tmp_path: Path) -> None:
    """An empty conflict set claims only that no plan exists (the planner writes it when
    facts no rule relaxes cause the infeasibility, or when no core was found in time):
    the re-check confirms that much and says so, not that some set of rules conflicts."""
    bare = edited(plans["sepsis"], tmp_path, lambda d: d.update(conflicts=[]))
    code, out, _ = verify_cli(SEPSIS, bare)
    assert code == 3, out
    assert "no conflicting rules are named, so that is all that is confirmed" in out


def test_infeasible_by_facts_alone_names_no_rule_and_is_confirmed() -> None:
    """A stage longer than the horizon: no rule to drop, so the planner's plan lists no
    conflict, and verifying it confirms the infeasibility (what a fix of the test above
    must keep)."""
    p = portfolio([workload("w", [training(hours=1000)])], settings={"period_hours": 730})
    cats = [small_catalog()]
    plan = api.plan(p, cats, now=NOW, time_limit_s=10)
    assert plan.status.value == "infeasible" and plan.conflicts == [] and plan.unplaced
    assert plan.diagnosis is not None and "facts no rule can relax" in plan.diagnosis
    result = api.verify_report(p, plan, cats, time_limit_s=10, workers=1)
    assert result.violations == [] and result.confirmed is not None



@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d["horizon"].update(hours="1e20"), "horizon.hours"),
    (lambda d: d["horizon"].update(start="9999-12-31T00:00:00Z"), "horizon"),
    (lambda d: d["placements"][0].update(start="1e20", end="2e20"), "placements[0].start"),
], ids=["hours", "start", "placement"])
@pytest.mark.parametrize("command", ["verify", "report", "explain"])
def test_times_no_calendar_holds_are_bad_input(plans: dict[str, Path], tmp_path: Path,
                                               change: Callable[[Data], object], path: str,
                                               command: str) -> None:
    """A tampered horizon or time that no date can be computed from: one line, exit 2, for
    every command that reads the plan (the report and explain computed the dates and
    crashed)."""
    bad = edited(plans["quarter"], tmp_path, change)
    args = {"verify": ["verify", str(QUARTER), str(bad), "--catalogs", CATALOGS],
            "report": ["report", str(bad), "-o", str(tmp_path / "r.html")],
            "explain": ["explain", str(bad)]}[command]
    code, out, err = run(*args)
    line = error_line(err)
    assert code == 2 and not out, (code, err)
    assert path in line, line
