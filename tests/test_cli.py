"""The CLI: JSON plans that parse and verify, exit codes, one-line errors with paths."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.models.plan import Plan

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = [REPO / "examples" / f"{name}.yaml" for name in ("carmaker", "hospital-group")]
CATALOGS = str(REPO / "catalogs")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_plan_examples_then_verify(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    code, _, err = run("plan", str(example), "--catalogs", CATALOGS, "-o", str(out),
                       "--time-limit", "10")
    assert code == 0, err
    plan = Plan.model_validate_json(out.read_text())
    assert plan.feasible and plan.placements
    code, stdout, err = run("verify", str(example), str(out), "--catalogs", CATALOGS)
    assert code == 0, err
    assert "verified" in stdout


def test_plan_to_stdout_is_json(tmp_path: Path) -> None:
    code, stdout, _ = run("plan", str(EXAMPLES[0]), "--catalogs", CATALOGS, "-q")
    assert code == 0
    assert Plan.model_validate(json.loads(stdout)).feasible


def test_reproducible_output_is_byte_identical() -> None:
    args = ("plan", str(REPO / "examples" / "carmaker.yaml"), "--catalogs", CATALOGS, "-q",
            "--reproducible")
    first, second = run(*args), run(*args)
    assert first[0] == second[0] == 0
    assert first[1] == second[1]


def test_validate_reports_counts() -> None:
    code, stdout, _ = run("validate", str(EXAMPLES[0]), "--catalogs", CATALOGS)
    assert code == 0 and "valid" in stdout and "candidate options" in stdout


def _bad_portfolio(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return p


BASE = """
name: t
workloads:
  - id: w
    team: t
    dataset: {size_gb: 1, home: "aws:us-east-1"}
    stages:
      - kind: training
        gpu: {models: {%s: 1.0}, count: 1}
        hours: %s
"""


@pytest.mark.parametrize(("text", "path", "hint"), [
    (BASE % ("H10", "5"), "workloads[0].stages[0].gpu.models", "did you mean 'H100'"),
    (BASE % ("H100", "-5"), "workloads[0].stages[0].hours", "at least 0.001"),
    (BASE.replace("us-east-1", "us-east-9") % ("H100", "5"), "workloads[0].dataset.home",
     "did you mean 'aws:us-east-"),
    (BASE.replace("team: t", "team: t\n    residency: {jurisdictions: [EUU]}") % ("H100", "5"),
     "workloads[0].residency.jurisdictions[0]", "did you mean 'EU'"),
    (BASE.replace("kind: training", "kind: train") % ("H100", "5"),
     "workloads[0].stages[0].kind", "training"),
    (BASE.replace("hours: %s", "hours: %s\n        gpus: 3") % ("H100", "5"),
     "workloads[0].stages[0].gpus", "remove it"),
    ("name: [unclosed", "", "invalid YAML"),
])
def test_bad_input_one_line_with_path(tmp_path: Path, text: str, path: str, hint: str) -> None:
    bad = _bad_portfolio(tmp_path, text)
    code, stdout, err = run("plan", str(bad), "--catalogs", CATALOGS)
    assert code == 2
    assert stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and path in lines[0] and hint in lines[0]
    assert "Traceback" not in err


def test_missing_file_and_missing_catalogs(tmp_path: Path) -> None:
    code, _, err = run("plan", str(tmp_path / "nope.yaml"))
    assert code == 2 and "file not found" in err
    code, _, err = run("plan", str(EXAMPLES[0]), "--catalogs", str(tmp_path / "none"))
    assert code == 2 and "catalog directory not found" in err
    code, _, err = run("plan", str(EXAMPLES[0]), "--catalogs", str(EXAMPLES[0]))
    assert code == 2 and "a file, not a catalog directory" in err


def test_infeasible_exit_code_and_reasons(tmp_path: Path) -> None:
    bad = _bad_portfolio(tmp_path, (BASE % ("H100", "5")).replace(
        "team: t", "team: t\n    residency: {countries: [BR]}"))
    out = tmp_path / "plan.json"
    code, _, _ = run("plan", str(bad), "--catalogs", CATALOGS, "-o", str(out))
    assert code == 3
    plan = Plan.model_validate_json(out.read_text())
    assert plan.status.value == "infeasible" and plan.unplaced
    assert "residency.countries" in " ".join(plan.unplaced[0].reasons)


def test_verify_catches_tampered_plan(tmp_path: Path) -> None:
    example = REPO / "examples" / "hospital-group.yaml"
    out = tmp_path / "plan.json"
    assert run("plan", str(example), "--catalogs", CATALOGS, "-o", str(out), "-q")[0] == 0
    data = json.loads(out.read_text())
    eu = next(p for p in data["placements"] if p["workload"] == "sepsis-eu"
              and p["stage"] == "inference")
    eu["site"], eu["region"], eu["country"] = "aws:us-east-1", "us-east-1", "US"
    eu["offer"] = "g4dn.xlarge"
    out.write_text(json.dumps(data))
    code, _, err = run("verify", str(example), str(out), "--catalogs", CATALOGS)
    assert code == 6
    assert "residency.jurisdictions" in err


def test_verify_rejects_bad_plan_file(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"portfolio": "x"}')
    code, _, err = run("verify", str(EXAMPLES[0]), str(bad), "--catalogs", CATALOGS)
    assert code == 2 and "status" in err


def test_infeasible_example_names_the_conflicting_rules(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    code, _, err = run("plan", str(REPO / "examples" / "infeasible-sepsis.yaml"), "--catalogs",
                       CATALOGS, "-o", str(out))
    assert code == 3
    plan = Plan.model_validate_json(out.read_text())
    rules = {c.rule for c in plan.conflicts}
    assert rules == {"residency.jurisdictions:sepsis-eu", "capacity:gpu:aws:eu-north-1/H100",
                     "capacity:offer:onprem:munich-dc/hgx-h100"}
    assert plan.diagnosis and "needs 64 × H100" in plan.diagnosis and "offer 48" in plan.diagnosis
    assert "conflict" in err


def test_the_plan_summary_says_when_each_stage_runs(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Dates when the horizon is dated (the quarter example), hours from its start otherwise.
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "plan.json"
    code, _, err = run("plan", str(REPO / "examples" / "quarter-deadlines.yaml"),
                       "--catalogs", CATALOGS, "-o", str(out), "--time-limit", "10")
    assert code == 0, err
    plan = Plan.model_validate_json(out.read_text())
    header = next(line for line in err.splitlines() if "workload" in line)
    assert [c.strip() for c in header.split("┃")][4:8] == ["inst", "purchase", "start", "end"]
    radiology = next(p for p in plan.placements
                     if p.workload == "radiology-screen" and p.stage == "inference")
    assert radiology.start_at is not None
    assert any("radiology-screen" in line and "inference" in line
               and radiology.start_at.strftime("%Y-%m-%d %H:%M") in line
               for line in err.splitlines())
    code, _, err = run("plan", str(EXAMPLES[1]), "--catalogs", CATALOGS, "-o", str(out),
                       "--time-limit", "10")
    assert code == 0, err
    assert any("sepsis-eu" in line and "730 h" in line for line in err.splitlines())
    monkeypatch.setenv("COLUMNS", "80")  # narrow: the names keep their room, times drop
    code, _, err = run("plan", str(EXAMPLES[1]), "--catalogs", CATALOGS, "-o", str(out),
                       "--time-limit", "10")
    assert code == 0, err
    header = next(line for line in err.splitlines() if "workload" in line)
    assert "start" not in header and "inst" in header


def test_summary_hours_are_shown_to_a_tenth() -> None:
    from planner.cli.main import _when

    assert _when(None, Decimal("601.333333")) == "601.3 h"
    assert _when(None, Decimal("730")) == "730 h"


def test_summary_times_are_utc_when_the_horizon_starts_with_an_offset() -> None:
    # A horizon from 2027-01-04T00:00:00+05:30 dates the plan with that offset; the
    # summary shows UTC, as `planner explain` and the report do (it showed 05:30 local).
    from datetime import datetime

    from planner.cli.main import _when

    assert _when(datetime.fromisoformat("2027-01-10T06:00:00+05:30"), None) == \
        "2027-01-10 00:30"
    assert _when(datetime.fromisoformat("2027-01-10T06:00:00"), None) == "2027-01-10 06:00"


def test_running_out_of_memory_is_one_line_with_what_to_do() -> None:
    from planner.cli.common import last_resort

    line = last_resort(MemoryError())
    assert line is not None and "out of memory" in line and "split it" in line


def test_python_dash_m_planner_is_the_command() -> None:
    import subprocess
    import sys

    got = subprocess.run([sys.executable, "-m", "planner", "--version"], capture_output=True,
                         text=True, cwd=REPO, check=False)
    assert got.returncode == 0 and got.stdout.startswith("planner, version"), got.stderr


def test_a_previous_plan_of_another_portfolio_is_refused(tmp_path: Path) -> None:
    """Re-planning from another portfolio's plan was taken silently (no stage matched, so
    nothing counted as kept or moved)."""
    hospital = tmp_path / "h.json"
    code, _, err = run("plan", str(EXAMPLES[1]), "--catalogs", CATALOGS, "-o", str(hospital),
                       "-q", "--time-limit", "10")
    assert code == 0, err
    code, _, err = run("plan", str(EXAMPLES[0]), "--catalogs", CATALOGS, "-q",
                       "--previous", str(hospital), "-o", str(tmp_path / "c.json"))
    assert code == 2 and "Traceback" not in err
    assert "--previous: the previous plan is of portfolio 'hospital-group', not 'carmaker'" \
        in err


def _commands(group: click.Group, prefix: str = "planner") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix} {name}")
    return found


def test_every_option_of_every_command_says_what_it_does() -> None:
    """`planner … --help` is documentation: no option is listed without a line of help."""
    bare = [f"{where} {opt.opts[-1]}" for where, command in _commands(cli)
            for opt in command.params
            if isinstance(opt, click.Option) and not opt.hidden and not opt.help]
    assert bare == []


def test_reasons_on_one_line_keep_no_full_stop_before_a_semicolon() -> None:
    from planner.cli.main import _joined
    assert _joined(["a set of rules conflicts.", "no plan places it"]) \
        == "a set of rules conflicts; no plan places it"
