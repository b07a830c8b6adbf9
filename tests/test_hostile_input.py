"""Hostile and mistaken input: every command that reads a file answers with one clear
``error:`` line and exit code 2 — never a traceback, never unbounded memory.

Each file in ``tests/hostile/`` (and each large or special file made here) is run
through every command that reads it as a portfolio, a plan or a scenario file.
"""

from __future__ import annotations

import os
import re
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from planner.cli.main import cli
from planner.inputs.files import INPUT_LIMITS, MAX_DEPTH, YAML_LIMIT, MiB
from tests.example_plans import plan_json

REPO = Path(__file__).resolve().parent.parent
HOSTILE = REPO / "tests" / "hostile"
CATALOGS = str(REPO / "catalogs")
PORTFOLIO = str(REPO / "examples" / "hospital-group.yaml")
SCENARIOS = str(REPO / "examples" / "scenarios.yaml")
# Internal model names must never reach a user.
CLASS_NAMES = re.compile(
    r"\b(GpuNeed|ScenarioFile|Scenario|Plan|Portfolio|Workload|Stage|Placement|Residency|"
    r"Dataset|OnpremOffer|OnpremSite|Quota|CloudSettings|Settings|PriceChange|"
    r"CapacityChange|Regulation|Totals|SolverReport|CostSplit|Alternative|_Strict)\b"
    r"|instance of|model_type|Traceback|\bdict\b|object at 0x")
MAX_LINE = 400


def commands(role: str, path: str, plan: str) -> list[list[str]]:
    """Every command line that reads ``path`` as a file of ``role``."""
    cats = ["--catalogs", CATALOGS]
    if role == "portfolio":
        return [["validate", path, *cats], ["plan", path, "-q", *cats],
                ["verify", path, plan, *cats], ["whatif", path, SCENARIOS, *cats],
                ["report", plan, "--portfolio", path]]
    if role == "plan":
        return [["verify", PORTFOLIO, path, *cats], ["diff", path, plan], ["diff", plan, path],
                ["explain", path], ["report", path],
                ["plan", PORTFOLIO, "--previous", path, "-q", *cats]]
    return [["whatif", PORTFOLIO, path, *cats]]


ROLES = ("portfolio", "plan", "scenarios")


@pytest.fixture(scope="module")
def good_plan(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(plan_json("hospital-group"))
    return str(path)


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def assert_clean_error(result: Result, args: list[str], expected: str = "") -> str:
    """Exit code 2, exactly one ``error:`` line on stderr, nothing internal in it."""
    where = " ".join(args)
    err = result.stderr
    lines = err.strip().splitlines()
    assert result.exit_code == 2, f"{where}: exit {result.exit_code}: {err[-2000:]}"
    assert len(lines) == 1, f"{where}: {err[-2000:]}"
    line = lines[0]
    assert line.startswith("error: "), f"{where}: {line}"
    assert not CLASS_NAMES.search(line), f"{where}: internal name in {line!r}"
    assert len(line) <= MAX_LINE, f"{where}: {len(line)} characters"
    assert expected in line, f"{where}: {expected!r} not in {line!r}"
    assert "Traceback" not in result.stdout
    return line


# (file in tests/hostile, roles it is run as, text the error must contain in every role)
PARSE_LEVEL = [
    ("latin1.yaml", "not UTF-8: byte 0xe9 at line 4 column 14"),
    ("latin1.yaml", "save the file as UTF-8"),
    ("nul-byte.yaml", "NUL byte at line 4 column 12"),
    ("utf16-bom.yaml", "UTF-16"),
    ("utf16-no-bom.json", "NUL byte at line 1 column 2"),
    ("duplicate-key.yaml", "duplicate key 'team' at line 4 and line 5"),
    ("duplicate-key.json", "duplicate key 'name' at line 2 and line 4"),
    ("yaml-in.json", "this is YAML, not JSON"),
    ("yaml-in.json", "line 1 column 1"),
    ("broken.json", "invalid JSON at line 4 column 1"),
    ("trailing-comma.json", "invalid JSON at line 3 column 18: a trailing comma before '}'"),
    ("two-documents.yaml", "a second YAML document at line 11"),
    ("python-tag.yaml", "invalid YAML at line 9"),
    ("billion-laughs.yaml", "YAML aliases expand this document"),
    ("recursive-alias.yaml", "*loop at line 10 is inside its own anchor"),
    ("undefined-alias.yaml", "alias *nowhere at line 9 refers to no anchor"),
    ("deep-flow.yaml", f"nested deeper than {MAX_DEPTH} levels at line 2"),
    ("deep-compact.yaml", f"nested deeper than {MAX_DEPTH} levels at line 3"),
    ("deep.json", f"nested deeper than {MAX_DEPTH} levels at line 1"),
    ("tab-indent.yaml", "invalid YAML at line 4"),
    ("long-number.yaml", "a number 5,000 characters long at line 4"),
    ("long-number.json", "a number with 5,000 digits at line 2 column 16"),
    ("huge-value.yaml", ""),
    ("misspelt-key.yaml", ""),
    ("misspelt-nested-key.yaml", ""),
    ("wrong-shape.yaml", ""),
    ("list-root.json", ""),
    ("scalar-root.yaml", ""),
    ("empty.yaml", ""),
    ("comments-only.yaml", ""),
    ("scenarios-root-string.yaml", ""),
    ("scenario-as-list.yaml", ""),
    ("catalog-like.json", ""),
    ("duplicate-scenario-name.yaml", ""),
]


def test_every_committed_hostile_file_is_in_the_table() -> None:
    committed = {p.name for p in HOSTILE.iterdir() if p.name != "README.md"}
    assert committed == {name for name, _ in PARSE_LEVEL}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "expected"), PARSE_LEVEL,
                         ids=[f"{n}:{i}" for i, (n, _) in enumerate(PARSE_LEVEL)])
def test_hostile_file_gives_one_line(name: str, expected: str, role: str,
                                     good_plan: str) -> None:
    for args in commands(role, str(HOSTILE / name), good_plan):
        assert_clean_error(invoke(args), args, expected)


# Messages that depend on what the file was meant to be.
PORTFOLIO_MESSAGES = [
    ("misspelt-key.yaml", "workload: unknown key 'workload', did you mean 'workloads'?"),
    ("misspelt-key.yaml", "planner schema portfolio"),
    ("misspelt-nested-key.yaml",
     "workloads[0].stages[0].hourz: unknown key 'hourz', did you mean 'hours'?"),
    ("wrong-shape.yaml", "workloads[0].stages[0].gpu: expected a mapping with keys models, "
                         "count"),
    ("huge-value.yaml", "(got 'xxxxxxxxx"),
    ("list-root.json", "expected a mapping with keys name, workloads"),
    ("scalar-root.yaml", "got the string 'just a string'"),
    ("empty.yaml", "the file is empty"),
    ("comments-only.yaml", "the file is empty"),
    ("catalog-like.json", "this looks like a price catalog, not a portfolio"),
]


@pytest.mark.parametrize(("name", "expected"), PORTFOLIO_MESSAGES)
def test_portfolio_messages(name: str, expected: str) -> None:
    args = ["validate", str(HOSTILE / name), "--catalogs", CATALOGS]
    assert_clean_error(invoke(args), args, expected)


@pytest.mark.parametrize(("name", "expected"), [
    ("scenarios-root-string.yaml", "expected a mapping with keys scenarios, got the string"),
    ("scenario-as-list.yaml", "scenarios[0]: expected a mapping with keys name, description"),
    ("scenario-as-list.yaml", "see examples/scenarios.yaml"),
    ("misspelt-key.yaml", "this looks like a portfolio, not a scenario file"),
    ("duplicate-scenario-name.yaml",
     "scenarios[1].name: scenario name 'prices-up' is used twice (scenarios[0] has it too)"),
])
def test_scenario_messages(name: str, expected: str) -> None:
    args = ["whatif", PORTFOLIO, str(HOSTILE / name), "--catalogs", CATALOGS]
    assert_clean_error(invoke(args), args, expected)


def test_broken_json_is_not_called_yaml() -> None:
    # A trailing comma is valid YAML flow style, but a file that opens like JSON is JSON.
    args = ["validate", str(HOSTILE / "trailing-comma.json"), "--catalogs", CATALOGS]
    line = assert_clean_error(invoke(args), args, "(remove that comma)")
    assert "YAML" not in line


def test_plan_messages_name_the_plan_schema(tmp_path: Path, good_plan: str) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(Path(good_plan).read_text().replace('"placements"', '"placement"', 1))
    args = ["verify", PORTFOLIO, str(bad), "--catalogs", CATALOGS]
    line = assert_clean_error(invoke(args), args, "did you mean 'placements'?")
    assert "planner schema plan" in line


@pytest.mark.parametrize(("given", "role", "expected"), [
    (PORTFOLIO, "plan", "this looks like a portfolio, not a plan"),
    ("PLAN", "portfolio", "this looks like a plan, not a portfolio"),
    ("PLAN", "scenarios", "this looks like a plan, not a scenario file"),
    (SCENARIOS, "portfolio", "this looks like a scenario file, not a portfolio"),
    (PORTFOLIO, "scenarios", "this looks like a portfolio, not a scenario file"),
])
def test_wrong_kind_of_file(given: str, role: str, expected: str, good_plan: str) -> None:
    path = good_plan if given == "PLAN" else given
    for args in commands(role, path, good_plan):
        assert_clean_error(invoke(args), args, expected)


# --- large, deep and special files, made here ---------------------------------------

def _deep_block(tmp: Path) -> Path:
    path = tmp / "deep-block.yaml"
    path.write_text("".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "v\n")
    return path


def _big_yaml(tmp: Path) -> Path:
    path = tmp / "big.yaml"
    line = "# " + "padding " * 12 + "\n"
    with path.open("w") as handle:
        handle.write("name: big\n")
        handle.write(line * (20 * MiB // len(line) + 1))
    return path


def _sparse_json(tmp: Path) -> Path:
    path = tmp / "huge-plan.json"
    with path.open("wb") as handle:
        handle.truncate(max(INPUT_LIMITS.values()) + MiB)  # sparse: no disk used
    return path


def _directory(tmp: Path) -> Path:
    (tmp / "a-directory.yaml").mkdir()
    return tmp / "a-directory.yaml"


def _fifo(tmp: Path) -> Path:
    path = tmp / "pipe.yaml"
    os.mkfifo(path)
    return path


def _plan_with(tmp: Path, extra: str, suffix: str) -> Path:
    path = tmp / f"plan-extra{suffix}"
    path.write_text(plan_json("hospital-group").rstrip().rstrip("}") + f',\n  {extra}\n}}\n')
    return path


def _plan_bomb(tmp: Path) -> Path:
    data = yaml.safe_load(plan_json("hospital-group"))
    text = yaml.safe_dump(data, sort_keys=False)
    bomb = "x_from_the_future:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    bomb += "".join(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n"
                    for i in range(1, 10))
    path = tmp / "plan-bomb.yaml"
    path.write_text(text + bomb)
    return path


SPECIAL: list[tuple[str, Callable[[Path], Path], str, tuple[str, ...]]] = [
    ("deep-block", _deep_block, f"nested deeper than {MAX_DEPTH} levels at line {MAX_DEPTH + 1}",
     ROLES),
    ("20-MB-yaml", _big_yaml, f"larger than the {YAML_LIMIT // MiB} MiB limit", ROLES),
    ("sparse-json-over-the-plan-limit", _sparse_json, "larger than the", ROLES),
    ("directory", _directory, "a directory, not a file", ROLES),
    ("fifo", _fifo, "a FIFO (named pipe), not a file", ROLES),
    ("plan-deep-unknown-field", lambda t: _plan_with(t, '"x_new": ' + "[" * 5000 + "]" * 5000,
                                                      ".json"),
     f"nested deeper than {MAX_DEPTH} levels", ("plan",)),
    ("plan-alias-bomb-unknown-field", _plan_bomb, "YAML aliases expand", ("plan",)),
    ("plan-duplicate-key", lambda t: _plan_with(t, '"status": "optimal"', ".json"),
     "duplicate key 'status'", ("plan",)),
]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
@pytest.mark.parametrize(("name", "make", "expected", "roles"), SPECIAL,
                         ids=[s[0] for s in SPECIAL])
def test_special_files(name: str, make: Callable[[Path], Path], expected: str,
                       roles: tuple[str, ...], tmp_path: Path, good_plan: str) -> None:
    path = str(make(tmp_path))
    for role in roles:
        for args in commands(role, path, good_plan):
            assert_clean_error(invoke(args), args, expected)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("role", ROLES)
def test_dev_zero(role: str, good_plan: str) -> None:
    for args in commands(role, "/dev/zero", good_plan):
        assert_clean_error(invoke(args), args, "a device, not a file")


def _peak_bytes(args: list[str]) -> tuple[Result, int]:
    tracemalloc.start()
    try:
        result = invoke(args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("name", "make", "role"), [
    ("20-MB-yaml", _big_yaml, "portfolio"),
    ("sparse-json-over-the-plan-limit", _sparse_json, "plan"),
    ("plan-alias-bomb-unknown-field", _plan_bomb, "plan"),
])
def test_refused_before_memory_grows(name: str, make: Callable[[Path], Path], role: str,
                                     tmp_path: Path, good_plan: str) -> None:
    """Too-large files are refused without being read; alias bombs before expanding
    (unbounded, each would take gigabytes)."""
    path = str(make(tmp_path))
    args = commands(role, path, good_plan)[0 if role == "portfolio" else 3]  # validate, explain
    result, peak = _peak_bytes(args)
    assert_clean_error(result, args)
    assert peak < 64 * MiB, f"{name}: peak {peak / MiB:.1f} MiB of Python objects"


def _many_items(tmp: Path) -> Path:
    path = tmp / "many-items.json"
    path.write_text('{"name": "x", "workloads": [' + ",".join(["1"] * 1_000_000) + "]}")
    return path


def _many_keys(tmp: Path) -> Path:
    path = tmp / "many-keys.yaml"
    path.write_text("name: x\nworkloads: []\n" + "".join(f"k{i}: {i}\n"
                                                         for i in range(200_000)))
    return path


@pytest.mark.parametrize(("make", "expected"), [
    (_many_items, "workloads[0]: expected a mapping with keys id, team"),
    (_many_keys, "unknown key 'k0'"),
], ids=["million-wrong-items", "200k-unknown-keys"])
def test_junk_fails_on_a_sample(make: Callable[[Path], Path], expected: str,
                                tmp_path: Path) -> None:
    """Pydantic keeps every error (a 2 MB list of a million wrong items: 1.7 GB); a
    sample of a large document is validated first."""
    args = ["validate", str(make(tmp_path))]
    result, peak = _peak_bytes(args)
    assert_clean_error(result, args, expected)
    assert peak < 200 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_limit_can_be_raised_and_lowered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    big = tmp_path / "portfolio.yaml"
    big.write_text(Path(PORTFOLIO).read_text() + "#" * (2 * MiB) + "\n")
    args = ["validate", str(big), "--catalogs", CATALOGS]
    assert invoke(args).exit_code == 0
    monkeypatch.setenv("PLANNER_MAX_INPUT_MIB", "1")
    assert_clean_error(invoke(args), args, "larger than the 1 MiB limit")


def test_yaml_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    """Shared settings through anchors are fine; only blow-ups are refused."""
    text = Path(PORTFOLIO).read_text()
    assert "&" not in text
    path = tmp_path / "anchors.yaml"
    path.write_text(text + "\nx_defaults: &d {a: 1}\n")
    shared = (
        "name: shared\nworkloads:\n"
        "  - &w {id: a, team: t, dataset: {size_gb: 1, home: 'aws:us-east-1'},\n"
        "        stages: [{kind: training, gpu: &g {models: {H100: 1.0}, count: 1}, hours: 5}]}\n"
        "  - <<: *w\n    id: b\n"
        "  - {id: c, team: t, dataset: {size_gb: 1, home: 'aws:us-east-1'},\n"
        "     stages: [{kind: training, gpu: *g, hours: 7}]}\n")
    path.write_text(shared)
    result = invoke(["validate", str(path), "--catalogs", CATALOGS])
    assert result.exit_code == 0, result.stderr
    assert "3 workloads" in result.stdout


# --- output paths ---------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["plan", PORTFOLIO, "-q", "--catalogs", CATALOGS, "-o", "{missing}/plan.json"],
    ["whatif", PORTFOLIO, SCENARIOS, "--catalogs", CATALOGS, "-o", "{missing}/report.json"],
    ["report", "{plan}", "-o", "{missing}/report.html"],
    ["schema", "plan", "-o", "{missing}/plan.schema.json"],
    ["init", "{missing}/portfolio.yaml"],
], ids=lambda a: a[0])
def test_output_into_a_missing_directory(args: list[str], tmp_path: Path,
                                         good_plan: str) -> None:
    missing = tmp_path / "no-such-dir"
    argv = [a.format(missing=missing, plan=good_plan) for a in args]
    assert_clean_error(invoke(argv), argv, "directory does not exist")
    assert not missing.exists()


@pytest.mark.parametrize("args", [
    ["plan", PORTFOLIO, "-q", "--catalogs", CATALOGS, "-o", "{dir}"],
    ["report", "{plan}", "-o", "{dir}"],
    ["schema", "portfolio", "-o", "{dir}"],
], ids=lambda a: a[0])
def test_output_is_a_directory(args: list[str], tmp_path: Path, good_plan: str) -> None:
    argv = [a.format(dir=tmp_path, plan=good_plan) for a in args]
    assert_clean_error(invoke(argv), argv, "is a directory")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="permissions do not bind root")
def test_output_permission_denied(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        argv = ["schema", "plan", "-o", str(locked / "plan.schema.json")]
        assert_clean_error(invoke(argv), argv, "permission denied")
    finally:
        locked.chmod(0o700)


def test_output_below_a_file_says_it_is_a_file(tmp_path: Path) -> None:
    a_file = tmp_path / "plan.json"
    a_file.write_text("{}")
    argv = ["plan", PORTFOLIO, "-q", "--catalogs", CATALOGS, "-o", f"{a_file}/x.json"]
    assert_clean_error(invoke(argv), argv, "is a file, not a directory")
    assert a_file.read_text() == "{}"


def test_brackets_in_names_are_text_not_markup(tmp_path: Path) -> None:
    """A `[/]` in a portfolio name, a team or a scenario name was read as Rich markup: the
    plan was written, then the summary crashed with a traceback (exit 1)."""
    data = yaml.safe_load(Path(PORTFOLIO).read_text())
    data["name"] = "hg[/]x"
    data["workloads"][0]["team"] = "[/red]imaging[bold]"
    portfolio = tmp_path / "p.yaml"
    portfolio.write_text(yaml.safe_dump(data, sort_keys=False))
    scenarios = tmp_path / "s.yaml"
    scenarios.write_text(yaml.safe_dump({"scenarios": [
        {"name": "[/bad] [bold]x", "price_multipliers": [{"provider": "aws", "factor": 1.1}]}]}))
    for argv in (["plan", str(portfolio), "--catalogs", CATALOGS, "-o", str(tmp_path / "x.json"),
                  "--time-limit", "10"],
                 ["whatif", str(portfolio), str(scenarios), "--catalogs", CATALOGS,
                  "--executor", "serial", "--time-limit", "10"],
                 ["regions", str(portfolio), "--catalogs", CATALOGS],
                 ["explain", str(tmp_path / "x.json")]):
        result = invoke(argv)
        assert result.exit_code == 0, (argv, result.output)
        assert "Traceback" not in result.output
    assert "hg[/]x" in invoke(["explain", str(tmp_path / "x.json")]).output
