"""``planner explain --width N`` keeps the reasons readable: on a narrow screen it drops
columns (merges them) instead of squeezing the text to a few characters per line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from example_plans import write_plan

from planner.cli.main import cli
from planner.models.plan import Plan
from planner.report.terminal import MIN_TEXT_WIDTH, selected, text_columns_for

TERMINAL = {"COLUMNS": "120", "LINES": "50", "FORCE_COLOR": None, "NO_COLOR": "1",
            "TERM": "dumb"}


def explain(plan_file: Path, width: int) -> str:
    result = CliRunner(env=TERMINAL).invoke(
        cli, ["explain", str(plan_file), "--width", str(width)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("width", [40, 50, 60, 80, 100, 160])
def test_reasons_stay_readable_at_any_width(width: int, tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, "hospital-group")
    plan = Plan.model_validate_json(plan_file.read_text())
    out = explain(plan_file, width)
    assert max(len(line) for line in out.splitlines()) <= width
    words = set(re.findall(r"[\w$,.:+-]+", out))
    for p in plan.placements:
        for why in p.why:
            for word in why.split():
                if len(word) <= MIN_TEXT_WIDTH - 2:
                    assert word.strip("()") in words or word in out, (word, width)


def test_narrow_layouts_merge_columns(tmp_path: Path) -> None:
    plan = Plan.model_validate_json(write_plan(tmp_path, "hospital-group").read_text())
    rows = selected(plan)
    layouts = [text_columns_for(w, rows) for w in (40, 60, 90, 160)]
    assert layouts == sorted(layouts) and layouts[0] == 0 and layouts[-1] == 2


def test_one_column_layout_names_every_placement(tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, "hospital-group")
    plan = Plan.model_validate_json(plan_file.read_text())
    out = explain(plan_file, 50)
    assert "┃placement · why here" in out
    for p in plan.placements:
        assert f"{p.workload} / {p.stage}" in out
