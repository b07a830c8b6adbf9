"""The views of a plan in the Python API (``diff_plans``, ``explanations``, ``render_html``)
and ``planner.edit`` check what they are given, as ``plan`` and ``verify_plan`` do: a dict
(a plan's JSON read with ``json.load``), a path or None where a plan or portfolio belongs,
a naive ``now``, or a path that is not text is an InputError naming the argument and how
to get the right thing, not an AttributeError or TypeError from inside."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import NOW, portfolio, small_catalog, training, workload

import planner
from planner import api
from planner.errors import InputError
from planner.plans.diff import diff_plans
from planner.report import explanations, render_html
from planner.report.sections import Limits


@pytest.fixture(scope="module")
def made() -> tuple[planner.Portfolio, planner.Plan]:
    p = portfolio([workload("w", [training(hours=10)])])
    plan = api.plan(p, [small_catalog()], now=NOW, time_limit_s=10, workers=1,
                    deterministic=True)
    assert plan.feasible and api.verify_plan(p, plan, [small_catalog()]) == []
    return p, plan


def _refused(call: Callable[[], object], path: str, hint: str) -> InputError:
    with pytest.raises(InputError) as err:      # was: AttributeError / TypeError
        call()
    assert err.value.path == path and err.value.exit_code == 2
    assert hint in (err.value.hint or ""), err.value
    return err.value


@pytest.mark.parametrize("wrong", ["json", "plan.json", None, 3])
def test_views_refuse_what_is_not_a_plan(made: tuple[planner.Portfolio, planner.Plan],
                                         wrong: Any) -> None:
    p, plan = made
    if wrong == "json":
        wrong = json.loads(plan.model_dump_json())
    load = "planner.load_plan(path)"
    _refused(lambda: diff_plans(wrong, plan), "old", load)
    _refused(lambda: diff_plans(plan, wrong), "new", load)
    _refused(lambda: explanations(wrong), "plan", load)
    _refused(lambda: render_html(wrong), "plan", load)
    _refused(lambda: render_html(wrong, p), "plan", load)


def test_render_html_refuses_what_is_not_a_portfolio_or_an_aware_time(
        made: tuple[planner.Portfolio, planner.Plan]) -> None:
    p, plan = made
    for wrong in ({"name": p.name}, "examples/carmaker.yaml"):
        _refused(lambda w=wrong: render_html(plan, w), "portfolio", "planner.load_portfolio")
    for when in (NOW.replace(tzinfo=None), "2026-11-01"):
        err = _refused(lambda w=when: render_html(plan, p, now=w), "now", "timezone.utc")
        assert "timezone-aware" in err.message
    _refused(lambda: render_html(plan, dropped=["x"]), "dropped",  # type: ignore[arg-type]
             "load_plan_lenient")
    _refused(lambda: render_html(plan, limits=500), "limits", "default")  # type: ignore[arg-type]
    _refused(lambda: explanations(plan, more=[1]), "more",  # type: ignore[arg-type]
             "load_plan_lenient")


def test_views_of_valid_plans_are_unchanged(made: tuple[planner.Portfolio, planner.Plan]
                                            ) -> None:
    p, plan = made
    assert not diff_plans(plan, plan).moved and diff_plans(plan, plan).delta_usd == 0
    assert explanations(plan)["portfolio"] == p.name
    assert "<html" in render_html(plan, p, now=NOW)


def test_views_validate_a_plan_changed_in_code(made: tuple[planner.Portfolio, planner.Plan]
                                               ) -> None:
    _, plan = made
    broken = plan.model_copy(update={"placements": None})
    for call, path in ((lambda: diff_plans(plan, broken), "new"),
                       (lambda: explanations(broken), "plan"),
                       (lambda: render_html(broken), "plan")):
        with pytest.raises(InputError) as err:          # was: TypeError
            call()
        assert err.value.source == path and err.value.path == "placements"


def test_edit_refuses_what_is_not_a_model_or_a_path(
        made: tuple[planner.Portfolio, planner.Plan]) -> None:
    p, plan = made
    for wrong in (json.loads(p.model_dump_json()), None, planner.Portfolio):
        _refused(lambda w=wrong: planner.edit(w, "name", "x"), "model",
                 "planner.load_portfolio")
    for path in (3, None, ["name"]):
        _refused(lambda q=path: planner.edit(p, q, "x"), "path",  # type: ignore[arg-type]
                 "workloads[0]")
    assert planner.edit(plan, "warnings", ["checked"]).warnings == ["checked"]


def test_report_limits_and_extra_fields_are_checked(
        made: tuple[planner.Portfolio, planner.Plan]) -> None:
    _, plan = made
    for bad in ({"rows": 0}, {"rows": -3}, {"lanes": "80"}, {"chart_items": True}):
        with pytest.raises(InputError) as err:          # was: a page "showing -3 of 1"
            Limits(**bad)
        assert err.value.path == f"limits.{next(iter(bad))}"
    _refused(lambda: explanations(plan, more={0: 3}), "more",  # type: ignore[dict-item]
             "load_plan_lenient")                                 # was: TypeError
    assert explanations(plan, more={0: {"new_field": 1}})["placements"][0]["new_field"] == 1


def test_numpy_whole_numbers_are_whole_numbers(
        made: tuple[planner.Portfolio, planner.Plan]) -> None:
    """Indices and limits computed with numpy are accepted (they were refused as not
    whole numbers)."""
    import numpy as np

    _, plan = made
    limits = Limits(rows=np.int64(5))  # type: ignore[arg-type]
    assert limits.rows == 5 and type(limits.rows) is int
    assert "<html" in render_html(plan, limits=limits)
    more = {np.int64(0): {"new_field": 1}}
    assert explanations(plan, more=more)["placements"][0]["new_field"] == 1  # type: ignore[arg-type]


def test_the_more_hint_names_what_turns_a_lenient_load_into_more(
        made: tuple[planner.Portfolio, planner.Plan], tmp_path: Path) -> None:
    """The hint of a wrong ``more`` gives the call that makes one from a lenient load."""
    from planner.report.lenient import load_plan_lenient, split_dropped

    _, plan = made
    data = json.loads(plan.model_dump_json())
    data["placements"][0]["future_field"] = 1
    f = tmp_path / "plan.json"
    f.write_text(json.dumps(data))
    loaded, dropped = load_plan_lenient(f)
    err = _refused(lambda: explanations(loaded, more=dropped), "more", "split_dropped")
    assert "load_plan_lenient" in (err.hint or "")
    more = split_dropped(dropped)[0]
    assert explanations(loaded, more=more)["placements"][0]["future_field"] == 1
