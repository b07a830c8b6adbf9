"""Build the bundled catalog snapshots (catalogs/aws.json, catalogs/azure.json) from the
transcription tables in catalogs/transcribed/.

Every row of ``transcribed/{aws,azure}.csv`` is one instance type in one region, copied by
hand from a public price source named in ``transcribed/sources.csv`` (column ``source``).
Nothing is derived: no regional ratios, no size ratios, no spot prices, no commitment
prices. Hardware facts come from the row (vCPUs, memory, accelerator count) and the family
tables (GPU model, vendor, memory per GPU: planner/data/aws_accelerator_families.json and
planner/data/azure_gpu_families.json); the country from planner/data/regions.json.

    python catalogs/build_snapshot.py            # rewrite catalogs/aws.json and azure.json
    python catalogs/build_snapshot.py --check    # exit 1 if they differ from the tables

The output is deterministic (same tables, same bytes); a test checks that the committed
files are exactly what this script builds.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # this checkout's planner, not an installed one
    sys.path.insert(0, str(HERE.parent))

from planner.catalog.schema import (  # noqa: E402
    SCHEMA_VERSION,
    CatalogFile,
    CatalogRow,
    CatalogSource,
    EgressPrices,
    RowSource,
)
from planner.providers.azure.skus import GpuFamily, load_gpu_families  # noqa: E402
from planner.refresh.serialize import serialize_catalog  # noqa: E402
from planner.vocab.gpus import GPU_MODELS, normalize_gpu  # noqa: E402
from planner.vocab.jurisdictions import region_country  # noqa: E402

TRANSCRIBED = HERE / "transcribed"
AWS_FAMILIES = HERE.parent / "planner" / "data" / "aws_accelerator_families.json"

EGRESS = {
    "aws": EgressPrices(same_provider_per_gb=Decimal("0.02"), internet_per_gb=Decimal("0.09")),
    "azure": EgressPrices(same_provider_per_gb=Decimal("0.02"), internet_per_gb=Decimal("0.087")),
}
"""The legacy flat ``egress`` field of the bundled snapshot (AWS 0.02 between regions and
0.09 to the internet, Azure 0.02 and 0.087). The planner no longer prices it: egress comes
from ``planner/data/egress.json`` (per region, with sources). It is still written so the
bundled files, and the sha256 every plan records of them, stay byte-identical; drop it at
the next rebuild that changes the files anyway."""

NOTE = (
    "Bundled snapshot built by catalogs/build_snapshot.py from the transcription tables in "
    "catalogs/transcribed/ (see catalogs/README.md). Every row names its public source and "
    "the date it was read in `source`; no row is estimated or derived. On-demand Linux "
    "prices only: no spot and no commitment prices (refresh to get them). Regions without "
    "transcribed prices are not bundled; `planner catalog refresh` fills them."
)


def read_sources() -> dict[str, RowSource]:
    """``sources.csv``: source id → provenance (kind, ref, fetched_at)."""
    with (TRANSCRIBED / "sources.csv").open(newline="", encoding="utf-8") as fh:
        return {r["id"]: RowSource(kind=r["kind"], ref=r["ref"],
                                   fetched_at=datetime.fromisoformat(r["fetched_at"]))
                for r in csv.DictReader(fh)}


def read_table(provider: str) -> list[dict[str, str]]:
    """The transcription rows of one provider, as read."""
    with (TRANSCRIBED / f"{provider}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def aws_families() -> dict[str, dict[str, Any]]:
    data = json.loads(AWS_FAMILIES.read_text("utf-8"))
    families: dict[str, dict[str, Any]] = data["families"]
    return families


def _gpu_fields(model: str, vendor: str, count: Fraction, per_gpu: float,
                where: str, named: str) -> dict[str, Any]:
    """GPU columns of a row, after checking the source's accelerator name agrees."""
    if named and normalize_gpu(named, per_gpu) != model:
        raise ValueError(f"{where}: source names accelerator {named!r}, family table says {model}")
    if model not in GPU_MODELS:
        raise ValueError(f"{where}: {model} is not in planner/vocab/gpus.py")
    return {"gpu_model": model, "gpu_vendor": vendor, "gpu_count": float(count),
            "gpu_memory_gib": round(float(count) * per_gpu, 3)}


def aws_hardware(row: dict[str, str], families: dict[str, dict[str, Any]]) -> dict[str, Any]:
    family = row["instance_type"].split(".", 1)[0]
    fields: dict[str, Any] = {"family": family}
    entry = families.get(family)
    if entry is None:
        if row["accelerator"]:
            raise ValueError(f"{row['instance_type']}: accelerator family {family} not in "
                             f"{AWS_FAMILIES.name}")
        return fields
    count = Fraction(row["accelerator_count"])
    fields.update(_gpu_fields(entry["gpu"], entry["vendor"], count,
                              float(entry["memory_gib_per_gpu"]), row["instance_type"],
                              row["accelerator"]))
    return fields


def _azure_family(name: str, table: tuple[GpuFamily, ...]) -> GpuFamily | None:
    return next((f for f in table if f.size_pattern.fullmatch(name)), None)


def azure_hardware(row: dict[str, str], table: tuple[GpuFamily, ...]) -> dict[str, Any]:
    name = row["instance_type"]
    family = _azure_family(name, table)
    if family is None:
        if row["accelerator"]:
            raise ValueError(f"{name}: GPU size not in planner/data/azure_gpu_families.json")
        series = "Esv5" if name.startswith("Standard_E") else "Dsv5"
        return {"family": series}
    count = family.gpu_counts.get(name, Fraction(row["accelerator_count"]))
    fields: dict[str, Any] = {"family": family.series}
    fields.update(_gpu_fields(family.gpu, family.vendor, count, family.memory_gib_per_gpu,
                              name, row["accelerator"]))
    return fields


def build_rows(provider: str) -> list[CatalogRow]:
    """Validated catalog rows of one provider from its transcription table."""
    sources = read_sources()
    aws = aws_families() if provider == "aws" else {}
    azure = load_gpu_families().entries if provider == "azure" else ()
    rows = []
    for raw in read_table(provider):
        hardware = aws_hardware(raw, aws) if provider == "aws" else azure_hardware(raw, azure)
        country = region_country(provider, raw["region"])
        if country is None:
            raise ValueError(f"{raw['region']}: not in planner/data/regions.json")
        rows.append(CatalogRow(
            provider=provider,  # type: ignore[arg-type]
            region=raw["region"], instance_type=raw["instance_type"],
            vcpus=int(raw["vcpus"]), memory_gib=float(raw["memory_gib"]),
            price_per_hour=Decimal(raw["price_per_hour"]),
            source=sources[raw["source"]], country=country, **hardware))
    return rows


def build_catalog(provider: str) -> CatalogFile:
    rows = build_rows(provider)
    keys = [(r.region, r.instance_type) for r in rows]
    if len(keys) != len(set(keys)):
        raise ValueError(f"{provider}: duplicate (region, instance type) in the table")
    used = sorted({r.source.ref for r in rows if r.source})
    return CatalogFile(
        schema_version=SCHEMA_VERSION, provider=provider,  # type: ignore[arg-type]
        fetched_at=min(r.source.fetched_at for r in rows if r.source),
        source=CatalogSource(apis=["transcribed public price sources (see each row's source)"],
                             endpoints=[], parameters={"sources": used}, note=NOTE),
        regions=sorted({r.region for r in rows}), egress=EGRESS[provider], rows=rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing them")
    args = parser.parse_args(argv)
    stale = []
    for provider in ("aws", "azure"):
        data = serialize_catalog(build_catalog(provider))
        path = HERE / f"{provider}.json"
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(path.name)
        else:
            path.write_bytes(data)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python catalogs/build_snapshot.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
