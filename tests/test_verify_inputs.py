"""`planner verify` re-checks what a plan claims about itself: which inputs it was made
from (digests), and — for an infeasible plan — that its conflicting rules really admit
no plan (re-solved). `planner diff` refuses plans of different portfolios."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from planner import api
from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.explain.conflicts import recheck_conflicts
from planner.inputs.digest import portfolio_sha256
from planner.models.plan import Plan
from planner.solvers.base import SolveOptions
from planner.solvers.diagnosis import _guarded_model

REPO = Path(__file__).resolve().parent.parent
CATALOGS = str(REPO / "catalogs")
HOSPITAL = REPO / "examples" / "hospital-group.yaml"
CARMAKER = REPO / "examples" / "carmaker.yaml"
SEPSIS = REPO / "examples" / "infeasible-sepsis.yaml"
CORE = ["capacity:gpu:aws:eu-north-1/H100", "capacity:offer:onprem:munich-dc/hgx-h100",
        "residency.jurisdictions:sepsis-eu"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_main(), list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def cli_main() -> Any:
    from planner.cli.main import cli

    return cli


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("plans")
    paths = {}
    for name, src in (("hospital", HOSPITAL), ("carmaker", CARMAKER), ("sepsis", SEPSIS)):
        paths[name] = out / f"{name}.json"
        code, _, err = run("plan", str(src), "--catalogs", CATALOGS, "-o", str(paths[name]),
                           "-q", "--time-limit", "20", "--workers", "2")
        assert code == (3 if name == "sepsis" else 0), err
    return paths


def edited(path: Path, tmp: Path, change: Any) -> Path:
    data = json.loads(path.read_text())
    change(data)
    new = tmp / f"edited-{path.name}"
    new.write_text(json.dumps(data))
    return new


def test_verify_confirms_the_infeasible_example(plans: dict[str, Path]) -> None:
    assert sorted(c.rule for c in api.load_plan(plans["sepsis"]).conflicts) == CORE
    code, out, err = run("verify", str(SEPSIS), str(plans["sepsis"]), "--catalogs", CATALOGS)
    assert code == 3, err
    assert "infeasibility confirmed: 3 rule(s) admit no plan together" in out
    assert "every rule holds" not in out


def test_verify_refutes_a_conflict_set_that_admits_a_plan(plans: dict[str, Path],
                                                          tmp_path: Path) -> None:
    # Without the residency rule, the H100s of the US regions make a plan possible.
    fewer = edited(plans["sepsis"], tmp_path, lambda d: d.update(conflicts=[
        c for c in d["conflicts"] if not c["rule"].startswith("residency")]))
    code, _, err = run("verify", str(SEPSIS), str(fewer), "--catalogs", CATALOGS)
    assert code == 6
    assert "[conflicts] infeasibility claim refuted: a plan exists with" in err


def test_verify_refutes_unknown_rules(plans: dict[str, Path], tmp_path: Path) -> None:
    bogus = edited(plans["sepsis"], tmp_path, lambda d: d["conflicts"].append(
        {"rule": "budget:total", "message": "made up"}))
    code, _, err = run("verify", str(SEPSIS), str(bogus), "--catalogs", CATALOGS)
    assert code == 6 and "budget:total: not a rule of this portfolio" in err


def test_verify_refuses_a_rule_listed_twice_and_cuts_long_names(plans: dict[str, Path],
                                                               tmp_path: Path) -> None:
    twice = edited(plans["sepsis"], tmp_path, lambda d: d["conflicts"].append(
        dict(d["conflicts"][0])))
    code, _, err = run("verify", str(SEPSIS), str(twice), "--catalogs", CATALOGS)
    assert code == 6 and "is listed twice" in err  # it was "confirmed" with the duplicate
    long = edited(plans["sepsis"], tmp_path, lambda d: d["conflicts"].append(
        {"rule": "x" * 100_000, "message": "made up"}))
    code, _, err = run("verify", str(SEPSIS), str(long), "--catalogs", CATALOGS)
    assert code == 6 and "x" * 60 + "…: not a rule of this portfolio" in err
    assert len(err) < 1_000


def test_recheck_refutes_a_set_that_is_not_minimal() -> None:
    sepsis = api.load_portfolio(SEPSIS)
    # A generous budget: one more rule, which takes no part in the conflict.
    portfolio = sepsis.model_copy(update={"settings": sepsis.settings.model_copy(
        update={"budget_usd": Decimal(10**9)})})
    world = build_world(portfolio, api.load_catalogs(CATALOGS))
    cands = generate(portfolio, world)
    options = SolveOptions(time_limit_s=10, workers=2)
    assert recheck_conflicts(cands, world, CORE, options).holds is True
    names = _guarded_model(build_problem(cands, world, include_pruned=True)).literals
    extra = "budget:total"
    assert extra in names
    check = recheck_conflicts(cands, world, [*CORE, extra], options)
    assert check.holds is False and check.message.startswith("not minimal: without")


def test_verify_of_an_unknown_plan_exits_7(plans: dict[str, Path], tmp_path: Path) -> None:
    def unknown(d: dict[str, Any]) -> None:
        d.update(status="unknown", conflicts=[], diagnosis=None)
        d["solver"]["status"] = "unknown"

    code, _, err = run("verify", str(SEPSIS), str(edited(plans["sepsis"], tmp_path, unknown)),
                       "--catalogs", CATALOGS)
    assert code == 7 and "status unknown" in err


def test_plan_of_another_portfolio_is_one_clear_error(plans: dict[str, Path]) -> None:
    code, out, err = run("verify", str(CARMAKER), str(plans["hospital"]), "--catalogs", CATALOGS)
    assert code == 2 and not out
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "made from portfolio 'hospital-group', not 'carmaker'" in lines[0]
    assert str(plans["hospital"]) in lines[0]


def test_another_version_of_the_portfolio_is_recognised(plans: dict[str, Path],
                                                        tmp_path: Path) -> None:
    data = yaml.safe_load(HOSPITAL.read_text())
    data["settings"]["max_provider_share"] = 0.9
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    code, _, err = run("verify", str(changed), str(plans["hospital"]), "--catalogs", CATALOGS)
    assert code == 2 and "another version of portfolio 'hospital-group'" in err


def test_formatting_of_the_portfolio_does_not_change_its_digest(plans: dict[str, Path],
                                                                tmp_path: Path) -> None:
    data = yaml.safe_load(HOSPITAL.read_text())
    data["settings"]["move_fixed_usd"] = 0.0  # the default, spelt out differently
    data["settings"]["max_provider_share"] = "0.80"
    as_json = tmp_path / "hospital.json"
    as_json.write_text(json.dumps(dict(reversed(list(data.items()))), indent=4))
    assert portfolio_sha256(api.load_portfolio(as_json)) == portfolio_sha256(
        api.load_portfolio(HOSPITAL))
    code, out, err = run("verify", str(as_json), str(plans["hospital"]), "--catalogs", CATALOGS)
    assert code == 0 and "every rule holds" in out, err


def test_other_catalogs_are_recognised(plans: dict[str, Path], tmp_path: Path) -> None:
    cats = tmp_path / "catalogs"
    shutil.copytree(CATALOGS, cats)
    aws = json.loads((cats / "aws.json").read_text())
    aws["rows"][0]["price_per_hour"] = str(float(aws["rows"][0]["price_per_hour"]) * 2)
    (cats / "aws.json").write_text(json.dumps(aws))
    code, _, err = run("verify", str(HOSPITAL), str(plans["hospital"]), "--catalogs", str(cats))
    assert code == 2 and "priced with other catalogs" in err and "aws.json" in err
    assert "(--catalogs DIR)" in err      # the flag; the Python API names catalogs=


def test_plans_without_input_digests_still_load_and_verify(plans: dict[str, Path],
                                                          tmp_path: Path) -> None:
    old = edited(plans["hospital"], tmp_path, lambda d: d.pop("inputs"))
    assert api.load_plan(old).inputs is None
    code, out, err = run("verify", str(HOSPITAL), str(old), "--catalogs", CATALOGS)
    assert code == 0 and "every rule holds" in out, err
    code, _, err = run("verify", str(CARMAKER), str(old), "--catalogs", CATALOGS)
    assert code == 2 and "for portfolio 'hospital-group', not 'carmaker'" in err


def test_diff_refuses_plans_of_different_portfolios(plans: dict[str, Path]) -> None:
    code, out, err = run("diff", str(plans["carmaker"]), str(plans["hospital"]))
    assert code == 2 and not out
    assert "different portfolios ('carmaker' and 'hospital-group')" in err


def test_diff_warns_when_the_portfolio_changed(plans: dict[str, Path], tmp_path: Path) -> None:
    data = yaml.safe_load(HOSPITAL.read_text())
    data["settings"]["max_provider_share"] = 0.9
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    new = tmp_path / "new.json"
    assert run("plan", str(changed), "--catalogs", CATALOGS, "-o", str(new), "-q")[0] == 0
    code, out, err = run("diff", str(plans["hospital"]), str(new), "--json")
    assert code == 0
    assert "warning: the portfolio 'hospital-group' changed between the plans" in err
    assert json.loads(out)["warnings"] == [err.strip().removeprefix("warning: ")]
    code, _, err = run("diff", str(plans["hospital"]), str(plans["hospital"]))
    assert code == 0 and "warning" not in err
    assert Plan.model_validate_json(new.read_text()).inputs is not None
