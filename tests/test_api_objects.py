"""The objects a script passes to the Python API are checked where they enter, like a file:
a portfolio or plan changed in code with pydantic's ``model_copy(update=...)`` (which does
not validate) is validated again in full, and a path, dict or None where a model or the
catalog list belongs is an InputError saying what to pass, not an AttributeError from
inside the compiler or the verifier, a "planner bug", or a plan of a portfolio no file
may hold. The loaders take paths, and say so when given text, a dict or None."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from builders import NOW, portfolio, small_catalog, training, workload

import planner
from planner import api
from planner.errors import InputError
from planner.whatif import load_scenarios

CARMAKER = Path(__file__).resolve().parent.parent / "examples" / "carmaker.yaml"


def _small() -> planner.Portfolio:
    return portfolio([workload("w", [training(hours=10)])])


def _with_stage(p: planner.Portfolio, **update: Any) -> planner.Portfolio:
    w = p.workloads[0]
    stage = w.stages[0].model_copy(update=update)
    return p.model_copy(update={"workloads": [w.model_copy(update={"stages": [stage]})]})


@pytest.mark.parametrize(("update", "path"), [
    ({"hours": Decimal(0)}, "workloads[0].stages[0].hours"),        # was: "a planner bug"
    ({"hours": "abc"}, "workloads[0].stages[0].hours"),             # was: TypeError
    ({"replicas": 0}, "workloads[0].stages[0].replicas"),           # was: DivisionByZero
    ({"replicas": -3}, "workloads[0].stages[0].replicas"),          # was: IndexError
    ({"vcpus": -1}, "workloads[0].stages[0].vcpus"),                # was: planned
])
def test_a_portfolio_changed_in_code_is_validated_before_planning(update: dict[str, Any],
                                                                  path: str) -> None:
    changed = _with_stage(_small(), **update)
    for call in (lambda: api.plan(changed, [small_catalog()], now=NOW, time_limit_s=10),
                 lambda: api.verify_plan(changed, api.plan(_small(), [small_catalog()],
                                                           now=NOW, time_limit_s=10),
                                         [small_catalog()])):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.path == path and err.value.exit_code == 2


def test_a_valid_portfolio_changed_in_code_plans_as_its_file_would() -> None:
    base = _small()
    changed = _with_stage(base, hours=Decimal(20))
    plan = api.plan(changed, [small_catalog()], now=NOW, time_limit_s=10, workers=1,
                    deterministic=True)
    assert plan.feasible and plan.placements[0].hours == 20
    assert api.verify_plan(changed, plan, [small_catalog()]) == []
    assert base.workloads[0].stages[0].hours == 10      # the original is not touched


def test_a_plan_changed_in_code_is_validated_before_verifying() -> None:
    p = _small()
    plan = api.plan(p, [small_catalog()], now=NOW, time_limit_s=10)
    for update, path in (({"placements": None}, "placements"),
                         ({"placements": [plan.placements[0].model_copy(
                             update={"hours": None})]}, "placements[0].hours")):
        with pytest.raises(InputError) as err:      # was: TypeError / AttributeError
            api.verify_plan(p, plan.model_copy(update=update), [small_catalog()])
        assert err.value.path == path


@pytest.mark.parametrize(("args", "path", "hint"), [
    (("examples/carmaker.yaml", [small_catalog()]), "portfolio", "planner.load_portfolio"),
    (({"name": "x"}, [small_catalog()]), "portfolio", "planner.load_portfolio"),
    ((None, [small_catalog()]), "portfolio", "planner.load_portfolio"),
    ((_small(), "catalogs"), "catalogs", "planner.load_catalogs"),
    ((_small(), small_catalog()), "catalogs", "planner.load_catalogs"),
])
def test_plan_refuses_what_is_not_a_portfolio_or_catalogs(args: tuple[Any, Any], path: str,
                                                          hint: str) -> None:
    with pytest.raises(InputError) as err:
        api.plan(*args, now=NOW, time_limit_s=10)
    assert err.value.path == path and hint in (err.value.hint or "")


def test_verify_refuses_what_is_not_a_plan() -> None:
    p = _small()
    plan = api.plan(p, [small_catalog()], now=NOW, time_limit_s=10)
    for wrong in (plan.model_dump(), "plan.json", None):
        with pytest.raises(InputError, match=r"expected a planner\.Plan") as err:
            api.verify_plan(p, wrong, [small_catalog()])  # type: ignore[arg-type]
        assert err.value.path == "plan"
    with pytest.raises(InputError, match=r"expected a planner\.Portfolio"):
        api.verify_plan(plan, p, [small_catalog()])  # type: ignore[arg-type]
    with pytest.raises(InputError) as err:
        api.plan(p, [small_catalog()], now=NOW, time_limit_s=10,
                 previous=plan.model_dump())  # type: ignore[arg-type]
    assert err.value.path == "previous"


def test_now_must_be_a_timezone_aware_datetime() -> None:
    for wrong in (NOW.replace(tzinfo=None), NOW.date(), "2026-11-01"):
        with pytest.raises(InputError) as err:      # was: TypeError from the catalog code
            api.plan(_small(), [small_catalog()], now=wrong,  # type: ignore[arg-type]
                     time_limit_s=10)
        assert err.value.path == "now" and "timezone" in err.value.message


@pytest.mark.parametrize("wrong", [None, {"name": "x"}, 3, b"examples/carmaker.yaml",
                                   "name: x\nworkloads: []\n", '{"name": "x"}'])
def test_loaders_refuse_what_is_not_a_path(wrong: Any) -> None:
    for load, kind in ((planner.load_portfolio, "portfolio"), (planner.load_plan, "plan"),
                       (load_scenarios, "scenario")):
        with pytest.raises(InputError) as err:      # was: TypeError from pathlib, or
            load(wrong)                             # "file not found" naming the text
        assert f"expected the path of a {kind} file" in err.value.message
    with pytest.raises(InputError, match="expected the path of a catalog directory"):
        planner.load_catalogs(3)  # type: ignore[arg-type]


def test_a_file_named_like_json_text_is_still_read(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "[draft].yaml").write_text(Path(CARMAKER).read_text(encoding="utf-8"),
                                           encoding="utf-8")
    assert planner.load_portfolio("[draft].yaml").name == "carmaker"
