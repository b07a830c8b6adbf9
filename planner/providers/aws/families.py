"""AWS accelerators: from ``DescribeInstanceTypes`` (credentialed fetch) and, for the
keyless bulk offer files that name no accelerator model, from the instance family.

:func:`family_accelerators` maps an accelerated instance family to the accelerator
name (normalized with :func:`planner.vocab.gpus.normalize_gpu`); it is read from
``planner/data/aws_accelerator_families.json`` (sources named there). A family
whose accelerator the GPU vocabulary does not know yet (B200 until it is added)
is skipped with the reason ``unknown_accelerator:<name>``, never guessed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from planner.vocab.gpus import GPU_MODELS, normalize_gpu

FAMILIES_RESOURCE = "data/aws_accelerator_families.json"
"""The one AWS family table (also read by ``catalogs/build_snapshot.py``)."""


@functools.cache
def family_accelerators() -> Mapping[str, str]:
    """Accelerated instance family → its accelerator's name (read once, read-only)."""
    text = resources.files("planner").joinpath(FAMILIES_RESOURCE).read_text("utf-8")
    table = json.loads(text)["families"]
    return MappingProxyType({family: str(entry["gpu"]) for family, entry in table.items()})



@dataclass(frozen=True)
class Accelerator:
    """The accelerators of an instance type, normalized."""

    model: str | None  # None: a name the GPU vocabulary does not know
    raw_name: str
    vendor: str | None
    count: float
    memory_gib: float


def accelerator_of(info: dict[str, Any]) -> Accelerator | None:
    """GPUs (``GpuInfo``) or AWS Neuron devices (Trainium/Inferentia) of an instance type.

    ``NeuronInfo`` is preferred over ``InferenceAcceleratorInfo``: inf1/inf2 report
    the same devices in both.
    """
    gpus = info.get("GpuInfo", {}).get("Gpus", [])
    if gpus:
        first = gpus[0]
        per_gpu_gib = first.get("MemoryInfo", {}).get("SizeInMiB", 0) / 1024
        total_mib = info["GpuInfo"].get("TotalGpuMemoryInMiB")
        count = float(sum(g.get("Count", 0) for g in gpus))
        name = str(first["Name"])
        memory = total_mib / 1024 if total_mib else per_gpu_gib * count
        return _accelerator(name, per_gpu_gib, count, memory)
    for key, list_key, total_key in (
        ("NeuronInfo", "NeuronDevices", "TotalNeuronDeviceMemoryInMiB"),
        ("InferenceAcceleratorInfo", "Accelerators", "TotalInferenceMemoryInMiB"),
    ):
        devices = info.get(key, {}).get(list_key, [])
        if devices:
            count = float(sum(d.get("Count", 0) for d in devices))
            memory = info[key].get(total_key, 0) / 1024
            per_device = devices[0].get("MemoryInfo", {}).get("SizeInMiB", 0) / 1024
            return _accelerator(str(devices[0]["Name"]), per_device, count, memory)
    return None


def _accelerator(name: str, per_device_gib: float, count: float, memory_gib: float) -> Accelerator:
    model = normalize_gpu(name, per_device_gib or None)
    vendor = GPU_MODELS[model].vendor if model in GPU_MODELS else None
    return Accelerator(model, name, vendor, count, memory_gib)


def family_accelerator(family: str) -> tuple[str, str | None] | None:
    """(AWS's accelerator name, normalized model or None) of an accelerated family."""
    name = family_accelerators().get(family)
    return None if name is None else (name, normalize_gpu(name))


def family_architecture(family: str) -> str:
    """``arm64`` for Graviton families (a ``g`` among the letters after the generation:
    ``m7g``, ``c7gn``, ``g5g``, ``im4gn``), else ``x86_64`` (``g6e``, ``gr6``, ``p5en``)."""
    head, _, _ = family.partition("-")
    letters = head.lstrip("abcdefghijklmnopqrstuvwxyz").lstrip("0123456789")
    return "arm64" if "g" in letters else "x86_64"


def instance_facts(instance_type: str) -> tuple[str, str]:
    """(family, architecture) of an instance type name, for imported catalog rows:
    ``p4d.24xlarge`` → (``p4d``, ``x86_64``), ``m7g.large`` → (``m7g``, ``arm64``)."""
    family = instance_type.split(".", 1)[0]
    return family, family_architecture(family)
