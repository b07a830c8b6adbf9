"""The report opens in a real headless browser (Debian's chromium): it renders, shows the
plan's total and every workload (those a partial plan leaves out too), logs nothing to the
console and requests nothing. How chromium is run: tests/browser.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import needs_chromium, open_in_chromium, png_size
from click.testing import CliRunner
from example_plans import EXAMPLES, write_plan

from planner.cli.main import cli
from planner.models.plan import Plan
from planner.report.fmt import usd

pytestmark = needs_chromium


def make_report(tmp: Path, name: str) -> tuple[Path, Path]:
    plan_file = write_plan(tmp, name)
    html = tmp / f"{name}.html"
    args = ["report", str(plan_file), "-o", str(html)]
    if name in EXAMPLES:
        args += ["--portfolio", str(EXAMPLES[name])]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return plan_file, html


@pytest.mark.parametrize("name", [*sorted(EXAMPLES), "infeasible"])
def test_report_renders_in_chromium(name: str, tmp_path: Path) -> None:
    plan_file, html = make_report(tmp_path, name)
    page = open_in_chromium(html, tmp_path)
    assert page.png.exists(), page.log[-2000:]
    assert png_size(page.png) == (1400, 2000)
    assert page.png.stat().st_size > 30_000, "screenshot looks blank"
    plan = Plan.model_validate_json(plan_file.read_text())
    assert f"Placement plan: {plan.portfolio}" in page.dom
    if plan.placements:
        assert usd(plan.totals.total_usd) in page.dom
    workloads = {p.workload for p in plan.placements} | {u.workload for u in plan.unplaced}
    assert workloads or not plan.feasible
    for workload in workloads | {d.workload for d in plan.dropped}:
        assert workload in page.dom
    if plan.dropped:  # a partial plan: the workloads left out, and how many were planned
        assert '<section id="dropped">' in page.dom and "workloads planned" in page.dom
    assert page.console == [], "\n".join(page.console)
    assert page.requests == [], f"the report requested {page.requests}"


def test_the_browser_check_catches_errors_and_requests(tmp_path: Path) -> None:
    """Control: a page with a script error and a remote image fails both checks."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><p>x</p><img src="https://example.invalid/a.png">'
                   "<script>notAFunction();</script></body></html>")
    page = open_in_chromium(bad, tmp_path)
    assert any("notAFunction" in line for line in page.console), page.log[-2000:]
    assert page.requests == ["https://example.invalid/a.png"]
