"""Today's accelerators are in the vocabulary with memory and a documented default speed, and
family aliases resolve: ``A100`` in ``gpu.models`` means A100-40GB or A100-80GB."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from builders import catalog, portfolio, row, small_catalog, solve, training, workload
from pydantic import ValidationError

from planner.compile.resolve import build_world
from planner.errors import InputError
from planner.models.portfolio import GpuNeed
from planner.providers.azure.skus import load_gpu_families
from planner.vocab.gpus import GPU_FAMILY_ALIASES, GPU_MODELS, expand_gpu_models, normalize_gpu

AWS_FAMILIES = (Path(__file__).resolve().parents[1] / "planner" / "data"
                / "aws_accelerator_families.json")
TODAY = {"B200": 180, "H200": 141, "H100": 80, "L40S": 48, "MI300X": 192, "Trainium": 32,
         "Trainium2": 96, "Inferentia2": 32}


@pytest.mark.parametrize(("name", "memory"), sorted(TODAY.items()))
def test_todays_accelerators_are_known(name: str, memory: int) -> None:
    model = GPU_MODELS[name]
    assert model.memory_gib == memory
    assert model.default_speed > 0


def test_default_speeds_rank_the_generations() -> None:
    speed = {n: m.default_speed for n, m in GPU_MODELS.items()}
    assert speed["B200"] > speed["H200"] > speed["H100"] == 1.0 > speed["A100-80GB"]
    assert speed["A100-80GB"] > speed["T4"] > 0


@pytest.mark.parametrize(("spelling", "name"), [
    ("B200", "B200"), ("H200", "H200"), ("L40S", "L40S"), ("MI300X", "MI300X"),
    ("Trainium2", "Trainium2"), ("Inferentia2", "Inferentia2")])
def test_provider_spellings_normalize(spelling: str, name: str) -> None:
    assert normalize_gpu(spelling) == name


def test_alias_expands_to_every_member_at_its_speed() -> None:
    assert GPU_FAMILY_ALIASES["A100"] == ("A100-40GB", "A100-80GB")
    assert expand_gpu_models({"A100": 1.0, "H100": 2.0}) == {
        "A100-40GB": 1.0, "A100-80GB": 1.0, "H100": 2.0}


@pytest.mark.parametrize("models", [{"A100": "1.0", "A100-80GB": "1.3"},
                                    {"A100-80GB": "1.3", "A100": "1.0"}])
def test_a_member_named_explicitly_keeps_its_speed(models: dict[str, str]) -> None:
    assert GpuNeed.model_validate({"models": models}).models == {
        "A100-40GB": Decimal("1.0"), "A100-80GB": Decimal("1.3")}


def test_alias_plans_on_either_member() -> None:
    """Rejected before with "did you mean 'A10'?"; now A100 runs on the A100-80GB offer."""
    cat = catalog([
        row("us-east-1", "g.a100-40", "20", gpu="A100-40GB", gpus=8, vcpus=96, mem=1152,
            country="US"),
        row("us-east-1", "g.a100-80", "25", gpu="A100-80GB", gpus=8, vcpus=96, mem=1152,
            country="US"),
    ])
    p = portfolio([workload("w", [training(hours=10, models={"A100": 1.0})])])
    plan = solve(p, [cat])
    assert [pl.offer for pl in plan.placements] == ["g.a100-40"]
    p = portfolio([workload("w", [training(hours=10, models={"A100": 1.0, "A100-80GB": 2.0})])])
    assert [pl.offer for pl in solve(p, [cat]).placements] == ["g.a100-80"]


def test_unknown_model_is_still_one_clear_error() -> None:
    p = portfolio([workload("w", [training(models={"H10": 1.0})])])
    with pytest.raises(InputError) as err:
        build_world(p, [small_catalog()])
    text = str(err.value)
    assert "workloads[0].stages[0].gpu.models" in text and "'H100'" in text


@pytest.mark.parametrize(("typed", "meant"), [
    ("a100", "A100"), ("h200", "H200"), ("mi300x", "MI300X"), ("A100 SXM4 80GB", "A100-80GB"),
    ("H10", "H100")])
def test_a_mistyped_model_gets_the_name_it_means(typed: str, meant: str) -> None:
    """'a100' used to get "did you mean 'V100'?" (closest by spelling only)."""
    p = portfolio([workload("w", [training(models={typed: 1.0})])])
    with pytest.raises(InputError) as err:
        build_world(p, [small_catalog()])
    assert f"did you mean {meant!r}?" in str(err.value)


def test_speed_must_stay_positive_for_an_alias() -> None:
    with pytest.raises(ValidationError, match=r"models\.A100"):
        GpuNeed.model_validate({"models": {"A100": 0}})


def test_aws_family_table_names_known_models_with_their_memory() -> None:
    table = json.loads(AWS_FAMILIES.read_text("utf-8"))["families"]
    assert {"p5e", "p5en", "p6-b200", "g6e", "trn1", "trn1n", "trn2", "inf2"} <= set(table)
    for family, entry in table.items():
        model = GPU_MODELS[entry["gpu"]]
        assert entry["vendor"] == model.vendor, family
        assert entry["memory_gib_per_gpu"] == model.memory_gib, family


def test_azure_family_table_has_todays_families() -> None:
    series = {f.series: f for f in load_gpu_families().entries}
    assert series["ND H200 v5"].gpu == "H200"
    assert series["ND MI300X v5"].gpu == "MI300X"
    assert series["NC H100 v5"].gpu == "H100"
    assert series["ND H100 v5"].gpu_counts["Standard_ND96isr_H100_v5"] == 8
