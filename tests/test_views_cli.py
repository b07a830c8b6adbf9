"""``planner explain`` (snapshot-tested on the examples), ``planner schema`` and ``planner init``.

Snapshots live in tests/snapshots/. After an intended change of the output (or of the
example plans), regenerate them and review the diff:

    UPDATE_SNAPSHOTS=1 python -m pytest tests/test_views_cli.py

Regenerating never blesses a cost change: the hospital example's placements and costs are
pinned to hand-computed values in test_example_costs.py, and the runner-up numbers and
reasons in test_runner_up.py.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from builders import catalog, portfolio, row, solve, training, workload
from click.testing import CliRunner
from example_plans import CATALOGS, EXAMPLES, write_plan

from planner import api
from planner.cli.main import cli
from planner.models.plan import Plan
from planner.models.schemas import schema_text
from planner.report.fmt import usd

REPO = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
SCHEMA_DIR = REPO / "planner" / "docs" / "schemas"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
# A fixed, plain terminal: 120 columns, no colour, whatever the CI environment says.
TERMINAL = {"COLUMNS": "120", "LINES": "50", "FORCE_COLOR": None, "NO_COLOR": "1",
            "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None, "TERM": "dumb"}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env=TERMINAL).invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        if not UPDATE:
            pytest.fail(f"snapshot {path.name} was missing and has been written; check it in")
        return
    assert text == path.read_text("utf-8"), (
        f"{name} differs from the snapshot; if the change is intended, run "
        "UPDATE_SNAPSHOTS=1 python -m pytest tests/test_views_cli.py and review the diff"
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_explain_table_snapshot(name: str, tmp_path: Path) -> None:
    code, stdout, err = run("explain", str(write_plan(tmp_path, name)))
    assert code == 0, err
    assert max(len(line) for line in stdout.splitlines()) <= 120
    assert "\x1b[" not in stdout
    check_snapshot(f"explain-{name}.txt", stdout)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_explain_json_snapshot(name: str, tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, name)
    code, stdout, err = run("explain", str(plan_file), "--json")
    assert code == 0, err
    data = json.loads(stdout)
    plan = Plan.model_validate_json(plan_file.read_text())
    assert len(data["placements"]) == len(plan.placements)
    assert all(p["why"] and "runner_up" in p for p in data["placements"])
    check_snapshot(f"explain-{name}.json", stdout)


def test_explain_infeasible_plan_names_the_reasons(tmp_path: Path) -> None:
    code, stdout, _ = run("explain", str(write_plan(tmp_path, "infeasible")))
    assert code == 0
    assert "tiny-lab: infeasible" in stdout
    assert "unplaced vision-model/training" in stdout and "hardware.gpu_model" in stdout


def test_explain_one_workload_and_width(tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, "hospital-group")
    code, stdout, _ = run("explain", str(plan_file), "-w", "sepsis-us", "--width", "160")
    assert code == 0
    assert "sepsis-us" in stdout and "sepsis-eu" not in stdout and "bed-forecast" not in stdout
    assert max(len(line) for line in stdout.splitlines()) <= 160
    code, _, err = run("explain", str(plan_file), "-w", "sepsis-uk")
    assert code == 2
    assert "no workload 'sepsis-uk' in the plan" in err and "sepsis-us" in err


def _funding(tmp_path: Path) -> tuple[Path, Plan]:
    plan_file = write_plan(tmp_path, "funding")
    plan = Plan.model_validate_json(plan_file.read_text())
    assert plan.status.value == "partial" and [d.workload for d in plan.dropped] == [
        "sepsis-us", "clinic-ch"]
    return plan_file, plan


def test_explain_json_lists_the_dropped_workloads(tmp_path: Path) -> None:
    plan_file, plan = _funding(tmp_path)
    code, stdout, err = run("explain", str(plan_file), "--json")
    assert code == 0, err
    data = json.loads(stdout)
    assert data["dropped"] == [d.model_dump(mode="json") for d in plan.dropped]
    assert data["value_usd"] == str(plan.totals.value_usd)
    # a workload the plan only drops can be picked, and --workload filters the dropped list
    code, stdout, err = run("explain", str(plan_file), "--json", "-w", "sepsis-us")
    assert code == 0, err
    data = json.loads(stdout)
    assert [d["workload"] for d in data["dropped"]] == ["sepsis-us"]
    assert data["placements"] == [] and data["unplaced"] == []
    data = json.loads(run("explain", str(plan_file), "--json", "-w", "sepsis-eu")[1])
    assert data["dropped"] == [] and {p["workload"] for p in data["placements"]} == {"sepsis-eu"}


@pytest.mark.parametrize("width", [40, 60, 80, 120, 200])
def test_explain_table_lists_the_dropped_workloads_at_any_width(
    width: int, tmp_path: Path
) -> None:
    plan_file, plan = _funding(tmp_path)
    code, stdout, err = run("explain", str(plan_file), "--width", str(width))
    assert code == 0, err
    assert max(len(line) for line in stdout.splitlines()) <= width
    head = " ".join(stdout.split("┏")[0].split())  # the headline, however it wraps
    assert head.startswith("hospital-funding: partial (cpsat), 3 of 5 workloads planned, ")
    assert f"value {usd(plan.totals.value_usd)}" in head and "optimal" not in head
    assert "2 workloads not funded" in stdout
    tail = stdout[stdout.index("2 workloads not funded"):]
    words = set(re.findall(r"\S+", tail))
    for d in plan.dropped:
        assert d.workload in tail and f"{d.value_usd:,.2f}" in tail
        for text in [*d.reasons, *(c.rule for c in d.conflicts)]:
            for word in text.split():
                if len(word) < 20:  # longer words may be folded over lines
                    assert word in words or word in tail, (word, width)
    assert tail.count("not known") == 2
    layout = {40: "┃left out · value $", 60: "┃left out · value $", 80: "why left out · adding it",
              120: "┃ adding it", 200: "┃ adding it"}[width]
    assert layout in tail


def test_explain_one_workload_of_a_partial_plan(tmp_path: Path) -> None:
    plan_file, _ = _funding(tmp_path)
    code, stdout, _ = run("explain", str(plan_file), "-w", "bed-forecast")
    assert code == 0
    assert "not funded" not in stdout and "clinic-ch" not in stdout  # nor its unplaced stage
    code, stdout, _ = run("explain", str(plan_file), "-w", "clinic-ch")
    assert code == 0
    assert "1 workload not funded" in stdout and "unplaced clinic-ch/training" in stdout
    assert "sepsis-us" not in stdout


def test_explain_says_what_adding_a_dropped_workload_would_cost(tmp_path: Path) -> None:
    cat = catalog([row("us-east-1", "g.a100", "30", gpu="A100-80GB", gpus=8, vcpus=96,
                       mem=1024, country="US")])
    ws = [{**workload(w, [training(hours=100)]), "value_usd": v}
          for w, v in (("a", 4000), ("b", 9000), ("c", 5000))]
    plan = solve(portfolio(ws, settings={"budget_usd": 7000}), [cat])
    (d,) = plan.dropped
    assert d.add_cost_usd is not None and d.add_drops == ["c"]
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.model_dump_json())
    code, stdout, _ = run("explain", str(plan_file))
    assert code == 0
    assert f"+${d.add_cost_usd:,.2f}, leaves out c" in stdout
    assert "2 of 3 workloads planned" in stdout and "1 workload not funded" in stdout


@pytest.mark.parametrize("name", ["portfolio", "plan"])
def test_committed_schemas_match_the_models(name: str) -> None:
    path = SCHEMA_DIR / f"{name}.schema.json"
    fresh = schema_text(name)
    if UPDATE:
        path.write_text(fresh, "utf-8")
    assert path.exists() and path.read_text("utf-8") == fresh, (
        f"{path.relative_to(REPO)} is out of date with the models; regenerate it with "
        f"`planner schema {name} -o {path.relative_to(REPO)}` (or UPDATE_SNAPSHOTS=1 pytest)"
    )
    schema = json.loads(fresh)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    # draft-07 keywords only (yaml-language-server does not fully support newer drafts)
    assert not re.search(r'"(prefixItems|unevaluated\w+|\$dynamicRef|dependentSchemas)"', fresh)
    assert schema["title"] == f"planner {name}"
    assert schema["additionalProperties"] is False


def test_schema_command_prints_and_writes(tmp_path: Path) -> None:
    code, stdout, _ = run("schema", "portfolio")
    assert code == 0 and stdout == schema_text("portfolio")
    out = tmp_path / "plan.schema.json"
    code, _, err = run("schema", "plan", "-o", str(out))
    assert code == 0 and out.read_text() == schema_text("plan")
    assert "written" in err
    code, _, err = run("schema", "scenario")
    assert code == 2 and "portfolio" in err


def test_portfolio_schema_covers_the_examples() -> None:
    """Every top-level key the examples use is a property of the schema (no jsonschema
    dependency: the full check is pydantic's, which the schema is generated from)."""
    import yaml

    props = json.loads(schema_text("portfolio"))["properties"]
    for example in EXAMPLES.values():
        assert set(yaml.safe_load(example.read_text())) <= set(props)
        first = example.read_text().splitlines()[0]
        if first.startswith("# yaml-language-server:"):
            target = (example.parent / first.split("$schema=", 1)[1].strip()).resolve()
            assert target == (SCHEMA_DIR / "portfolio.schema.json").resolve()


def test_init_writes_a_starter_that_validates_and_plans(tmp_path: Path) -> None:
    target = tmp_path / "acme-ml.yaml"
    code, _, err = run("init", str(target), "--with-schema")
    assert code == 0, err
    text = target.read_text()
    assert text.startswith("# yaml-language-server: $schema=portfolio.schema.json\n")
    assert (tmp_path / "portfolio.schema.json").read_text() == schema_text("portfolio")
    assert text.count("#") > 30  # commented
    portfolio = api.load_portfolio(target)
    assert portfolio.name == "acme-ml"
    plan = api.plan(portfolio, api.load_catalogs(CATALOGS), time_limit_s=10, reproducible=True)
    assert plan.feasible
    assert {p.workload for p in plan.placements} == {w.id for w in portfolio.workloads}
    assert api.verify_plan(portfolio, plan, api.load_catalogs(CATALOGS)) == []


def test_the_starters_commented_allow_list_names_bundled_regions(tmp_path: Path) -> None:
    """Uncommenting the starter's `regions:` example gives a portfolio that validates
    against the bundled catalogs (it named azure:westeurope, which they do not price)."""
    target = tmp_path / "starter.yaml"
    assert run("init", str(target))[0] == 0
    text = target.read_text()
    assert "  # regions: [" in text
    target.write_text(text.replace("  # regions: [", "  regions: ["))
    code, _, err = run("validate", str(target), "--catalogs", str(CATALOGS))
    assert code == 0, err


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "portfolio.yaml"
    target.write_text("mine\n")
    code, _, err = run("init", str(target))
    assert code == 2
    assert "file exists" in err and "--force" in err
    assert target.read_text() == "mine\n"
    code, _, _ = run("init", str(target), "--force")
    assert code == 0 and target.read_text().startswith("# yaml-language-server")
    code, _, err = run("init", str(tmp_path / "no" / "such" / "dir.yaml"))
    assert code == 2 and "directory does not exist" in err


def test_explain_lists_the_most_expensive_placements_of_a_large_plan(tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, "hospital-group")
    plan = Plan.model_validate_json(plan_file.read_text())
    code, stdout, _ = run("explain", str(plan_file), "--limit", "2")
    assert code == 0
    assert f"showing the 2 most expensive of {len(plan.placements)} placements" in stdout
    top = sorted(plan.placements, key=lambda p: -p.cost.total_usd)[:2]
    for p in top:
        assert f"{p.cost.total_usd:,.2f}" in stdout
    cheapest = min(plan.placements, key=lambda p: p.cost.total_usd)
    assert f" {cheapest.cost.total_usd:,.2f} " not in stdout
