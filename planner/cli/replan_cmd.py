"""``planner diff`` and ``planner whatif``: compare plans and re-plan under scenarios."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from planner import api
from planner.cli.common import (
    catalogs_option,
    check_output,
    checked,
    friendly_errors,
    portfolio_context,
    write_output,
)
from planner.compile.resolve import build_world
from planner.models.calendar import as_datetime
from planner.plans.diff import PlanDiff, compare_plans
from planner.whatif import WhatIfReport, load_scenarios, run_whatif


def _money(v: object) -> str:
    return "-" if v is None else f"{v:,.2f}"


def _span(start: Decimal, end: Decimal, start_at: datetime | None) -> str:
    """A stage's span: hours, and its start date (UTC; a naive one is UTC already) when
    the plan dates it."""
    when = "" if start_at is None else \
        f" (from {as_datetime(start_at).astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
    return f"h {start:g}–{end:g}{when}"


def print_diff(d: PlanDiff, console: Console) -> None:
    console.print(f"total: ${d.old_total_usd:,.2f} → ${d.new_total_usd:,.2f} "
                  f"(Δ ${d.delta_usd:+,.2f}); status {d.old_status} → {d.new_status}")
    for title, changes in (("moved stages (on a site and offer new to them)", d.moved),
                           ("changed stages (purchase option or instances on the same "
                            "sites and offers)", d.changed)):
        if not changes:
            continue
        t = Table(title=title, show_edge=False)
        for col in ("workload", "stage", "old", "new", "Δ $"):
            t.add_column(col, justify="right" if col == "Δ $" else "left")
        for m in changes:
            t.add_row(m.workload, m.stage, "\n".join(m.old), "\n".join(m.new),
                      f"{m.new_usd - m.old_usd:+,.2f}")
        console.print(t)
    if d.rescheduled:
        t = Table(title="rescheduled stages (same sites and offers, other times)",
                  show_edge=False)
        for col in ("workload", "stage", "old", "new"):
            t.add_column(col)
        for r in d.rescheduled:
            t.add_row(r.workload, r.stage, _span(r.old_start, r.old_end, r.old_start_at),
                      _span(r.new_start, r.new_end, r.new_start_at))
        console.print(t)
    if not d.moved:
        console.print("no stage moved" + (f" ({len(d.rescheduled)} rescheduled)"
                                          if d.rescheduled else ""))
    for label, values in (("provider", d.delta_by_provider), ("team", d.delta_by_team),
                          ("site", d.delta_by_site)):
        if values:
            console.print(f"Δ by {label}: " + ", ".join(f"{k} {v:+,.2f}"
                                                        for k, v in values.items()))
    for c in d.capacity:
        console.print(f"capacity {c.resource}: {c.old_utilization:.1%} → {c.new_utilization:.1%}")
    for s in d.added:
        console.print(f"added {s}")
    for s in d.removed:
        console.print(f"removed {s}")


@click.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@friendly_errors
def diff_cmd(old: Path, new: Path, as_json: bool) -> None:
    """Compare two plans: moved stages, cost deltas, capacity changes."""
    d = compare_plans(api.load_plan(old), api.load_plan(new))
    for warning in d.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(d.model_dump_json(indent=2))
    else:
        print_diff(d, Console(highlight=False, soft_wrap=True, markup=False))


def print_whatif(report: WhatIfReport, console: Console) -> None:
    t = Table(title=f"what-if: {report.portfolio}", show_edge=False)
    for col in ("scenario", "status", "total $", "Δ $", "moved", "rescheduled", "dropped",
                "conflicting rules"):
        t.add_column(col, justify="right" if "$" in col or col in ("moved", "rescheduled")
                     else "left")
    for r in [report.base, *report.scenarios]:
        t.add_row(r.name, r.status, _money(r.total_usd),
                  "-" if r.delta_usd is None else f"{r.delta_usd:+,.2f}",
                  str(len(r.moved)), str(len(r.rescheduled)), ", ".join(r.dropped) or "-",
                  "; ".join(c.rule for c in r.conflicts))
    console.print(t)


@click.command("whatif")
@click.argument("portfolio", type=click.Path(path_type=Path))
@click.argument("scenarios", type=click.Path(path_type=Path))
@catalogs_option
@click.option("--time-limit", type=click.FloatRange(min=0.01), default=30.0, show_default=True,
              callback=checked(api.check_time_limit),
              help="Wall-clock seconds for each plan: the base and every scenario.")
@click.option("--executor", type=click.Choice(["auto", "serial", "local", "ray"]),
              default="auto", show_default=True,
              help="Where scenarios run: here, local processes, or Ray; auto: here below "
                   "1,000 stage-plans (stages × scenarios), else local processes.")
@click.option("--address", default=None, help="Ray cluster address (auto, ray://host:port).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write the JSON report (with every scenario's plan) here.")
@friendly_errors
def whatif_cmd(portfolio: Path, scenarios: Path, catalogs_dir: Path | None, time_limit: float,
               executor: str, address: str | None, as_json: bool, output: Path | None) -> None:
    """Re-plan PORTFOLIO under each scenario of SCENARIOS and compare."""
    check_output(output)
    model = api.load_portfolio(portfolio)
    sc = load_scenarios(scenarios)
    with portfolio_context(portfolio):
        world = build_world(model, api.read_catalogs(catalogs_dir))
    try:
        report = run_whatif(model, world, sc, executor=executor, address=address,
                            keep_plans=output is not None, time_limit_s=time_limit,
                            reproducible=True)
    except Exception as exc:  # scenario errors name the scenario file
        from planner.errors import InputError, with_source

        if isinstance(exc, InputError) and not exc.source:
            raise with_source(exc, str(scenarios)) from None
        raise
    if output:
        write_output(output, report.model_dump_json(indent=2) + "\n")
    if as_json:
        slim = report.model_copy(update={
            "base": report.base.model_copy(update={"plan": None}),
            "scenarios": [r.model_copy(update={"plan": None}) for r in report.scenarios]})
        click.echo(slim.model_dump_json(indent=2))
    else:
        print_whatif(report, Console(highlight=False, soft_wrap=True, markup=False))
    if not report.base.total_usd and report.base.status == "infeasible":
        sys.exit(3)
