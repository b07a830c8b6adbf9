"""``planner catalog import``: SkyPilot CSVs and saved Azure Retail Prices pages.

The importers share the store with a refresh (validation, lock, row-loss checks,
``--force``) and the Azure one shares the fetcher's item parser; fixtures are in
``tests/fixtures/imports`` (hand-trimmed, real formats). The real Azure records of
``../shared/reference`` go through the importer too (skipped when absent).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from planner.catalog.load import load_catalog_file
from planner.catalog.schema import CatalogFile, CatalogRow
from planner.cli.catalog_cmd import catalog
from planner.errors import InputError
from planner.refresh.importers import import_azure_retail, import_skypilot
from planner.vocab.gpus import GPU_MODELS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"
SKY_AWS = FIXTURES / "skypilot_aws_vms.csv"
SKY_AZURE = FIXTURES / "skypilot_azure_vms.csv"
PAGES = [FIXTURES / "azure_retail_page1.json", FIXTURES / "azure_retail_page2.json"]
REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / \
    "azure-retail-2026-08"
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def run(*args: str) -> Result:
    return CliRunner().invoke(catalog, list(args))


def row(cat: CatalogFile, region: str, name: str) -> CatalogRow:
    [match] = [r for r in cat.rows if (r.region, r.instance_type) == (region, name)]
    return match


# ---------------------------------------------------------------- skypilot


def test_skypilot_one_row_per_region_and_type_spot_is_zone_minimum() -> None:
    cat = import_skypilot([SKY_AWS], "aws", now=NOW)
    keys = [(r.region, r.instance_type) for r in cat.rows]
    assert len(keys) == len(set(keys))
    p4d = row(cat, "us-east-1", "p4d.24xlarge")  # zones a 7.8799, b 2.4655, c 8.5148
    assert (p4d.price_per_hour, p4d.spot_price_per_hour) == (Decimal("21.9576"),
                                                             Decimal("2.4655"))
    assert (p4d.gpu_model, p4d.gpu_count, p4d.gpu_memory_gib, p4d.vcpus) == (
        "A100-40GB", 8, 320, 96)
    assert row(cat, "us-west-2", "p4d.24xlarge").spot_price_per_hour == Decimal("6.9876")
    assert row(cat, "us-east-1", "p4de.24xlarge").gpu_model == "A100-80GB"
    assert row(cat, "us-east-1", "p4de.24xlarge").spot_price_per_hour is None
    assert row(cat, "us-east-1", "m7g.large").architecture == "arm64"
    assert row(cat, "us-east-1", "inf2.xlarge").gpu_model == "Inferentia2"
    assert ("eu-north-1", "p5.48xlarge") not in keys  # no price in the CSV
    assert cat.regions == ["us-east-1", "us-west-2"]
    assert [f.region for f in cat.failed_regions] == ["xx-fake-1"]
    if "B200" not in GPU_MODELS:
        assert cat.source.parameters["skipped_rows"]["us-east-1"] == {
            "unknown_accelerator:B200": 1}


def test_skypilot_a_zero_spot_price_on_any_zone_line_is_no_quote(tmp_path: Path) -> None:
    """A 0 SpotPrice is skipped on the first zone line of a type as on the others (the
    first line used to keep it: spot free in every plan, by line order)."""
    with SKY_AWS.open(newline="") as f:
        lines = list(csv.DictReader(f))
    seen: set[str] = set()
    for line in lines:
        if line["InstanceType"] not in seen:  # the first zone line of each type
            seen.add(line["InstanceType"])
            line["SpotPrice"] = "0"
    zeroed = tmp_path / "vms.csv"
    with zeroed.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    cat = import_skypilot([zeroed], "aws", now=NOW)
    assert all(r.spot_price_per_hour is None or r.spot_price_per_hour > 0 for r in cat.rows)
    p4d = row(cat, "us-east-1", "p4d.24xlarge")  # zones a 7.8799, b 2.4655, c 8.5148
    assert p4d.spot_price_per_hour == Decimal("2.4655")


def test_skypilot_provenance_names_the_file_and_its_hash() -> None:
    cat = import_skypilot([SKY_AWS], "aws", now=NOW)
    digest = hashlib.sha256(SKY_AWS.read_bytes()).hexdigest()[:12]
    for r in cat.rows:
        assert r.source is not None and r.source.kind == "import"
        assert r.source.ref == f"SkyPilot catalog skypilot_aws_vms.csv sha256:{digest}"
        assert r.source.fetched_at == NOW and r.spot_price_at is None
    assert cat.source.apis == ["import (skypilot)"]


def test_skypilot_azure() -> None:
    cat = import_skypilot([SKY_AZURE], "azure", now=NOW)
    nv = row(cat, "westeurope", "Standard_NV6ads_A10_v5")
    assert (nv.gpu_model, nv.gpu_count) == ("A10", pytest.approx(0.167))
    assert row(cat, "westeurope", "Standard_D4ps_v5").architecture == "arm64"
    assert cat.regions == ["swedencentral", "westeurope"]


def test_skypilot_bad_input_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "vms.csv"
    bad.write_text("InstanceType,Price,Region\np4d.24xlarge,1,us-east-1\n")
    with pytest.raises(InputError, match="missing column") as info:
        import_skypilot([bad], "aws")
    assert "vms.csv" in str(info.value) and "AcceleratorName" in str(info.value)
    text = SKY_AWS.read_text().replace("21.9576,2.4655", "21.9576,-2.4655")
    bad.write_text(text)
    with pytest.raises(InputError) as info:
        import_skypilot([bad], "aws")
    assert "line 3, column SpotPrice" in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------- azure-retail


def test_azure_retail_pages_share_the_fetcher_parser() -> None:
    cat = import_azure_retail(PAGES, now=NOW)
    a100 = row(cat, "westeurope", "Standard_NC24ads_A100_v4")
    assert (a100.price_per_hour, a100.spot_price_per_hour) == (Decimal("4.775"),
                                                               Decimal("1.097295"))
    assert (a100.commit_1y_per_hour, a100.commit_3y_per_hour) == (Decimal("3.97471"),
                                                                  Decimal("2.6263"))
    assert row(cat, "westeurope", "Standard_D2s_v5").price_per_hour == Decimal("0.115")
    nd = row(cat, "swedencentral", "Standard_ND96isr_H100_v5")
    assert (nd.gpu_model, nd.gpu_count, nd.spot_price_per_hour) == ("H100", 8,
                                                                     Decimal("23.620397"))
    assert cat.source.parameters["skipped_rows"] == {"westeurope": {"unknown_size_facts": 1}}
    assert cat.source.note and "no SKU restrictions" in cat.source.note
    for r in cat.rows:
        assert r.source is not None and r.source.kind == "import"
        assert "azure_retail_page1.json sha256:" in r.source.ref
        assert "no SKU restrictions" in r.source.ref


def test_azure_retail_rejects_a_non_page(tmp_path: Path) -> None:
    bad = tmp_path / "page.json"
    bad.write_text('{"value": []}')
    with pytest.raises(InputError, match="no 'Items' list"):
        import_azure_retail([bad])


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data absent at {REFERENCE}")
def test_azure_retail_import_of_the_real_records(tmp_path: Path) -> None:
    files = sorted(REFERENCE.glob("*.json"))
    result = run("import", "--format", "azure-retail", *map(str, files), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    cat = load_catalog_file(tmp_path / "azure.json").catalog
    assert cat.regions == ["belgiumcentral", "francecentral", "northeurope", "swedencentral",
                           "westeurope"]
    nd = row(cat, "westeurope", "Standard_ND96isr_H100_v5")
    assert nd.price_per_hour == Decimal("127.816")  # the reference price
    assert row(cat, "swedencentral", "Standard_NC24ads_A100_v4").price_per_hour == Decimal(
        "4.775")


# ---------------------------------------------------------------- CLI and store


def test_cli_import_writes_through_the_store(tmp_path: Path) -> None:
    result = run("import", "--format", "skypilot", str(SKY_AWS), "--provider", "aws",
                 "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    loaded = load_catalog_file(tmp_path / "aws.json")
    assert {r.source.kind for r in loaded.catalog.rows if r.source} == {"import"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".aws.json.lock", "aws.json"]


def test_cli_import_refuses_to_lose_regions_unless_forced(tmp_path: Path) -> None:
    assert run("import", "--format", "skypilot", str(SKY_AWS), "--provider", "aws",
               "--out", str(tmp_path)).exit_code == 0
    before = (tmp_path / "aws.json").read_bytes()
    smaller = tmp_path / "one_region.csv"
    lines = SKY_AWS.read_text().splitlines()
    smaller.write_text("\n".join([lines[0]] + [x for x in lines[1:] if "us-east-1," in x]))
    result = run("import", "--format", "skypilot", str(smaller), "--provider", "aws",
                 "--out", str(tmp_path))
    assert result.exit_code == 5 and "lost region(s) us-west-2" in result.output
    assert (tmp_path / "aws.json").read_bytes() == before
    forced = run("import", "--format", "skypilot", str(smaller), "--provider", "aws",
                 "--out", str(tmp_path), "--force")
    assert forced.exit_code == 0, forced.output
    assert load_catalog_file(tmp_path / "aws.json").catalog.regions == ["us-east-1"]


def test_cli_import_input_errors_exit_2(tmp_path: Path) -> None:
    result = run("import", "--format", "skypilot", str(SKY_AWS), "--out", str(tmp_path))
    assert result.exit_code == 2 and "--provider is required" in result.output
    result = run("import", "--format", "azure-retail", str(PAGES[0]), "--provider", "aws",
                 "--out", str(tmp_path))
    assert result.exit_code == 2 and "Azure prices" in result.output
    missing = run("import", "--format", "skypilot", str(tmp_path / "nope.csv"),
                  "--provider", "aws", "--out", str(tmp_path))
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    assert not (tmp_path / "aws.json").exists()


def test_import_of_a_copy_changes_only_the_ref(tmp_path: Path) -> None:
    copy = tmp_path / "renamed.csv"
    shutil.copy(SKY_AWS, copy)
    a = import_skypilot([SKY_AWS], "aws", now=NOW)
    b = import_skypilot([copy], "aws", now=NOW)
    strip = [json.loads(r.model_dump_json(exclude={"source"})) for r in a.rows]
    assert strip == [json.loads(r.model_dump_json(exclude={"source"})) for r in b.rows]
    assert a.rows[0].source != b.rows[0].source


def test_azure_retail_region_without_known_sizes_is_a_failed_region(tmp_path: Path) -> None:
    page = json.loads(PAGES[0].read_text())
    page["Items"] = [dict(i, armRegionName="northeurope") for i in page["Items"]
                     if i["armSkuName"] == "Standard_HB120rs_v3"]
    odd = tmp_path / "hb.json"
    odd.write_text(json.dumps(page))
    cat = import_azure_retail([PAGES[1], odd], now=NOW)
    assert cat.regions == ["swedencentral"]
    [failed] = cat.failed_regions
    assert failed.region == "northeurope" and "no priced VM size" in failed.error


def test_gpu_info_memory_tells_a100_sizes_apart(tmp_path: Path) -> None:
    from planner.refresh.importers import gpu_memory_per_device

    info = ("{'Gpus': [{'Name': 'A100', 'Manufacturer': 'NVIDIA', 'Count': 8, "
            "'MemoryInfo': {'SizeInMiB': 81920}}], 'TotalGpuMemoryInMiB': 655360}")
    assert gpu_memory_per_device(info) == 80.0
    for junk in ("", "nan", "{'Gpus': []}", "__import__('os')", "{" * 5000):
        assert gpu_memory_per_device(junk) is None
    # SkyPilot names both p4d and p4de "A100"; GpuInfo's memory tells them apart
    renamed = tmp_path / "vms.csv"
    renamed.write_text(SKY_AWS.read_text().replace("p4de.24xlarge,A100-80GB",
                                                   "p4de.24xlarge,A100"))
    cat = import_skypilot([renamed], "aws", now=NOW)
    assert row(cat, "us-east-1", "p4de.24xlarge").gpu_model == "A100-80GB"
    assert row(cat, "us-east-1", "p4d.24xlarge").gpu_model == "A100-40GB"


def test_azure_retail_import_skips_a_row_that_fails_validation(tmp_path: Path) -> None:
    """A page with one item priced per month under "1 Hour" (71773.6 USD/h): that size is
    skipped and counted, the page's other sizes are imported (no traceback, no failed
    region)."""
    page = FIXTURES.parent / "azure" / "prices_eastus_unit_mixup.json"
    result = run("import", "--format", "azure-retail", str(page), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    cat = load_catalog_file(tmp_path / "azure.json").catalog
    assert cat.regions == ["eastus"] and cat.failed_regions == []
    assert "Standard_ND96isr_H100_v5" not in {r.instance_type for r in cat.rows}
    assert len(cat.rows) == 4
    assert cat.source.parameters["skipped_rows"] == {"eastus": {"invalid_row": 1}}
    a100 = row(cat, "eastus", "Standard_ND96amsr_A100_v4")
    assert (a100.commit_1y_per_hour, a100.commit_3y_per_hour) == (Decimal("23.9221"),
                                                                  Decimal("14.7465"))
