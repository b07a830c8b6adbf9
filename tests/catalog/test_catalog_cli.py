"""``planner catalog refresh|status|show`` via click's CliRunner, plus the deployment examples."""

from __future__ import annotations

import configparser
import json
import sys
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from planner.catalog.schema import CatalogFile
from planner.cli.catalog_cmd import catalog
from planner.refresh.store import write_catalog
from tests.catalog.test_store import make_catalog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scheduled-refresh"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(catalog, list(args), env=env)


@pytest.fixture
def catalogs(tmp_path: Path) -> Path:
    """A catalog directory with a fresh aws.json and azure.json."""
    directory = tmp_path / "catalogs"
    write_catalog(make_catalog("aws"), directory)
    write_catalog(make_catalog("azure", ("eastus", "westeurope"), rows_per_region=3), directory)
    return directory


def install_fetcher(monkeypatch: pytest.MonkeyPatch, provider: str,
                    fetch: Callable[..., CatalogFile]) -> list[list[str]]:
    """Put a fake ``planner.catalog.<provider>`` module in place; returns the regions asked."""
    calls: list[list[str]] = []

    def wrapped(regions: list[str], *, progress: Callable[..., Any] | None = None) -> CatalogFile:
        calls.append(list(regions))
        for region in regions:
            if progress:
                progress(region, "fetched", rows=5)
        return fetch(regions)

    module = types.ModuleType(f"planner.providers.{provider}.fetch")
    setattr(module, f"fetch_{provider}", wrapped)
    monkeypatch.setitem(sys.modules, f"planner.providers.{provider}.fetch", module)
    return calls


# ---------------------------------------------------------------- refresh


def test_refresh_writes_catalog_and_logs_progress(catalogs: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    new = make_catalog("aws", ("us-east-1", "eu-central-1", "us-west-2"))
    calls = install_fetcher(monkeypatch, "aws", lambda _r: new)
    result = run("refresh", "--provider", "aws", "--out", str(catalogs),
                 "--regions", "us-east-1,eu-central-1", "--regions", "us-west-2")
    assert result.exit_code == 0, result.output
    assert calls == [["us-east-1", "eu-central-1", "us-west-2"]]
    assert "wrote" in result.stdout and "15 rows" in result.stdout
    assert "aws: us-west-2 fetched rows=5" in result.stderr


def test_refresh_defaults_to_existing_regions_and_env_dir(catalogs: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls = install_fetcher(monkeypatch, "azure",
                            lambda r: make_catalog("azure", tuple(r), rows_per_region=3))
    result = run("refresh", "--provider", "azure", env={"PLANNER_CATALOGS": str(catalogs)})
    assert result.exit_code == 0, result.output
    assert calls == [["eastus", "westeurope"]]


def test_refresh_fetch_failure_exits_4_and_keeps_file(catalogs: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    before = (catalogs / "aws.json").read_bytes()

    def boom(regions: list[str]) -> CatalogFile:
        raise ConnectionError(f"endpoint unreachable after {regions[0]}")

    install_fetcher(monkeypatch, "aws", boom)
    result = run("refresh", "--provider", "aws", "--out", str(catalogs))
    assert result.exit_code == 4
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith("error: aws fetch failed")
    assert (catalogs / "aws.json").read_bytes() == before
    assert sorted(p.name for p in catalogs.iterdir()) == [".aws.json.lock", ".azure.json.lock",
                                                          "aws.json", "azure.json"]


def test_refresh_missing_fetcher_exits_4(catalogs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "planner.providers.aws.fetch", None)  # ImportError
    result = run("refresh", "--provider", "aws", "--out", str(catalogs))
    assert result.exit_code == 4
    assert "error: the aws fetcher cannot be imported" in result.stderr


def test_refresh_refuses_shrunken_catalog_then_force(catalogs: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    before = (catalogs / "aws.json").read_bytes()
    install_fetcher(monkeypatch, "aws",
                    lambda r: make_catalog("aws", tuple(r), rows_per_region=3))  # 10 -> 6 rows
    result = run("refresh", "--provider", "aws", "--out", str(catalogs))
    assert result.exit_code == 5
    assert "rows 10 -> 6" in result.stderr and "--force" in result.stderr
    assert (catalogs / "aws.json").read_bytes() == before
    assert run("refresh", "--provider", "aws", "--out", str(catalogs),
               "--max-row-loss", "0.5").exit_code == 0
    forced = run("refresh", "--provider", "aws", "--out", str(catalogs), "--regions", "us-east-1",
                 "--force")
    assert forced.exit_code == 0, forced.output
    assert "accepted with --force" in forced.stderr
    assert "lost region(s) eu-central-1 (not fetched)" in forced.stderr


def test_refresh_failed_region_is_lost(catalogs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fetcher(monkeypatch, "aws", lambda r: make_catalog(
        "aws", tuple(r), rows_per_region=10, failed={"eu-central-1": "UnauthorizedOperation"}))
    result = run("refresh", "--provider", "aws", "--out", str(catalogs))
    assert result.exit_code == 5
    assert "eu-central-1 (fetch failed: UnauthorizedOperation)" in result.stderr


def test_refresh_rejects_unknown_provider(catalogs: Path) -> None:
    assert run("refresh", "--provider", "gcp", "--out", str(catalogs)).exit_code == 2


# ---------------------------------------------------------------- status


def test_status_table_and_json(catalogs: Path) -> None:
    table = run("status", "--catalogs", str(catalogs))
    assert table.exit_code == 0, table.output
    assert "aws" in table.stdout and "azure" in table.stdout and "Stale" in table.stdout
    data = json.loads(run("status", "--catalogs", str(catalogs), "--json").stdout)
    assert [d["provider"] for d in data] == ["aws", "azure"]
    assert data[0]["rows"] == 10 and data[0]["gpu_rows"] == 8 and data[0]["stale"] is False
    assert data[1]["regions"] == 2 and len(data[1]["sha256"]) == 12


def test_status_flags_stale_and_failed_regions(tmp_path: Path) -> None:
    old = datetime.now(UTC) - timedelta(days=90)
    write_catalog(make_catalog(regions=("us-east-1", "eu-west-1"), fetched_at=old,
                               failed={"eu-west-1": "AuthFailure: expired token"}), tmp_path)
    result = run("status", "--catalogs", str(tmp_path))
    assert result.exit_code == 0
    assert "STALE" in result.stdout and "eu-west-1: AuthFailure: expired token" in result.stdout
    data = json.loads(run("status", "--catalogs", str(tmp_path), "--json",
                          "--max-age-days", "120").stdout)
    assert data[0]["stale"] is False and data[0]["failed_regions"] == {
        "eu-west-1": "AuthFailure: expired token"}


def test_status_warns_about_a_catalog_from_the_future(tmp_path: Path) -> None:
    write_catalog(make_catalog(fetched_at=datetime.now(UTC) + timedelta(days=400)), tmp_path)
    for args in ((), ("--json",)):
        result = run("status", "--catalogs", str(tmp_path), *args)
        assert result.exit_code == 0
        assert f"warning: {tmp_path / 'aws.json'}: fetched_at " in result.stderr
        assert "lies in the future; check the clock" in result.stderr


def test_status_reports_corrupt_file(catalogs: Path) -> None:
    (catalogs / "azure.json").write_text('{"schema_version": 1,')
    result = run("status", "--catalogs", str(catalogs))
    assert result.exit_code == 2
    assert "CORRUPT" in result.stdout
    assert f"error: {catalogs / 'azure.json'}: not valid JSON" in result.stderr


# ---------------------------------------------------------------- show


def test_show_a100_matches_both_sizes_sorted_by_price(catalogs: Path) -> None:
    result = run("show", "--gpu", "a100", "--catalogs", str(catalogs))
    assert result.exit_code == 0, result.output
    assert "A100-40GB" in result.stdout and "A100-80GB" in result.stdout
    assert "H100" not in result.stdout and "T4" not in result.stdout
    data = json.loads(run("show", "--gpu", "A100", "--catalogs", str(catalogs), "--json").stdout)
    assert {d["gpu_model"] for d in data} == {"A100-40GB", "A100-80GB"}
    assert len(data) == 2 * 2 + 2  # aws: 2 types x 2 regions; azure: 1 type x 2 regions
    prices = [d["price_per_hour"] for d in data]
    assert prices == sorted(prices) and data[0]["instance_type"] == "Standard_NC24ads_A100_v4"
    assert data[0]["price_per_hour"] == 3.673


def test_show_filters_region_and_provider(catalogs: Path) -> None:
    data = json.loads(run("show", "--gpu", "A100", "--catalogs", str(catalogs), "--json",
                          "--region", "us-east-1", "--provider", "aws").stdout)
    assert {(d["provider"], d["region"]) for d in data} == {("aws", "us-east-1")}
    bad = run("show", "--gpu", "A100", "--catalogs", str(catalogs), "--region", "us-east-2")
    assert bad.exit_code == 2 and "did you mean 'us-east-1'" in bad.stderr


def test_show_unknown_gpu_exits_2_with_hint(catalogs: Path) -> None:
    result = run("show", "--gpu", "H10", "--catalogs", str(catalogs))
    assert result.exit_code == 2
    assert "unknown GPU model 'H10'" in result.stderr and "did you mean 'H100'" in result.stderr
    assert "Traceback" not in result.output
    assert "did you mean 'A100'" in run("show", "--gpu", "A1000", "--catalogs",
                                        str(catalogs)).stderr


def test_show_warns_on_stale_catalog(tmp_path: Path) -> None:
    write_catalog(make_catalog(fetched_at=datetime.now(UTC) - timedelta(days=60)), tmp_path)
    result = run("show", "--gpu", "H100", "--catalogs", str(tmp_path), "--json")
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "days ago" in result.stderr
    assert {d["gpu_model"] for d in json.loads(result.stdout)} == {"H100"}


def test_show_negative_price_names_file_and_row(catalogs: Path) -> None:
    path = catalogs / "aws.json"
    data = json.loads(path.read_text())
    data["rows"][4]["price_per_hour"] = -3.2
    path.write_text(json.dumps(data, indent=1))
    result = run("show", "--gpu", "A100", "--catalogs", str(catalogs))
    assert result.exit_code == 2
    row = data["rows"][4]
    assert str(path) in result.stderr and "rows[4]" in result.stderr
    assert f"{row['region']}/{row['instance_type']}" in result.stderr
    assert "must not be negative" in result.stderr


def test_show_bad_json_names_file(catalogs: Path) -> None:
    (catalogs / "aws.json").write_text("not json at all")
    result = run("show", "--gpu", "T4", "--catalogs", str(catalogs))
    assert result.exit_code == 2 and "aws.json: not valid JSON" in result.stderr


def test_show_empty_directory(tmp_path: Path) -> None:
    result = run("show", "--gpu", "T4", "--catalogs", str(tmp_path))
    assert result.exit_code == 2 and "no catalog files found" in result.stderr


# ---------------------------------------------------------------- scheduled-refresh examples


def test_kubernetes_cronjob_parses_and_forbids_concurrency() -> None:
    docs = list(yaml.safe_load_all((EXAMPLES / "kubernetes-cronjob.yaml").read_text()))
    cron = next(d for d in docs if d["kind"] == "CronJob")["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["startingDeadlineSeconds"] > 0
    assert cron["successfulJobsHistoryLimit"] >= 1 and cron["failedJobsHistoryLimit"] >= 1
    job = cron["jobTemplate"]["spec"]
    assert job["backoffLimit"] >= 1
    pod = job["template"]["spec"]
    assert "persistentVolumeClaim" in str(pod["volumes"])
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    assert "eks.amazonaws.com/role-arn" in sa["metadata"]["annotations"]
    assert not any(d["kind"] == "Secret" for d in docs)


def test_github_workflow_parses_and_uses_oidc() -> None:
    text = (EXAMPLES / "github-actions-refresh.yml").read_text()
    (workflow,) = yaml.safe_load_all(text)
    assert "schedule" in workflow[True]  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"]["id-token"] == "write"
    uses = [s.get("uses", "") for s in workflow["jobs"]["refresh"]["steps"]]
    assert any(u.startswith("aws-actions/configure-aws-credentials") for u in uses)
    assert any(u.startswith("azure/login") for u in uses)
    assert "role-to-assume" in text and "secrets." not in text


def test_systemd_units() -> None:
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read_string((EXAMPLES / "planner-catalog-refresh.timer").read_text())
    assert timer["Timer"]["Persistent"] == "true"
    assert "RandomizedDelaySec" in timer["Timer"] and "OnCalendar" in timer["Timer"]
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read_string((EXAMPLES / "planner-catalog-refresh.service").read_text())
    assert service["Service"]["Type"] == "oneshot"
    assert "--provider" in service["Service"]["ExecStart"]
    assert service["Service"]["EnvironmentFile"].lstrip("-").startswith("/etc/")
    assert (EXAMPLES / "README.md").is_file()
