"""Infeasibility diagnosis (the reported rules contain the known conflict, and dropping
any one of them makes the instance feasible, checked by re-solving) and re-planning
against a previous plan (a move cap of k moves at most k stages)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import portfolio, small_catalog, solve, training, workload

from planner import api
from planner.catalog.load import LoadedCatalog
from planner.compile.candidates import generate
from planner.compile.pruned import Pruned, PrunedList
from planner.compile.resolve import build_world
from planner.explain.conflicts import diagnose
from planner.models.portfolio import Portfolio
from planner.models.status import SolveStatus
from planner.solvers.base import SolveOptions

REPO = Path(__file__).resolve().parent.parent


def drop_rule(data: dict[str, Any], rule: str) -> dict[str, Any]:
    """The portfolio (as a dict) with one rule instance removed."""
    d = copy.deepcopy(data)
    kind, _, scope = rule.partition(":")
    workloads = {w["id"]: w for w in d["workloads"]}
    stages = {f"{w['id']}/{s.get('name', s['kind'])}": s for w in d["workloads"]
              for s in w["stages"]}
    if kind.startswith("residency."):
        field = kind.split(".", 1)[1]
        target = workloads[scope] if scope in workloads else stages[scope]
        target.setdefault("residency", {})[field] = []
    elif kind == "capacity" and scope.startswith("gpu:"):
        site, model = scope[4:].rsplit("/", 1)
        d["cloud"]["quotas"] = [q for q in d["cloud"]["quotas"]
                                if (q.get("site"), q.get("gpu_model")) != (site, model)]
    elif kind == "capacity" and scope.startswith("offer:"):
        site, offer = scope[6:].rsplit("/", 1)
        for s in d.get("onprem", []):
            for o in s["offers"]:
                if (s["id"], o["id"]) == (site, offer):
                    o["nodes"] = 10_000
    elif kind == "budget":
        if scope == "total":
            d["settings"].pop("budget_usd")
        else:
            d["settings"]["team_budgets"].pop(scope.split(":", 1)[1])
    elif kind == "spread":
        stages[scope]["min_sites"] = 1
    elif kind == "inference.latency":
        stages[scope].pop("latency")
    elif kind == "colocation":
        stages[scope].pop("colocate")
    else:
        raise AssertionError(f"test does not know how to drop {rule}")
    return d


def feasible(data: dict[str, Any], cats: list[LoadedCatalog] | None) -> bool:
    p = Portfolio.model_validate(data)
    return solve(p, cats, time_limit_s=10).status is SolveStatus.OPTIMAL


def sepsis() -> tuple[dict[str, Any], list[LoadedCatalog] | None]:
    data = yaml.safe_load((REPO / "examples" / "infeasible-sepsis.yaml").read_text())
    return data, api.load_catalogs(REPO / "catalogs")


def budget_vs_residency() -> tuple[dict[str, Any], list[LoadedCatalog] | None]:
    w = workload("w", [training()], jurisdictions=["EU"])  # EU: 360 $, US: 300 $
    return {"name": "t", "cloud": {"providers": ["aws"]}, "settings": {"budget_usd": "320"},
            "workloads": [w]}, [small_catalog()]


def spread_vs_latency() -> tuple[dict[str, Any], list[LoadedCatalog] | None]:
    st = {"kind": "inference", "vcpus": 8, "memory_gib": 32, "hours": 100, "replicas": 2,
          "min_sites": 2, "latency": {"max_ms": 15, "users": ["eu-central"]}}
    return {"name": "t", "cloud": {"providers": ["aws"]}, "settings": {},
            "workloads": [workload("w", [st])]}, [small_catalog()]


def colocation_vs_capacity() -> tuple[dict[str, Any], list[LoadedCatalog] | None]:
    onprem = [{"id": "onprem:dc", "country": "DE", "offers": [
        {"id": "gpu", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 96,
         "memory_gib": 1024, "nodes": 1, "price_per_hour": "1"}]}]
    stages = [training(hours=700),
              {**training(hours=100), "kind": "testing", "after": [],
               "colocate": {"stage": "training", "level": "site"}}]  # may overlap
    w = workload("w", stages, home="onprem:dc", sites=["onprem:dc"])
    return {"name": "t", "cloud": {"providers": ["aws"]}, "settings": {}, "onprem": onprem,
            "workloads": [w]}, [small_catalog()]


CASES = {
    "sepsis": (sepsis, {"residency.jurisdictions:sepsis-eu",
                        "capacity:gpu:aws:eu-north-1/H100",
                        "capacity:offer:onprem:munich-dc/hgx-h100"}),
    "budget": (budget_vs_residency, {"budget:total", "residency.jurisdictions:w"}),
    "spread": (spread_vs_latency, {"spread:w/inference", "inference.latency:w/inference"}),
    "colocation": (colocation_vs_capacity, {"capacity:offer:onprem:dc/gpu",
                                            "residency.sites:w"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reported_conflict_contains_known_and_is_minimal(name: str) -> None:
    make, known = CASES[name]
    data, cats = make()
    plan = solve(Portfolio.model_validate(data), cats, time_limit_s=10)
    assert plan.status is SolveStatus.INFEASIBLE
    reported = {c.rule for c in plan.conflicts}
    assert known <= reported, (reported, plan.diagnosis)
    assert plan.diagnosis and "dropping any one" in plan.diagnosis
    for rule in reported:
        assert feasible(drop_rule(data, rule), cats), f"dropping {rule} should admit a plan"


def test_the_demand_in_a_diagnosis_reads_each_stage_s_own_pruned_records(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The sites a stage's rules allow were gathered by walking every pruned record of
    # every stage, once per stage caught in the conflict: 2.6 s of a dropped workload's
    # explanation on 60 generated stages (tight smoke), past any time limit.
    data, cats = sepsis()
    p = Portfolio.model_validate(data)
    world = build_world(p, cats or [])
    cands = generate(p, world)

    def walk_all(_self: PrunedList) -> Iterator[Pruned]:
        raise AssertionError("the diagnosis walked every stage's pruned records")

    monkeypatch.setattr(PrunedList, "__iter__", walk_all)
    conflicts, summary = diagnose(p, world, cands, SolveOptions(time_limit_s=10, workers=1,
                                                                deterministic=True))
    assert {c.rule for c in conflicts} >= CASES["sepsis"][1]
    assert "training of sepsis-eu needs 64 × H100 at once" in summary
    assert "its sites offer 48 (aws:eu-north-1 16 H100, onprem:munich-dc 32 H100)" in summary


# ---- re-planning ---------------------------------------------------------------------

def _inference(wid: str) -> dict[str, Any]:
    st = {"kind": "inference", "vcpus": 8, "memory_gib": 32, "hours": 100}
    w = workload(wid, [st])
    w["model"] = {"size_gb": 10}
    return w


def _previous_on_eu_west() -> tuple[Portfolio, Any]:
    ws = [_inference(f"w{i}") for i in range(3)]
    for w in ws:
        w["placement"] = {"exclude_sites": ["aws:us-east-1"]}
    before = portfolio(ws)
    return before, solve(before)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_move_cap_limits_moves(k: int) -> None:
    _, previous = _previous_on_eu_west()
    assert {p.site for p in previous.placements} == {"aws:eu-west-1"}
    now = portfolio([_inference(f"w{i}") for i in range(3)], settings={"max_moves": k})
    plan = solve(now, previous=previous)
    moved = [p for p in plan.placements if p.moved]
    assert len(moved) == len(plan.moves) == k  # each move saves money, so all k are used
    for m in plan.moves:
        assert m.previous == ["aws:eu-west-1/m.cpu"] and m.now == ["aws:us-east-1/m.cpu"]
        assert "saves" in m.why
    # 10 GB model × 0.02 $/GB from eu-west-1 to us-east-1 per moved stage.
    assert all(p.cost.migration_usd == Decimal("0.2") for p in moved)


def test_fixed_move_cost_keeps_stages_in_place() -> None:
    _, previous = _previous_on_eu_west()
    now = portfolio([_inference(f"w{i}") for i in range(3)], settings={"move_fixed_usd": "50"})
    plan = solve(now, previous=previous)
    assert not plan.moves and {p.site for p in plan.placements} == {"aws:eu-west-1"}
    assert all("kept from the previous plan" in p.why for p in plan.placements)


def test_replan_cli_lists_moves_and_verifies(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from planner.cli.main import cli

    example = REPO / "examples" / "hospital-group.yaml"
    cats = str(REPO / "catalogs")
    runner = CliRunner()
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert runner.invoke(cli, ["plan", str(example), "--catalogs", cats, "-o", str(old),
                               "-q"]).exit_code == 0
    data = yaml.safe_load(example.read_text())
    data["settings"]["max_moves"] = 1
    data["onprem"][0]["offers"][0]["nodes"] = 0 + 2  # a second DGX: cheaper to move more
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    res = runner.invoke(cli, ["plan", str(changed), "--catalogs", cats, "-o", str(new),
                              "--previous", str(old)])
    assert res.exit_code == 0, res.stderr
    res = runner.invoke(cli, ["verify", str(changed), str(new), "--catalogs", cats,
                              "--previous", str(old)])
    assert res.exit_code == 0, res.stderr
    plan = api.load_plan(new)
    assert len(plan.moves) <= 1
    res = runner.invoke(cli, ["diff", str(old), str(new), "--json"])
    assert res.exit_code == 0
    assert '"delta_usd"' in res.stdout
