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
from click.testing import CliRunner
from example_plans import EXAMPLES, plan_json, write_plan

from planner.cli.main import cli
from planner.models.plan import Plan
from planner.report import render_html
from planner.report.fmt import usd
from planner.report.lenient import plan_from_data

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
