"""The HTML report: self-contained, escaped, complete for the examples, small for 20k stages,
tolerant of plan fields it does not know."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from builders import catalog, portfolio, row, solve, training, workload
from click.testing import CliRunner
from example_plans import EXAMPLES, plan_json, write_plan

from planner.cli.main import cli
from planner.models.plan import Plan
from planner.models.status import SolveStatus
from planner.report import render_html
from planner.report.fmt import esc, usd
from planner.report.lenient import plan_from_data
from planner.report.sections import Limits

# Any way a page could make the browser fetch something from the network.
EXTERNAL = [
    re.compile(r"""(?:src|href|action|poster|data|srcset)\s*=\s*["']?\s*(?:https?:)?//""", re.I),
    re.compile(r"""url\(\s*["']?\s*(?:https?:)?//""", re.I),
    re.compile(r"@import", re.I),
    re.compile(r"<script\b[^>]*\bsrc\s*=", re.I),
    re.compile(r"<link\b", re.I),
    re.compile(r"<(?:img|iframe|object|embed|video|audio)\b", re.I),
]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def assert_self_contained(html: str) -> None:
    for pattern in EXTERNAL:
        match = pattern.search(html)
        assert match is None, f"external reference {match.group(0)!r} in the report"
    assert "http://" not in html and "https://" not in html


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_report_is_complete_and_self_contained(name: str, tmp_path: Path) -> None:
    """Feasible examples show costs and placements; infeasible ones the reasons."""
    plan_file = write_plan(tmp_path, name)
    out = tmp_path / "report.html"
    code, _, err = run("report", str(plan_file), "--portfolio", str(EXAMPLES[name]),
                       "-o", str(out))
    assert code == 0, err
    assert "report written to" in err
    html = out.read_text("utf-8")
    assert_self_contained(html)
    plan = Plan.model_validate_json(plan_file.read_text())
    for section in ("summary", "capacity", "placements", "catalogs"):
        assert f'<section id="{section}"' in html
    for c in plan.catalogs:
        assert c.sha256[:12] in html
    for u in plan.unplaced:
        assert u.workload in html
    if not plan.feasible:
        assert '<section id="problems"' in html and "Why there is no plan" in html
        return
    assert usd(plan.totals.total_usd) in html
    for p in plan.placements:
        assert f">{p.workload}<" in html
        assert p.site in html and p.offer in html
    for section in ("cost", "workloads", "residency"):
        assert f'<section id="{section}"' in html
    assert "allowed" in html and "✓ inside" in html  # allowed areas, from --portfolio
    assert "✗ outside" not in html
    assert html.count("<svg") >= 6


def test_report_to_stdout_without_portfolio(tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, "hospital-group")
    code, stdout, _ = run("report", str(plan_file), "--reproducible")
    assert code == 0
    assert stdout.startswith("<!DOCTYPE html>")
    assert "Pass <code>--portfolio</code>" in stdout
    assert "report generated" not in stdout


def test_report_is_deterministic_when_reproducible(tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, "carmaker")
    first = run("report", str(plan_file), "--reproducible")[1]
    second = run("report", str(plan_file), "--reproducible")[1]
    assert first == second


def test_infeasible_report_lists_the_reasons(tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, "infeasible")
    code, html, _ = run("report", str(plan_file))
    assert code == 0
    assert "Why there is no plan" in html
    assert "vision-model" in html and "hardware.gpu_model" in html
    assert '<section id="placements"' in html and "No stage was placed" in html
    assert '<section id="cost"' not in html
    assert_self_contained(html)


def test_everything_from_the_plan_is_escaped() -> None:
    data = json.loads(plan_json("hospital-group"))
    evil = '<script>alert("x")</script>'
    data["portfolio"] = evil
    data["placements"][0]["workload"] = evil
    data["placements"][0]["why"].append(evil)
    data["warnings"].append(evil)
    data["totals"]["by_team"][evil] = "1"
    html = render_html(Plan.model_validate(data))
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_plan_fields_this_version_does_not_know_are_shown(tmp_path: Path) -> None:
    data = json.loads(plan_json("carmaker"))
    data["carbon"] = {"total_kg": 123.5, "by_site": {"aws:eu-north-1": 12}}
    data["placements"][0]["carbon_kg"] = 42.25
    data["solver"]["presolve"] = "aggressive"
    plan_file = tmp_path / "future-plan.json"
    plan_file.write_text(json.dumps(data))
    code, html, err = run("report", str(plan_file))
    assert code == 0, err
    assert "Other plan data" in html and "carbon" in html and "123.5" in html
    assert "carbon_kg" in html and "42.25" in html
    assert "presolve" in html
    code, stdout, err = run("explain", str(plan_file), "--json")
    assert code == 0, err
    assert json.loads(stdout)["placements"][0]["carbon_kg"] == 42.25


def test_a_broken_plan_is_one_line_error(tmp_path: Path) -> None:
    data = json.loads(plan_json("carmaker"))
    data["placements"][0]["instances"] = "many"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    code, _, err = run("report", str(bad))
    assert code == 2
    assert err.startswith(f"error: {bad}: placements[0].instances")
    assert len(err.strip().splitlines()) == 1
    code, _, err = run("report", str(tmp_path / "missing.json"))
    assert code == 2 and "file not found" in err


def synthetic_plan(n: int) -> Plan:
    """A plan with ``n`` placements, built from a real example plan's entries (so fields the
    Plan model gains are carried along): 3 stages per workload, 40 teams, 60 sites."""
    base = json.loads(plan_json("hospital-group"))
    templates = base["placements"]
    sites = [f"aws:region-{k:02d}" for k in range(40)] + [f"onprem:dc-{k:02d}" for k in range(20)]
    placements: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Decimal]] = {
        k: defaultdict(Decimal) for k in ("provider", "site", "team", "kind")
    }
    for i in range(n):
        p = json.loads(json.dumps(templates[i % len(templates)]))
        site = sites[(i * 7) % len(sites)]
        cost = Decimal(10 + (i * 37) % 5000) + Decimal(i % 100) / 100
        p.update(workload=f"workload-{i // 3:05d}", stage=f"stage-{i % 3}", site=site,
                 team=f"team-{i % 40:02d}", provider=site.split(":")[0])
        p["cost"].update(compute_usd=str(cost), egress_usd="0", total_usd=str(cost))
        placements.append(p)
        for key, value in (("provider", p["provider"]), ("site", site), ("team", p["team"]),
                           ("kind", p["kind"])):
            groups[key][value] += cost
    total = sum(groups["provider"].values(), Decimal(0))
    resource = base["resources"][0]
    base["resources"] = [
        {**resource, "resource": f"gpu:{s}/H100", "site": s, "utilization": (k % 10) / 10,
         "binding": k % 7 == 0}
        for k, s in enumerate(sites * 5)
    ]
    base["placements"] = placements
    base["totals"].update(compute_usd=str(total), egress_usd="0", total_usd=str(total),
                          **{f"by_{k}": {a: str(b) for a, b in v.items()}
                             for k, v in groups.items()})
    return plan_from_data(base, "synthetic")[0]


def test_20k_stage_plan_is_summarized_and_small() -> None:
    plan = synthetic_plan(20_000)
    start = time.perf_counter()
    html = render_html(plan)
    took = time.perf_counter() - start
    size = len(html.encode())
    assert size < 5 * 1024 * 1024, f"report is {size / 1e6:.1f} MB"
    assert took < 10, f"rendering took {took:.1f} s"
    assert "Showing the 500 most expensive of 20,000 placements" in html
    assert "more workloads" in html  # the per-workload table sums up the rest
    assert "Showing 200 of 300 resources" in html
    assert usd(plan.totals.total_usd) in html
    assert_self_contained(html)


def test_moves_against_a_previous_plan_are_shown(tmp_path: Path) -> None:
    if "moves" not in Plan.model_fields:
        pytest.skip("this Plan model has no moves")
    data = json.loads(plan_json("hospital-group"))
    first = data["placements"][0]
    data["moves"] = [{"workload": first["workload"], "stage": first["stage"],
                      "previous": ["aws:eu-west-1/p4d.24xlarge"],
                      "now": [f"{first['site']}/{first['offer']}"],
                      "migration_usd": "180.000000", "why": "cheaper by $412.50"}]
    first["moved"] = True
    plan_file = tmp_path / "replan.json"
    plan_file.write_text(json.dumps(data))
    code, html, err = run("report", str(plan_file))
    assert code == 0, err
    assert '<section id="moves"' in html and "aws:eu-west-1/p4d.24xlarge" in html
    assert "$180.00" in html and ">moved<" in html
    code, text, _ = run("explain", str(plan_file))
    assert code == 0 and "(moved)" in text and "moved sepsis-eu/training" in text


def _section(html: str, anchor: str) -> str:
    """The HTML of one report section (empty when the page has none)."""
    match = re.search(rf'<section id="{anchor}".*?</section>', html, re.S)
    return match.group(0) if match else ""


def _row(html: str, first_cell: str) -> list[str]:
    """The cells of the table row whose first cell is ``first_cell``."""
    match = re.search(rf"<tr><td>{re.escape(first_cell)}</td>(.*?)</tr>", html, re.S)
    assert match, f"no row for {first_cell!r}"
    return [first_cell, *re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)]


def test_partial_report_lists_the_workloads_not_funded(tmp_path: Path) -> None:
    """The funding example: 2 of 5 workloads left out, each with why, value, priority."""
    plan_file = write_plan(tmp_path, "funding")
    plan = Plan.model_validate_json(plan_file.read_text())
    assert plan.status is SolveStatus.PARTIAL and len(plan.dropped) == 2
    code, html, err = run("report", str(plan_file), "--portfolio", str(EXAMPLES["funding"]),
                          "--reproducible")
    assert code == 0, err
    assert_self_contained(html)
    header = re.search(r"<header>.*?</header>", html, re.S)
    assert header and "partial · 3 of 5 workloads planned" in header.group(0)
    assert f"value {usd(plan.totals.value_usd)}" in header.group(0)
    section = _section(html, "dropped")
    assert "<h2>Workloads not funded</h2>" in section and '<a href="#dropped">' in html
    assert "3 of 5 workloads are planned" in section
    assert (f"bring {usd(plan.totals.value_usd)} of value for "
            f"{usd(plan.totals.total_usd)} of cost") in section
    assert "$12,000.00 of value is not funded" in section  # 9,000 + 3,000
    for d in plan.dropped:
        cells = _row(section, d.workload)
        assert cells[1] == usd(d.value_usd) and cells[2] == str(d.priority)
        assert all(esc(r) in cells[3] for r in d.reasons)
        assert d.conflicts and all(f"<code>{esc(c.rule)}</code>: {esc(c.message)}" in cells[4]
                                   for c in d.conflicts)
        assert cells[5] == "–" and cells[6] == "–"  # no re-solve placed it
    summary = _section(html, "summary")
    assert ">Workloads planned<" in summary and "<b>3 of 5</b>" in summary
    assert ">Value funded<" in summary
    assert f"net {usd(plan.totals.value_usd - plan.totals.total_usd)}" in summary
    assert "st-partial" in summary and ".st-partial{" in html
    assert "(solver optimal)" in summary and "the best choice of workloads" in summary
    # the plan's fields are rendered, not dumped as unknown data
    assert "<code>dropped</code>" not in html and "totals.value_usd" not in html
    # the wording of a partial plan: neither "no plan" nor infeasible
    page = html.split("</style>", 1)[1]
    assert "Why there is no plan" not in page and "infeasible" not in page
    assert "left out of this partial plan" in _section(html, "problems")


def _three(budget: int, values: dict[str, int] | None = None) -> Plan:
    """Three $3,000 trainings under a total budget (verified by ``solve``)."""
    cat = catalog([row("us-east-1", "g.a100", "30", gpu="A100-80GB", gpus=8, vcpus=96,
                       mem=1024, country="US")])
    ws = [{**workload(w, [training(hours=100)]),
           **({"value_usd": values[w]} if values else {})} for w in "abc"]
    return solve(portfolio(ws, settings={"budget_usd": budget}), [cat])


def test_partial_report_shows_the_cost_of_adding_a_workload() -> None:
    plan = _three(7000, {"a": 4000, "b": 9000, "c": 5000})
    (d,) = plan.dropped
    assert d.workload == "a" and d.add_cost_usd is not None and d.add_drops == ["c"]
    html = render_html(plan)
    cells = _row(_section(html, "dropped"), "a")
    assert cells[1] == "$4,000.00"
    assert cells[5] == f"+{usd(d.add_cost_usd)}" and cells[6] == "c"
    assert "<code>budget:total</code>" in cells[4]


def test_partial_report_without_values_says_not_placed() -> None:
    plan = _three(7000)
    assert plan.status is SolveStatus.PARTIAL and plan.totals.value_usd is None
    html = render_html(plan)
    section = _section(html, "dropped")
    assert "<h2>Workloads not placed</h2>" in section and "2 of 3 workloads" in section
    assert ">Value" not in _section(html, "summary") and "of value" not in section
    assert _row(section, plan.dropped[0].workload)[1] == "–"  # no value


def test_dropped_workloads_are_escaped_and_summarized() -> None:
    data = json.loads(plan_json("funding"))
    evil = '<script>alert("x")</script>'
    first = data["dropped"][0]
    first["workload"] = evil
    first["reasons"].append(evil)
    first["conflicts"].append({"rule": evil, "message": evil})
    first.update(add_cost_usd="12.5", add_drops=[evil])
    html = render_html(Plan.model_validate(data))
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 5
    assert "+$12.50" in html
    short = render_html(Plan.model_validate(data), limits=Limits(rows=1))
    assert "Showing 1 of 2;" in _section(short, "dropped")


def test_control_characters_of_a_tampered_plan_never_reach_the_html() -> None:
    from planner.report.fmt import esc

    assert esc("why\x00 <b>\x1b[31m\tok\n") == "why\ufffd &lt;b&gt;\ufffd[31m\tok\n"
