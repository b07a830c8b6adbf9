"""``catalog status`` provenance mix and fetch span; ``catalog show`` by family or
vendor with each price's source; ``catalog refresh --keyless``."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from planner.catalog.load import load_catalog_file
from planner.catalog.provenance import file_kind, provenance_mix, row_provenance
from planner.catalog.schema import CatalogFile, CatalogRow, CatalogSource, RowSource
from planner.cli.catalog_cmd import catalog
from planner.refresh.status import catalog_status
from planner.refresh.store import write_catalog
from tests.catalog.test_store import make_catalog

T1 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def run(*args: str) -> Result:
    return CliRunner().invoke(catalog, list(args))


def with_sources(cat: CatalogFile) -> CatalogFile:
    """Rows 0-1 from the API (T2), row 2 imported (T1), the rest without a source."""
    rows: list[CatalogRow] = []
    for i, r in enumerate(cat.rows):
        if i < 2:
            r = r.model_copy(update={"source": RowSource(kind="api", ref="pricing", fetched_at=T2)})
        elif i == 2:
            r = r.model_copy(update={"source": RowSource(kind="import", ref="vms.csv sha256:ab",
                                                         fetched_at=T1)})
        rows.append(r)
    return cat.model_copy(update={"rows": rows, "fetched_at": T2})


@pytest.fixture
def catalogs(tmp_path: Path) -> Path:
    write_catalog(with_sources(make_catalog("aws")), tmp_path)
    return tmp_path


def test_status_reports_provenance_mix_and_fetch_span(catalogs: Path) -> None:
    [status] = catalog_status(catalogs, now=T2)
    # 10 rows: 2 api, 1 import, 7 without a source -> the file's ("test" apis) -> api
    assert status.provenance == {"api": 9, "import": 1}
    assert (status.oldest_fetch, status.newest_fetch) == (T1, T2)
    data = json.loads(run("status", "--catalogs", str(catalogs), "--json").stdout)
    assert data[0]["provenance"] == {"api": 9, "import": 1}
    assert data[0]["oldest_fetch"] == "2026-11-01T06:00:00Z"
    table = run("status", "--catalogs", str(catalogs))
    assert table.exit_code == 0 and "api 9, import 1" in table.stdout
    assert "2026-11-01 06:00" in table.stdout


def test_file_kind_of_rows_without_source() -> None:
    cat = make_catalog("aws")
    assert file_kind(cat) == "api"
    for apis, note, kind in (
        (["import (skypilot)"], None, "import"),
        (["AWS Price List Bulk API (public offer files, no credentials)"], None, "bulk"),
        (["Azure Retail Prices API"], "keyless refresh: no SKU restrictions", "bulk"),
        (["pricing:GetProducts"], "Bundled snapshot of public list prices", "transcribed"),
    ):
        other = cat.model_copy(update={"source": CatalogSource(apis=apis, note=note)})
        assert file_kind(other) == kind
        assert provenance_mix(other) == {kind: len(cat.rows)}
        prov = row_provenance(other.rows[0], other)
        assert prov.inherited and prov.label().startswith(f"{kind}* ")


def test_show_by_family_prints_each_source(catalogs: Path) -> None:
    result = run("show", "--gpu", "A100", "--catalogs", str(catalogs), "--json")
    assert result.exit_code == 0, result.output
    offers = json.loads(result.stdout)
    assert offers and {o["gpu_model"] for o in offers} <= {"A100-40GB", "A100-80GB"}
    cat = load_catalog_file(catalogs / "aws.json").catalog
    expected = {(r.region, r.instance_type): row_provenance(r, cat) for r in cat.rows}
    for o in offers:
        prov = expected[(o["region"], o["instance_type"])]
        assert (o["source"]["kind"], o["source"]["ref"], o["source"]["from_file"]) == (
            prov.kind, prov.ref, prov.inherited)
    table = run("show", "--gpu", "A100", "--catalogs", str(catalogs))
    assert "Source" in table.stdout and "source: " in table.stdout
    assert "api 2026-11-20" in table.stdout


def test_show_by_vendor(catalogs: Path) -> None:
    all_nvidia = json.loads(run("show", "--vendor", "nvidia", "--catalogs", str(catalogs),
                                "--json").stdout)
    gpu_rows = [r for r in load_catalog_file(catalogs / "aws.json").catalog.rows if r.gpu_model]
    assert len(all_nvidia) == len(gpu_rows)
    assert json.loads(run("show", "--vendor", "amd", "--catalogs", str(catalogs),
                          "--json").stdout) == []
    bad = run("show", "--vendor", "nvidai", "--catalogs", str(catalogs))
    assert bad.exit_code == 2 and "did you mean 'nvidia'?" in bad.output
    neither = run("show", "--catalogs", str(catalogs))
    assert neither.exit_code == 2 and "--vendor" in neither.output


def test_refresh_keyless_flag_reaches_the_fetcher(catalogs: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    base = make_catalog("aws")

    def fetch_aws(regions: list[str], *, progress: Callable[..., Any] | None = None,
                  **kwargs: Any) -> CatalogFile:
        seen.append(kwargs)
        return base

    module = types.ModuleType("planner.providers.aws.fetch")
    module.fetch_aws = fetch_aws  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "planner.providers.aws.fetch", module)
    result = run("refresh", "--provider", "aws", "--out", str(catalogs), "--keyless")
    assert result.exit_code == 0, result.output
    assert seen == [{"keyless": True}]
    assert run("refresh", "--provider", "aws", "--out", str(catalogs)).exit_code == 0
    assert seen[-1] == {}
