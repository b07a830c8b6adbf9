"""The GPU vocabulary shared by catalogs, portfolios and plans.

Every GPU model the planner knows has one normalized name (``H100``,
``A100-80GB`` …). Catalog fetchers map provider spellings onto these names with
:func:`normalize_gpu`; portfolio validation rejects anything else with the
closest valid name.

A few names are **family aliases** (:data:`GPU_FAMILY_ALIASES`): ``A100`` in a workload's
``gpu.models`` means "either A100-40GB or A100-80GB" and expands to both with the speed
given for the alias (:func:`expand_gpu_models`); a speed given for a member explicitly wins.

``default_speed`` is a rough relative training throughput (H100 = 1.0), a documented
starting point for ``gpu.models`` when a team has not measured its own model; the planner
never applies it on its own: a workload's speeds are always the ones it states.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TypeVar

_T = TypeVar("_T")


@dataclass(frozen=True)
class GpuModel:
    """A normalized GPU model: its name, vendor and memory per GPU (GiB)."""

    name: str
    vendor: str
    memory_gib: int
    default_speed: float = 0.0
    """Rough relative training throughput, H100 = 1.0 (0: no sensible default, e.g.
    graphics or inference-only parts). Documentation for users, never applied silently."""


GPU_MODELS: dict[str, GpuModel] = {
    m.name: m
    for m in (
        GpuModel("B200", "nvidia", 180, 2.2),
        GpuModel("H200", "nvidia", 141, 1.3),
        GpuModel("H100", "nvidia", 80, 1.0),
        GpuModel("A100-80GB", "nvidia", 80, 0.35),
        GpuModel("A100-40GB", "nvidia", 40, 0.3),
        GpuModel("L40S", "nvidia", 48, 0.35),
        GpuModel("L4", "nvidia", 24, 0.12),
        GpuModel("A10G", "nvidia", 24, 0.12),
        GpuModel("A10", "nvidia", 24, 0.12),
        GpuModel("V100-32GB", "nvidia", 32, 0.12),
        GpuModel("V100", "nvidia", 16, 0.1),
        GpuModel("T4", "nvidia", 16, 0.04),
        GpuModel("K80", "nvidia", 12),
        GpuModel("M60", "nvidia", 8),
        GpuModel("MI300X", "amd", 192, 1.0),
        GpuModel("MI25", "amd", 16),
        GpuModel("Radeon-V520", "amd", 8),
        GpuModel("Gaudi-HL-205", "habana", 32, 0.15),
        GpuModel("Trainium", "aws", 32, 0.2),
        GpuModel("Trainium2", "aws", 96, 0.6),
        GpuModel("Inferentia", "aws", 8),
        GpuModel("Inferentia2", "aws", 32, 0.1),
    )
}
"""The vocabulary. ``default_speed`` values are rough dense BF16/FP16 training throughput
ratios from the vendors' published peak numbers (H100 SXM = 1.0); real speed-ups depend
on the model, precision and interconnect, so measure and state your own in ``gpu.models``."""

GPU_FAMILY_ALIASES: dict[str, tuple[str, ...]] = {
    "A100": ("A100-40GB", "A100-80GB"),
}
"""Names that stand for several models in a workload's ``gpu.models``."""

# Provider spellings (upper-cased, spaces/underscores removed) → normalized name.
_ALIASES: dict[str, str] = {
    "H100": "H100",
    "H10080GB": "H100",
    "H100NVL": "H100",
    "H200": "H200",
    "B200": "B200",
    "A100": "A100-40GB",
    "A10040GB": "A100-40GB",
    "A100SXM440GB": "A100-40GB",
    "A10080GB": "A100-80GB",
    "A100SXM480GB": "A100-80GB",
    "A100PCIE80GB": "A100-80GB",
    "L40S": "L40S",
    "L4": "L4",
    "A10G": "A10G",
    "A10": "A10",
    "V100": "V100",
    "V10016GB": "V100",
    "V10032GB": "V100-32GB",
    "T4": "T4",
    "T4G": "T4",
    "K80": "K80",
    "M60": "M60",
    "MI300X": "MI300X",
    "MI25": "MI25",
    "RADEONPROV520": "Radeon-V520",
    "GAUDIHL205": "Gaudi-HL-205",
    "TRAINIUM": "Trainium",
    "TRAINIUM2": "Trainium2",
    "INFERENTIA": "Inferentia",
    "INFERENTIA2": "Inferentia2",
}


def _key(name: str) -> str:
    return "".join(ch for ch in name.upper() if ch.isalnum())


def normalize_gpu(name: str, memory_gib: float | None = None) -> str | None:
    """Map a provider's GPU name (optionally with its memory) to the normalized name.

    ``memory_gib`` disambiguates families sold in two sizes (A100 40/80 GB,
    V100 16/32 GB). Returns ``None`` for names the vocabulary does not know.
    """
    key = _key(name)
    if key in ("A100", "V100") and memory_gib:
        if key == "A100":
            return "A100-80GB" if memory_gib > 48 else "A100-40GB"
        return "V100-32GB" if memory_gib > 20 else "V100"
    if key in _ALIASES:
        return _ALIASES[key]
    if name in GPU_MODELS:
        return name
    return None


def closest(name: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """The closest valid name for a hint ("did you mean …"), or None."""
    ordered = sorted(choices)
    matches = difflib.get_close_matches(name, ordered, n=1, cutoff=0.5)
    if not matches:
        upper = {c.upper(): c for c in ordered}
        matches = [upper[m] for m in difflib.get_close_matches(name.upper(), list(upper), n=1)]
    return matches[0] if matches else None


def expand_gpu_models(models: dict[str, _T]) -> dict[str, _T]:
    """``gpu.models`` with family aliases expanded: ``{A100: 1.0}`` becomes
    ``{A100-40GB: 1.0, A100-80GB: 1.0}``. A member named explicitly keeps its own speed,
    whatever the order; names that are not aliases pass through unchanged."""
    out: dict[str, _T] = {}
    for name, speed in models.items():
        for member in GPU_FAMILY_ALIASES.get(name, ()):
            if member not in models:
                out.setdefault(member, speed)
        if name not in GPU_FAMILY_ALIASES:
            out[name] = speed
    return out


def closest_gpu_name(name: str) -> str | None:
    """What a mistyped ``gpu.models`` name most likely means: a known model or alias that
    differs only in case or punctuation (``a100`` → ``A100``, ``h100`` → ``H100``), else a
    provider spelling of a known model (``A100 SXM4 80GB`` → ``A100-80GB``), else the closest
    name by spelling."""
    names = [*GPU_MODELS, *GPU_FAMILY_ALIASES]
    same = [n for n in names if _key(n) == _key(name)]
    if same:
        return same[0]
    return normalize_gpu(name) or closest(name, set(names))
