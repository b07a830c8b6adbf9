"""Azure VM size names and, without the Resource SKUs API, their hardware facts.

The Retail Prices API names a size several ways: ``armSkuName``
(``Standard_ND96isr_H100_v5``) when present, else ``skuName`` in a spaced
(``D2s v5``, ``ND96isr H100 v5 Spot``) or compact (``ND96isrH100v5``) spelling.
:func:`canonical_size` turns each into the ARM name, so that the spellings of one
size merge. A keyless refresh or an import has no vCPU or memory figures, so they
come from ``planner/data/azure_vm_sizes.json`` (:class:`SizeTable`): explicit sizes,
then series with a constant memory per vCPU. Sizes it does not know are skipped,
never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from planner.errors import CatalogFetchError

SIZES_RESOURCE = "data/azure_vm_sizes.json"

_SUFFIX = re.compile(r"\s+(Spot|Low Priority)$", re.IGNORECASE)
_COMPACT = re.compile(r"(?P<base>[A-Z]+\d+(?:-\d+)?[a-z]*?)(?P<acc>[A-Z]+\d+[A-Z]*)?"
                      r"(?P<ver>v\d+)?")
_NUMBERS = re.compile(r"^Standard_[A-Z]+(\d+)(?:-(\d+))?")
_LETTERS = re.compile(r"^Standard_[A-Z]+\d+(?:-\d+)?([a-z]*)")


@dataclass(frozen=True)
class SizeFacts:
    """vCPUs, memory and (whole) GPU count of one VM size."""

    vcpus: int
    memory_gib: float
    gpus: int = 0


def canonical_size(item: Mapping[str, Any]) -> str | None:
    """The ARM size name of a retail price item (``armSkuName``, else from ``skuName``)."""
    arm = str(item.get("armSkuName") or "").strip()
    if arm:
        return arm
    raw = _SUFFIX.sub("", str(item.get("skuName") or "").strip())
    if not raw:
        return None
    if raw.startswith("Standard_"):
        return raw
    # "D2s v5", "NC16asT4 v3", "M416-104s_v2", "ND96isrH100v5": split the compact head
    head, *rest = re.split(r"[ _]+", raw)
    return "Standard_" + "_".join([_split_compact(head), *rest])


def _split_compact(token: str) -> str:
    """``ND96isrH100v5`` → ``ND96isr_H100_v5``; a token it cannot read stays as it is."""
    match = _COMPACT.fullmatch(token)
    if match is None:
        return token
    return "_".join(p for p in (match["base"], match["acc"], match["ver"]) if p)


def series_key(size: str) -> str:
    """``Standard_D16s_v5`` and ``Standard_D16-4s_v5`` → ``Standard_D#s_v5``."""
    return _NUMBERS.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + "#", size)


@dataclass(frozen=True)
class SeriesRule:
    """Memory per vCPU of a series, valid up to ``max_vcpus``."""

    gib_per_vcpu: float
    max_vcpus: int


@dataclass(frozen=True)
class SizeTable:
    """Aliases and hardware facts of VM sizes (see the module docstring)."""

    aliases: Mapping[str, str]
    sizes: Mapping[str, SizeFacts]
    series: Mapping[str, SeriesRule]
    source: str = SIZES_RESOURCE

    def name(self, size: str) -> str:
        """The ARM name of ``size`` after the table's aliases."""
        return self.aliases.get(size, size)

    def facts(self, size: str) -> SizeFacts | None:
        """vCPUs and memory of ``size``, or None when the table does not know it."""
        if size in self.sizes:
            return self.sizes[size]
        rule = self.series.get(series_key(size))
        numbers = _NUMBERS.match(size)
        if rule is None or numbers is None:
            return None
        parent = int(numbers.group(1))
        active = int(numbers.group(2) or parent)
        if parent > rule.max_vcpus or active <= 0:
            return None
        return SizeFacts(vcpus=active, memory_gib=parent * rule.gib_per_vcpu)


def parse_size_table(data: Mapping[str, Any], source: str = SIZES_RESOURCE) -> SizeTable:
    """Validate a size table already read from JSON."""
    try:
        sizes = {str(k): SizeFacts(int(v["vcpus"]), float(v["memory_gib"]), int(v.get("gpus", 0)))
                 for k, v in dict(data["sizes"]).items()}
        series = {str(r["series"]): SeriesRule(float(r["gib_per_vcpu"]), int(r["max_vcpus"]))
                  for r in data["series"]}
        aliases = {str(k): str(v) for k, v in dict(data.get("aliases", {})).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogFetchError(f"invalid Azure VM size table: {type(exc).__name__}: {exc}",
                                source=source, hint="fix planner/data/azure_vm_sizes.json") from exc
    return SizeTable(aliases=aliases, sizes=sizes, series=series, source=source)


def load_size_table(path: Path | None = None) -> SizeTable:
    """Load the VM size table (the bundled one unless ``path`` is given)."""
    if path is None:
        text = resources.files("planner").joinpath(SIZES_RESOURCE).read_text("utf-8")
        return parse_size_table(json.loads(text))
    return parse_size_table(json.loads(path.read_text("utf-8")), source=str(path))


def architecture_of(size: str) -> str:
    """``arm64`` for Azure's Arm sizes (a ``p`` in the size's feature letters:
    ``Standard_D4ps_v5``, ``Standard_E8pds_v6``), else ``x86_64``."""
    letters = _LETTERS.match(size)
    return "arm64" if letters and "p" in letters.group(1) else "x86_64"


def instance_facts(size: str) -> tuple[str, str]:
    """(series, architecture) of a VM size name, for imported catalog rows:
    ``Standard_D4ps_v5`` → (``Standard_D#ps_v5``, ``arm64``)."""
    return series_key(size), architecture_of(size)
