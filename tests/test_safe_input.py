"""The pieces behind clean input errors: the bounded YAML/JSON loaders, the messages,
the atomic output writer and the last-resort error handler."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cli.common import friendly_errors, write_output
from planner.errors import InputError, one_line
from planner.inputs.files import read_bytes, read_document, validate_as
from planner.inputs.messages import guess_kind, short
from planner.inputs.probe import PROBE_ITEMS, probe_errors
from planner.inputs.safe_json import JsonLimitError, load_json
from planner.inputs.safe_yaml import ALIAS_ALLOWANCE, YamlLimitError, load_yaml
from planner.models.portfolio import Portfolio

# --- YAML -------------------------------------------------------------------------------

def test_yaml_features_that_stay() -> None:
    text = ("base: &b {a: 1, b: [x, y]}\ncopy: *b\nmerged:\n  <<: *b\n  a: 2\n"
            "when: 2026-01-01\nflag: yes\nnothing: ~\n")
    data = load_yaml(text, 64)
    assert data["copy"] == {"a": 1, "b": ["x", "y"]}
    assert data["merged"] == {"a": 2, "b": ["x", "y"]}
    assert data["flag"] is True and data["nothing"] is None
    assert str(data["when"]) == "2026-01-01"


def _documents(text: st.SearchStrategy[str]) -> st.SearchStrategy[object]:
    return st.recursive(
        st.none() | st.booleans() | st.integers(-10**6, 10**6) | text,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=20)


# YAML and JSON differ on surrogate escapes and raw control characters; the rest is shared.
PRINTABLE = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=8)


@settings(max_examples=200, deadline=None)
@given(_documents(st.text(max_size=8)))
def test_json_loader_agrees_with_json(value: object) -> None:
    text = json.dumps(value)
    assert load_json(text, 64) == json.loads(text)


@settings(max_examples=200, deadline=None)
@given(_documents(PRINTABLE))
def test_yaml_loader_agrees_with_pyyaml(value: object) -> None:
    """On ordinary documents the bounded loader gives what PyYAML's safe_load gives."""
    for text in (json.dumps(value, ensure_ascii=False), yaml.safe_dump(value)):
        assert load_yaml(text, 64) == yaml.safe_load(text)


@pytest.mark.parametrize("depth", [63, 64])
def test_depth_limit_is_exact(depth: int) -> None:
    text = "[" * depth + "]" * depth
    assert load_json(text, 64) is not None
    assert load_yaml(text, 64) is not None


@pytest.mark.parametrize("text", ["[" * 65 + "]" * 65, '{"a":' * 65 + "1" + "}" * 65])
def test_too_deep_by_one(text: str) -> None:
    with pytest.raises(JsonLimitError, match="nested deeper than 64 levels at line 1"):
        load_json(text, 64)
    with pytest.raises(YamlLimitError, match="nested deeper than 64 levels at line 1"):
        load_yaml(text, 64)


def test_brackets_inside_strings_are_not_nesting() -> None:
    text = json.dumps({"a": "[" * 500, "b": ['{"' * 100]})
    assert load_json(text, 64)["a"] == "[" * 500


def test_alias_growth_bound() -> None:
    """Aliases may repeat a block many times, but not blow the document up."""
    block = "x: &x [" + ", ".join(["v"] * 99) + "]\n"  # 100 values
    uses = ALIAS_ALLOWANCE // 100
    assert len(load_yaml(block + "".join(f"y{i}: *x\n" for i in range(uses // 2)), 64)) > 1
    with pytest.raises(YamlLimitError, match="aliases expand"):
        load_yaml(block + "y: [" + ", ".join(["*x"] * (2 * uses)) + "]\n", 64)


def test_numbers_longer_than_python_converts() -> None:
    """Python refuses to convert integers of more than 4,300 digits (a ValueError)."""
    with pytest.raises(JsonLimitError, match="a number with 5,000 digits at line 2 column 7"):
        load_json('{"a": 1,\n "b": ' + "9" * 5000 + "}", 64)
    with pytest.raises(YamlLimitError, match="a number 5,000 characters long at line 2"):
        load_yaml("a: 1\nb: " + "9" * 5000 + "\n", 64)
    assert load_yaml("b: " + "9" * 4000, 64)["b"] == int("9" * 4000)
    assert short(int("9" * 4000)) == "a number of about 4,000 digits"


@pytest.mark.parametrize(("value", "why"), [
    ("2027-13-04", "month must be in 1..12"),
    ("2027-02-30", "day is out of range for month"),
    ("2027-02-08 25:00:00", "hour must be in 0..23"),
])
def test_a_date_that_is_no_calendar_date_names_its_line(value: str, why: str) -> None:
    # YAML reads an unquoted 2027-13-04 as a timestamp, and PyYAML's constructor raised a
    # bare ValueError from deep inside the loader (a traceback for `planner plan`).
    with pytest.raises(YamlLimitError, match=f"'{value}' at line 2 is no calendar date "
                                             f"\\({why}; write YYYY-MM-DD"):
        load_yaml(f"a: 1\nb: {value}\n", 64)
    assert str(load_yaml("b: 2027-02-28", 64)["b"]) == "2027-02-28"


def test_an_anchor_is_defined_once() -> None:
    with pytest.raises(YamlLimitError, match="anchor &x is defined twice, at line 1 and line 2"):
        load_yaml("a: &x 1\nb: &x [*x]\n", 64)


def test_duplicate_keys_nested_and_numeric() -> None:
    with pytest.raises(YamlLimitError, match="duplicate key 'b' at line 2 and line 3"):
        load_yaml("a:\n  b: 1\n  b: 2\n", 64)
    with pytest.raises(YamlLimitError, match="duplicate key '1'"):
        load_yaml("{1: a, 1: b}", 64)
    with pytest.raises(JsonLimitError, match="duplicate key 'b' at line 3 and line 4"):
        load_json('{"a": {\n "x": 1,\n "b": 1,\n "b": 2}}', 64)


# --- reading files ------------------------------------------------------------------------

def test_read_bytes_refuses_a_growing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """The size from stat is not trusted: at most limit + 1 bytes are read."""
    path = tmp_path / "p.yaml"
    path.write_bytes(b"#" * (3 << 20))
    monkeypatch.setenv("PLANNER_MAX_INPUT_MIB", "1")
    real_fstat = os.fstat

    class Small:
        def __init__(self, st: os.stat_result) -> None:
            self.st_mode, self.st_size = st.st_mode, 10

    monkeypatch.setattr(os, "fstat", lambda fd: Small(real_fstat(fd)))
    with pytest.raises(InputError, match="larger than the 1 MiB limit"):
        read_bytes(path, "portfolio")


@pytest.mark.parametrize("value", ["0.001", "0", "-5", "lots"])
def test_a_limit_that_is_not_a_whole_number_of_mib_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    # Ignoring it would read the file under a limit the user did not ask for.
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\n")
    monkeypatch.setenv("PLANNER_MAX_INPUT_MIB", value)
    with pytest.raises(InputError, match="whole number of MiB") as err:
        read_bytes(path, "portfolio")
    assert "PLANNER_MAX_INPUT_MIB" in str(err.value)


def test_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}')
    assert read_document(path) == {"a": 1}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found") as err:
        read_document(tmp_path / "nope.yaml")
    assert "check the path" in str(err.value)


# --- messages -----------------------------------------------------------------------------

def test_short_values_stay_short() -> None:
    assert len(short("x" * 10_000)) == 60
    assert short(list(range(10_000))) == "list of 10,000 items"
    assert short({str(i): i for i in range(100)}) == "a mapping of 100 items"


def test_values_yaml_made_from_unquoted_text_are_shown_as_written() -> None:
    assert short(date(2026, 1, 1)) == "2026-01-01, a date: quote it if it is text"
    assert short({"b", "a"}) == "a set {'a', 'b'}"
    assert short(b"\x00" * 9) == "binary data (9 bytes)"


def test_errors_are_one_line_whatever_the_file_holds() -> None:
    err = InputError("unknown key 'a\nb\x1b[31m'", source="dir\n/p.yaml", hint="fix\r it")
    assert "\n" not in str(err) and "\x1b" not in str(err) and "\r" not in str(err)
    assert "a\\nb\\x1b[31m" in str(err)
    assert one_line("café naïve") == "café naïve"


def test_guess_kind_tolerates_typos() -> None:
    assert guess_kind({"name": "x", "workload": []}) == ("portfolio", ["workload"])
    assert guess_kind({"name": "x"}) is None


# --- writing files ------------------------------------------------------------------------

def test_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old plan")
    with pytest.raises(UnicodeEncodeError):
        write_output(target, "new plan, half written \ud800 and then it fails")
    assert target.read_text() == "old plan"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_write_replaces_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old")
    target.chmod(0o640)
    write_output(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    fresh = tmp_path / "fresh.json"
    write_output(fresh, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_write_to_a_device_is_direct() -> None:
    write_output(Path("/dev/null"), "discarded")


# --- the last resort ----------------------------------------------------------------------

@pytest.mark.parametrize("exc", [
    RecursionError("maximum recursion depth exceeded"),
    MemoryError(),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    IsADirectoryError(21, "Is a directory", "somewhere"),
])
def test_friendly_errors_last_resort(exc: BaseException) -> None:
    @click.command()
    @friendly_errors
    def boom() -> None:
        raise exc

    result = CliRunner().invoke(boom, [], catch_exceptions=False)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr


BASE = """name: words
onprem:
  - id: onprem:lab
    country: DE
    offers:
      - {id: l4-box, gpu_model: L4, gpu_count: 1, vcpus: 16, memory_gib: 64, nodes: 1,
         price_per_hour: 1.0}
workloads:
  - id: w
    team: t
    dataset: {size_gb: 1, home: "onprem:lab"}
    stages: [{kind: training, gpu: {models: {L4: 1.0}, count: 1}, hours: 5}]
"""


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("hours: 5", "hours: five", "workloads[0].stages[0].hours: expected a number (got 'five')"),
    ("hours: 5", "hours: [5]", "expected a number (got a list)"),
    ("count: 1}", "count: 1.5}", "gpu.count: expected a whole number (got 1.5)"),
    ("id: w", "id: 2026-01-01", "expected a string (got 2026-01-01, a date: quote it"),
    ("team: t", "team: {a: 1}", "workloads[0].team: expected a string (got a mapping)"),
    (",\n         price_per_hour: 1.0}", "}",
     "onprem[0].offers[0]: give exactly one of price_per_hour or amortization"),
])
def test_type_errors_in_plain_words(old: str, new: str, expected: str) -> None:
    assert old in BASE
    with pytest.raises(InputError) as info:
        validate_as(Portfolio, yaml.safe_load(BASE.replace(old, new)), "p.yaml")
    assert expected in str(info.value)
    assert "Decimal" not in str(info.value) and "Value error" not in str(info.value)
    assert not str(info.value).endswith("amortization (got a mapping)")


def test_probe_trusts_only_errors_of_one_value() -> None:
    """A large document with one error after the sample, or an error the cut causes,
    is validated whole: the sample never invents an error."""
    stage = {"kind": "training", "gpu": {"models": {"L4": 1.0}, "count": 1}, "hours": 5}
    workload = {"id": "w", "team": "t", "dataset": {"size_gb": 1, "home": "onprem:lab"},
                "stages": [stage]}
    data = yaml.safe_load(BASE)
    data["workloads"] = [dict(workload, id=f"w{i}") for i in range(PROBE_ITEMS + 50)]
    assert probe_errors(Portfolio, data) == []
    validate_as(Portfolio, data, "p.yaml")
    data["workloads"][-1] = dict(workload, hours=5)
    with pytest.raises(InputError, match=rf"workloads\[{PROBE_ITEMS + 49}\].hours: unknown key"
                       r" 'hours' \(remove"):
        validate_as(Portfolio, data, "p.yaml")
    data["workloads"][0] = dict(workload, hours=5)
    with pytest.raises(InputError, match=r"workloads\[0\].hours: unknown key 'hours'; and maybe"):
        validate_as(Portfolio, data, "p.yaml")
