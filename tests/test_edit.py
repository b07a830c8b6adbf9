"""``planner.edit``: a changed, re-validated copy of a frozen model."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

import planner
from planner.inputs.edit import parse_path

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def base() -> planner.Portfolio:
    return planner.load_portfolio(REPO / "examples" / "hospital-group.yaml")


def test_models_are_frozen(base: planner.Portfolio) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        base.workloads[0].stages[0].hours = Decimal(400)  # type: ignore[misc]


def test_edit_returns_a_validated_copy(base: planner.Portfolio) -> None:
    changed = planner.edit(base, "workloads[0].stages[0].hours", 400)
    assert changed.workloads[0].stages[0].hours == 400
    assert base.workloads[0].stages[0].hours == 160
    assert changed.workloads[1:] == base.workloads[1:]
    assert changed.settings == base.settings
    assert planner.edit(base, "workloads[0].stages[0].hours", 160) == base


def test_items_by_id_name_or_kind(base: planner.Portfolio) -> None:
    changed = planner.edit(base, "workloads[sepsis-us].stages[training].spot", False)
    us = next(w for w in changed.workloads if w.id == "sepsis-us")
    assert us.stages[0].spot is False
    assert planner.edit(base, "settings.budget_usd", "25000").settings.budget_usd == 25000


def test_a_changed_portfolio_plans_and_verifies(base: planner.Portfolio) -> None:
    catalogs = planner.load_catalogs(REPO / "catalogs")
    before = planner.plan(base, catalogs, time_limit_s=10, deterministic=True)
    longer = planner.edit(base, "workloads[0].stages[0].hours", 400)
    after = planner.plan(longer, catalogs, time_limit_s=10, deterministic=True)
    assert planner.verify_plan(longer, after, catalogs) == []
    assert after.totals.total_usd > before.totals.total_usd


@pytest.mark.parametrize(("path", "value", "message"), [
    ("workloads[0].stages[0].hours", -1, "workloads[0].stages[0].hours: must be at least 0.001"),
    ("workloads[0].stages[0].hourz", 1, "unknown key 'hourz', did you mean 'hours'?"),
    ("workloads[9].id", "x", "index 9 is out of range (4 items)"),
    ("workloads[nope].id", "x", "no single item 'nope'"),
    ("workloads[0].nope.x", 1, "no field 'nope'"),
    ("workloads..x", 1, "cannot read the path"),
])
def test_bad_edits_are_one_clear_error(base: planner.Portfolio, path: str, value: object,
                                       message: str) -> None:
    with pytest.raises(planner.PlannerError) as err:
        planner.edit(base, path, value)
    assert message in str(err.value)


def test_parse_path() -> None:
    assert parse_path("workloads[0].stages[-1].gpu.models.H100") == [
        "workloads", 0, "stages", -1, "gpu", "models", "H100"]
    assert parse_path("cloud.tags.aws:eu-central-1") == ["cloud", "tags", "aws:eu-central-1"]


def test_edit_a_portfolio_whose_horizon_has_an_end() -> None:
    # settings.horizon.end derives period_hours; the edit keeps the end and never gives
    # the derived period back as if it had been written (that is "not both").
    quarter = planner.load_portfolio(REPO / "examples" / "quarter-deadlines.yaml")
    changed = planner.edit(quarter, "workloads[0].stages[0].hours", 800)
    assert changed.workloads[0].stages[0].hours == 800
    assert changed.settings == quarter.settings
    assert changed.settings.horizon is not None and changed.settings.horizon.end is not None
    assert changed.settings.period_hours == 2184
    written = changed.model_dump(mode="python", exclude_unset=True)["settings"]
    assert "period_hours" not in written and written["horizon"]["end"] is not None
    assert planner.Portfolio.model_validate(changed.model_dump(exclude_unset=True)) == changed
    shorter = planner.edit(quarter, "settings.horizon.end", "2027-04-01")
    assert shorter.settings.period_hours == 2184 - 4 * 24
    with pytest.raises(planner.PlannerError, match="not both"):
        planner.edit(quarter, "settings.period_hours", 100)
