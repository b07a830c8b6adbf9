"""Compare a sample of bundled catalog rows with a price source file.

    python catalogs/compare_sources.py --provider aws --skypilot vms.csv [--sample 40]
    python catalogs/compare_sources.py --provider azure --azure-retail page1.json page2.json

Sources (downloaded by you; this script never touches the network):

* ``--skypilot``: a SkyPilot catalog ``vms.csv`` (``InstanceType, …, Price, SpotPrice,
  Region[, AvailabilityZone]``), e.g. the file and commit named in a bundled row's
  ``source.ref``. AWS files have one line per zone; the on-demand price is per region.
* ``--azure-retail``: pages of the Azure Retail Prices API as ``curl`` returns them
  (``{"Items": [...]}``). Spot, Low Priority, Windows and Cloud Services meters are left
  out; the VM size is ``armSkuName`` or, when a record lacks it, ``skuName`` with spaces as
  underscores and the ``Standard_`` prefix added when missing.

Each sampled row is printed with the bundled price, the source price and their ratio. The
exit status is 1 when a compared price differs by more than ``--tolerance`` (relative),
else 0; rows the source does not price are listed and not counted as differences.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # this checkout's planner, not an installed one
    sys.path.insert(0, str(HERE.parent))

from planner.catalog.load import load_catalog_dir  # noqa: E402
from planner.catalog.schema import CatalogRow  # noqa: E402

Key = tuple[str, str]
"""(region, instance type)."""

Prices = dict[Key, set[Decimal]]
"""Every on-demand price a source gives for a key (normally exactly one)."""


@dataclass(frozen=True)
class Comparison:
    """One bundled row against the source."""

    region: str
    instance_type: str
    bundled: Decimal
    source: Decimal | None  # None: the source does not price this row
    ok: bool

    @property
    def ratio(self) -> Decimal | None:
        return None if not self.source else self.bundled / self.source

    def line(self) -> str:
        if self.source is None:
            return f"  {self.region:<16} {self.instance_type:<28} {self.bundled:>10}  not in source"
        mark = "ok" if self.ok else "DIFFERS"
        return (f"  {self.region:<16} {self.instance_type:<28} {self.bundled:>10} "
                f"{self.source:>10}  ratio {self.ratio:.4f}  {mark}")


def _decimal(text: object) -> Decimal | None:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def skypilot_prices(path: Path) -> Prices:
    """On-demand prices of a SkyPilot ``vms.csv`` (zone lines collapse into their region)."""
    prices: Prices = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for line in csv.DictReader(fh):
            price = _decimal(line.get("Price"))
            if price is not None:
                prices.setdefault((line["Region"], line["InstanceType"]), set()).add(price)
    return prices


def _retail_size(item: dict[str, object]) -> str | None:
    """The VM size of an on-demand Linux retail record, or None for other records."""
    meter = f"{item.get('meterName', '')} {item.get('skuName', '')}"
    product = str(item.get("productName", ""))
    if "Spot" in meter or "Low Priority" in meter:
        return None
    if "Windows" in product or "Cloud Services" in product:  # other products, other prices
        return None
    if item.get("unitOfMeasure") != "1 Hour" or item.get("type", "Consumption") != "Consumption":
        return None
    arm = item.get("armSkuName")
    if arm:
        return str(arm)
    sku = str(item.get("skuName") or "").replace(" ", "_")
    if not sku:
        return None
    return sku if sku.startswith("Standard_") else "Standard_" + sku


def azure_retail_prices(paths: Iterable[Path]) -> Prices:
    """On-demand Linux prices of Azure Retail Prices API pages."""
    prices: Prices = {}
    for path in paths:
        for item in json.loads(path.read_text("utf-8")).get("Items", []):
            size, price = _retail_size(item), _decimal(item.get("retailPrice"))
            if size and price is not None and item.get("armRegionName"):
                prices.setdefault((str(item["armRegionName"]), size), set()).add(price)
    return prices


def compare(rows: Iterable[CatalogRow], prices: Prices, tolerance: Decimal) -> list[Comparison]:
    """Each row against the source: it matches when one source price is within tolerance."""
    out = []
    for row in rows:
        assert row.price_per_hour is not None  # validated when the catalog loaded
        found = sorted(prices.get((row.region, row.instance_type), set()))
        close = [p for p in found if abs(row.price_per_hour / p - 1) <= tolerance]
        source = close[0] if close else (found[0] if found else None)
        out.append(Comparison(row.region, row.instance_type, row.price_per_hour, source,
                              ok=bool(close) or not found))
    return out


def sample(rows: Sequence[CatalogRow], size: int, seed: int) -> list[CatalogRow]:
    """A reproducible sample of ``size`` rows (all rows when ``size`` is 0 or larger)."""
    ordered = sorted(rows, key=lambda r: (r.region, r.instance_type))
    if size <= 0 or size >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, size),
                  key=lambda r: (r.region, r.instance_type))


def report(results: Sequence[Comparison]) -> tuple[str, bool]:
    """The printed report and whether every compared price matched."""
    compared = [c for c in results if c.source is not None]
    differ = [c for c in compared if not c.ok]
    lines = [c.line() for c in results]
    lines.append(f"compared {len(compared)} of {len(results)} sampled rows: "
                 f"{len(compared) - len(differ)} match, {len(differ)} differ, "
                 f"{len(results) - len(compared)} not in the source")
    return "\n".join(lines), not differ


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", choices=["aws", "azure"], required=True)
    parser.add_argument("--catalogs", type=Path, default=HERE, help="catalog directory")
    parser.add_argument("--skypilot", type=Path, help="a SkyPilot vms.csv")
    parser.add_argument("--azure-retail", type=Path, nargs="+", default=[],
                        help="Azure Retail Prices API pages (JSON)")
    parser.add_argument("--sample", type=int, default=40, help="rows to compare (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=Decimal, default=Decimal("0.005"))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    if not args.skypilot and not args.azure_retail:
        print("error: give --skypilot FILE or --azure-retail FILE…", file=sys.stderr)
        return 2
    prices = skypilot_prices(args.skypilot) if args.skypilot else {}
    for key, values in azure_retail_prices(args.azure_retail).items():
        prices.setdefault(key, set()).update(values)
    loaded = [c for c in load_catalog_dir(args.catalogs) if c.catalog.provider == args.provider]
    rows = [r for c in loaded for r in c.catalog.rows]
    text, ok = report(compare(sample(rows, args.sample, args.seed), prices, args.tolerance))
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
