"""Hostile catalog files given through ``--catalogs DIR`` (or $PLANNER_CATALOGS).

Every malformed catalog must give exactly one ``error:`` line naming the file and
the path in it, exit code 2 and never a traceback, from every command that reads
catalogs: ``validate``, ``plan``, ``catalog status`` and ``catalog show``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from planner.catalog import load
from planner.catalog.load import MAX_CATALOG_BYTES, load_catalog_file, read_catalog_bytes
from planner.catalog.schema import MAX_PRICE_PER_HOUR
from planner.cli.main import cli
from planner.errors import CatalogError
from tests.builders import training, workload

BUNDLED = Path(__file__).resolve().parents[2] / "catalogs" / "aws.json"

Mutation = Callable[[dict[str, Any]], Any]


def base() -> dict[str, Any]:
    """The bundled AWS snapshot as a JSON document (a real, valid catalog)."""
    data: dict[str, Any] = json.loads(BUNDLED.read_bytes())
    return data


def row_of(data: dict[str, Any], region: str) -> int:
    """Index of the first row of ``region``."""
    return next(i for i, r in enumerate(data["rows"]) if r["region"] == region)


def setting(field: str, value: Any, row: int = 0) -> Mutation:
    def mutate(data: dict[str, Any]) -> dict[str, Any]:
        data["rows"][row][field] = value
        return data

    return mutate


def setting_top(field: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> dict[str, Any]:
        data[field] = value
        return data

    return mutate


def dropping(field: str, row: int | None = 0) -> Mutation:
    def mutate(data: dict[str, Any]) -> dict[str, Any]:
        del (data["rows"][row] if row is not None else data)[field]
        return data

    return mutate


def empty_region(data: dict[str, Any]) -> dict[str, Any]:
    data["rows"] = [r for r in data["rows"] if r["region"] != "eu-central-1"]
    return data


def duplicate_row(data: dict[str, Any]) -> dict[str, Any]:
    data["rows"].insert(1, dict(data["rows"][0], price_per_hour=0.5))
    return data


def unlisted_region(data: dict[str, Any]) -> dict[str, Any]:
    data["rows"].append(dict(data["rows"][0], region="eu-south-9"))
    return data


def in_another_country(data: dict[str, Any]) -> dict[str, Any]:
    """Frankfurt's first row says US (residency is decided on a row's country)."""
    data["rows"][row_of(data, "eu-central-1")]["country"] = "US"
    return data


def gpu_model_without_count(data: dict[str, Any]) -> dict[str, Any]:
    i = next(i for i, r in enumerate(data["rows"]) if r.get("gpu_model"))
    data["rows"][i]["gpu_count"] = 0
    return data


def nested(levels: int) -> Mutation:
    def mutate(data: dict[str, Any]) -> str:
        data["source"]["parameters"]["deep"] = "@DEEP@"
        return json.dumps(data).replace('"@DEEP@"', "[" * levels + "]" * levels)

    return mutate


def literal(field: str, text: str, row: int = 0) -> Mutation:
    """Put a raw JSON token (NaN, Infinity, 1e999 …) into a row field."""

    def mutate(data: dict[str, Any]) -> str:
        data["rows"][row][field] = "@VALUE@"
        return json.dumps(data).replace('"@VALUE@"', text, 1)

    return mutate


def raw(data: bytes) -> Mutation:
    return lambda _data: data


# (id, mutation of the bundled catalog, path expected in the error line, message expected)
CASES: list[tuple[str, Mutation, str, str]] = [
    ("truncated", lambda d: json.dumps(d, indent=1)[:20000], "", "not valid JSON"),
    ("empty-file", raw(b""), "", "not valid JSON"),
    ("not-utf8", raw(b'{"rows": "\xff\xfe"}'), "", "not valid JSON"),
    ("top-level-list", lambda d: [d], "(top level)", "must be a JSON object, got an array"),
    ("top-level-string", lambda d: '"catalog"', "(top level)", "got a string"),
    ("top-level-null", lambda d: None, "(top level)", "got null"),
    ("nan-price", literal("price_per_hour", "NaN"), "rows[0].price_per_hour", "NaN"),
    ("infinite-memory", literal("memory_gib", "Infinity", 3), "rows[3].memory_gib",
     "Infinity is not a number"),
    ("minus-infinity-spot", literal("spot_price_per_hour", "-Infinity"),
     "rows[0].spot_price_per_hour", "-Infinity"),
    ("overflowing-price", literal("price_per_hour", "1e999"), "rows[0].price_per_hour",
     "finite number"),
    ("negative-price", setting("price_per_hour", -0.5, 7), "rows[7].price_per_hour",
     "must not be negative"),
    ("huge-price", setting("price_per_hour", 1e300), "rows[0].price_per_hour",
     f"above the sane maximum of {MAX_PRICE_PER_HOUR} USD/h"),
    ("huge-spot", setting("spot_price_per_hour", 1001), "rows[0].spot_price_per_hour",
     "sane maximum"),
    ("huge-egress", lambda d: {**d, "egress": {**d["egress"], "internet_per_gb": 1e300}},
     "egress.internet_per_gb", "less than or equal to 10"),
    ("zero-row-region", empty_region, "regions[", "region 'eu-central-1' has no rows"),
    ("no-rows", lambda d: {**d, "rows": []}, "rows", "the catalog has no rows"),
    ("deeply-nested", nested(100_000), "", "nested too deeply"),
    ("nested-parameters", nested(40), "source.parameters", "more than 32 levels"),
    ("vcpus-string", setting("vcpus", "many"), "rows[0].vcpus", "valid integer, got 'many'"),
    ("vcpus-bool", setting("vcpus", True), "rows[0].vcpus", "valid integer, got True"),
    ("vcpus-huge", setting("vcpus", 10**9), "rows[0].vcpus", "less than or equal to 4096"),
    ("memory-string", setting("memory_gib", "16"), "rows[0].memory_gib", "valid number"),
    ("restrictions-string", setting("restrictions", "none"), "rows[0].restrictions",
     "valid list"),
    ("region-number", setting("region", 5), "rows[0].region", "valid string"),
    ("row-not-object", lambda d: {**d, "rows": ["p5.48xlarge", *d["rows"]]}, "rows[0]",
     "valid dictionary"),
    ("rows-not-list", lambda d: {**d, "rows": {"a": 1}}, "rows", "valid list"),
    ("integer-too-long", literal("vcpus", "9" * 5000), "", "not valid JSON"),
    ("duplicate-row", duplicate_row, "rows[1]", "duplicate row"),
    ("unlisted-region", unlisted_region, "region", "'eu-south-9' is not in the fetched"),
    ("unknown-gpu", setting("gpu_model", "H10"), "rows[0].gpu_model",
     "unknown GPU model 'H10' (did you mean 'H100'?)"),
    ("gpu-count-without-model", setting("gpu_count", 8), "rows[0]", "gpu_model is empty"),
    ("missing-price", dropping("price_per_hour"), "rows[0].price_per_hour", "Field required"),
    ("missing-rows", dropping("rows", None), "rows", "Field required"),
    ("negative-egress", setting_top("egress", {"same_provider_per_gb": -1,
                                               "internet_per_gb": 0.09}),
     "egress.same_provider_per_gb", "greater than or equal to 0"),
    ("unknown-field", setting("discount", 0.5), "rows[0].discount", "Extra inputs"),
    ("wrong-provider-row", setting("provider", "azure"), "rows[0].provider",
     "'azure' in a 'aws' catalog"),
    ("bad-schema-version", lambda d: {**d, "schema_version": 99}, "schema_version",
     "unsupported schema_version 99"),
    ("country-not-iso", setting("country", "XX"), "rows[0].country",
     "'XX' is not an ISO 3166-1 alpha-2 country code"),
    ("country-of-another-region", in_another_country, ".country",
     "region eu-central-1 is in DE (Germany), not US"),
    ("gpu-model-without-count", gpu_model_without_count, "rows[", "but gpu_count 0"),
    ("duplicate-key", literal("price_per_hour", '0.01, "price_per_hour": 27.4'), "",
     "the key 'price_per_hour' appears twice in one object"),
]


def write_hostile(directory: Path, mutate: Mutation) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    out = mutate(base())
    data = out if isinstance(out, bytes) else (out if isinstance(out, str) else json.dumps(out))
    path = directory / "aws.json"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny AWS-only portfolio (one training stage on 8 A100-80GB)."""
    path = tmp_path_factory.mktemp("portfolio") / "tiny.yaml"
    doc = {"name": "tiny", "cloud": {"providers": ["aws"]},
           "workloads": [workload("w1", [training(hours=10, gpus=8)])]}
    path.write_text(yaml.safe_dump(doc))
    return path


def commands(portfolio: Path, directory: Path) -> dict[str, list[str]]:
    d = str(directory)
    return {
        "validate": ["validate", str(portfolio), "--catalogs", d],
        "plan": ["plan", str(portfolio), "--catalogs", d, "--quiet", "--time-limit", "10"],
        "status": ["catalog", "status", "--catalogs", d],
        "show": ["catalog", "show", "--gpu", "A100", "--catalogs", d],
    }


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=env)


def assert_one_error_line(result: Result, catalog: Path, where: str, message: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(f"error: {catalog}: "), line
    assert where in line and message in line, line


def test_the_unmodified_catalog_works(portfolio: Path, tmp_path: Path) -> None:
    """Control: the same commands succeed on the bundled catalog (so the cases can fail)."""
    write_hostile(tmp_path, lambda d: d)
    for name, args in commands(portfolio, tmp_path).items():
        result = invoke(args)
        assert result.exit_code == 0, (name, result.output)


@pytest.mark.parametrize(("mutate", "where", "message"),
                         [pytest.param(m, w, msg, id=i) for i, m, w, msg in CASES])
def test_hostile_catalog_gives_one_line_and_exit_2(portfolio: Path, tmp_path: Path,
                                                   mutate: Mutation, where: str,
                                                   message: str) -> None:
    catalog = write_hostile(tmp_path / "catalogs", mutate)
    for args in commands(portfolio, catalog.parent).values():
        assert_one_error_line(invoke(args), catalog, where, message)


def test_hostile_catalog_through_the_environment(portfolio: Path, tmp_path: Path) -> None:
    catalog = write_hostile(tmp_path / "env-catalogs", setting("price_per_hour", "NaN"))
    env = {"PLANNER_CATALOGS": str(catalog.parent)}
    for args in (["validate", str(portfolio)], ["catalog", "status"],
                 ["catalog", "show", "--gpu", "H100"]):
        assert_one_error_line(invoke(args, env), catalog, "rows[0].price_per_hour",
                              "finite number")


def test_file_over_the_size_limit_is_refused_unread(portfolio: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = write_hostile(tmp_path / "catalogs", lambda d: d)
    monkeypatch.setattr(load, "MAX_CATALOG_BYTES", catalog.stat().st_size - 1)
    for args in commands(portfolio, catalog.parent).values():
        assert_one_error_line(invoke(args), catalog, "", "file is larger than")


def test_sparse_file_over_the_real_limit(tmp_path: Path) -> None:
    """A file of MAX_CATALOG_BYTES + 1 (sparse: no disk used) is refused before reading."""
    path = tmp_path / "aws.json"
    with path.open("wb") as fh:
        fh.truncate(MAX_CATALOG_BYTES + 1)
    with pytest.raises(CatalogError, match=r"larger than 128 MiB"):
        read_catalog_bytes(path)


def test_growing_file_is_bounded_while_reading(tmp_path: Path) -> None:
    """The size is checked on the bytes actually read too (a file that grew after stat)."""
    path = tmp_path / "aws.json"
    path.write_bytes(b" " * 100)
    with pytest.raises(CatalogError, match="larger than"):
        read_catalog_bytes(path, limit=99)
    assert read_catalog_bytes(path, limit=100) == b" " * 100


@pytest.mark.parametrize("kind", ["directory", "device", "dangling-symlink"])
def test_catalog_that_is_not_a_regular_file(kind: str, portfolio: Path, tmp_path: Path) -> None:
    directory = tmp_path / "catalogs"
    directory.mkdir()
    path = directory / "aws.json"
    if kind == "directory":
        path.mkdir()
    elif kind == "device":
        if not os.path.exists("/dev/zero"):
            pytest.skip("no /dev/zero")
        path.symlink_to("/dev/zero")  # would never end if read unbounded
    else:
        path.symlink_to(directory / "missing.json")
    for args in commands(portfolio, directory).values():
        result = invoke(args)
        assert_one_error_line(result, path, "",
                              "symlink to a missing target" if kind == "dangling-symlink"
                              else "not a regular")


def test_error_names_the_row(tmp_path: Path) -> None:
    catalog = write_hostile(tmp_path, setting("vcpus", "many", 5))
    row = base()["rows"][5]
    with pytest.raises(CatalogError) as exc:
        load_catalog_file(catalog)
    assert f"rows[5].vcpus ({row['region']}/{row['instance_type']})" in str(exc.value)


def test_first_of_several_problems_is_reported_with_a_count(tmp_path: Path) -> None:
    def two_bad_rows(data: dict[str, Any]) -> dict[str, Any]:
        data["rows"][0]["vcpus"] = "x"
        data["rows"][1]["vcpus"] = "y"
        return data

    with pytest.raises(CatalogError, match=r"rows\[0\]\.vcpus .*and 1 more problem"):
        load_catalog_file(write_hostile(tmp_path, two_bad_rows))


def test_string_prices_stay_exact_decimals(tmp_path: Path) -> None:
    """Prices as JSON strings are exact decimals (hand-written catalogs use them)."""
    path = write_hostile(tmp_path, setting("price_per_hour", "1.0005"))
    assert str(load_catalog_file(path).catalog.rows[0].price_per_hour) == "1.0005"
