"""``planner`` — command line entry point.

JSON goes to stdout (or ``-o FILE``); progress, summaries and errors go to stderr.

Exit codes:
    0  plan written (optimal or feasible) / input valid / plan verified
    2  bad input: portfolio, plan or catalog file (one line names the path in the file)
    3  infeasible: no plan satisfies every rule (the JSON lists the reasons); for
       ``verify``: the infeasible plan's conflicting rules were re-solved and confirmed
    4  catalog refresh could not read the provider API
    5  catalog store refused to replace the last good catalog
    6  verification failed: the plan breaks a rule (or its infeasibility claim is false)
    7  no plan found within the time limit (raise --time-limit); for ``verify``: an
       ``unknown`` plan, or the infeasibility re-check ran out of time
    8  internal planner error: the solver layer caught a bug (please report it)
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from planner import api
from planner.cli import views_cmd
from planner.cli.bench_cmd import bench
from planner.cli.catalog_cmd import catalog
from planner.cli.common import (
    catalogs_option,
    check_output,
    checked,
    err_console,
    friendly_errors,
    portfolio_context,
    write_output,
)
from planner.cli.regions_cmd import regions_cmd
from planner.cli.replan_cmd import diff_cmd, whatif_cmd
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.errors import CLI_SPELLING, InputError, VerificationError
from planner.models.plan import Plan
from planner.models.status import SolveStatus
from planner.plans.build import unplaced_stages
from planner.solvers import AUTO, BACKENDS
from planner.solvers.base import Deadline, process_age_s
from planner.solvers.options import MAX_SEED

EXIT_INFEASIBLE = 3
SUMMARY_ROWS = 25
EXIT_NO_PLAN = 7
EXIT_PARTIAL = 9

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="planner")
def cli() -> None:
    """Hybrid cloud workload placement planner for ML portfolios."""


SUMMARY_TIMES_WIDTH = 110
"""Terminal columns from which the summary shows start and end (narrower, the names would
be cut to a few letters; `planner explain` shows them at any width)."""


def _when(at: datetime | None, hours: Decimal | None) -> str:
    """A start or end for the summary: the date and hour (UTC) when the horizon is
    dated, else hours from its start (to a tenth; the plan has them exactly)."""
    if at is not None:  # a plan dated from a start with an offset keeps that offset
        return (at.astimezone(UTC) if at.tzinfo else at).strftime("%Y-%m-%d %H:%M")
    return "" if hours is None else f"{hours.quantize(Decimal('0.1')).normalize():f} h"


def _labelled(label: str, style: str, rest: str) -> Text:
    """``label`` in ``style``, then ``rest`` as it is: user strings (names, reasons) are
    never read as markup (a ``[/]`` in a team name crashed the summary)."""
    return Text.assemble((label, style), " ", rest)


def _joined(reasons: list[str]) -> str:
    """Reasons on one line, separated by semicolons (a reason's own full stop dropped:
    "… feasible.; no plan places it …")."""
    return "; ".join(r.rstrip(".") for r in reasons)


def _summary(plan: Plan, console: Console) -> None:
    s = plan.solver
    gap = f"{s.gap:.4%}" if s.gap is not None else "n/a"
    took = f", {s.solve_time_s:.2f}s" if s.solve_time_s is not None else ""
    outcome = (f"total ${plan.totals.total_usd:,.2f}, gap {gap}" if plan.feasible
               else "no plan")
    console.print(Text.assemble((plan.portfolio, "bold"),
                                f": {plan.status.value} ({s.backend}{took}), {outcome}"))
    if s.detail:
        console.print(Text(f"solver: {s.detail}", style="dim"))
    if plan.placements:
        table = Table(show_edge=False, pad_edge=False)
        timed = console.width >= SUMMARY_TIMES_WIDTH
        cols = ("workload", "stage", "site", "offer", "inst", "purchase",
                *(("start", "end") if timed else ()), "cost $")
        for col in cols:
            table.add_column(col, justify="right" if col in ("inst", "cost $") else "left")
        shown = plan.placements
        if len(shown) > SUMMARY_ROWS:
            shown = sorted(shown, key=lambda p: -p.cost.total_usd)[:SUMMARY_ROWS]
        for p in shown:
            table.add_row(
                p.workload,
                p.stage,
                p.site,
                p.offer,
                str(p.instances),
                p.purchase.value,
                *((_when(p.start_at, p.start), _when(p.end_at, p.end)) if timed else ()),
                f"{p.cost.total_usd:,.2f}",
            )
        console.print(table)
        if len(shown) < len(plan.placements):
            console.print(f"… the {len(shown)} most expensive of {len(plan.placements)} "
                          "placements; `planner explain` or `planner report` show the rest")
    for u in plan.unplaced:
        console.print(_labelled("unplaced", "red",
                                f"{u.workload}/{u.stage}: " + _joined(u.reasons)))
    for m in plan.moves:
        console.print(_labelled("move", "cyan", f"{m.workload}/{m.stage}: "
                                f"{', '.join(m.previous)} → {', '.join(m.now)} (migration "
                                f"${m.migration_usd:,.2f}): {m.why}"))
    for d in plan.dropped:
        add = f" (adding it: {d.add_cost_usd:+,.2f} $)" if d.add_cost_usd is not None else ""
        console.print(_labelled("dropped", "red",
                                f"{d.workload}{add}: " + _joined(d.reasons[:2])))
    for c in plan.conflicts:
        console.print(_labelled("conflict", "red", f"{c.rule}: {c.message}"))
    if plan.diagnosis:
        console.print(_labelled("diagnosis", "red", plan.diagnosis))
    for w in plan.warnings:
        console.print(_labelled("warning", "yellow", w))


@cli.command("plan")
@click.argument("portfolio", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the JSON plan here.")
@catalogs_option
@click.option("--solver", type=click.Choice(sorted([*BACKENDS, AUTO])), default=AUTO,
              show_default=True,
              help="auto: cpsat (exact) for partial plans and up to 5k options, lp (LP-guided "
                   "strategy) above.")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.01),
    default=30.0,
    show_default=True,
    callback=checked(api.check_time_limit),
    help="Wall-clock seconds for the whole command (loading, candidates, solve, diagnosis, "
         "plan building). When time runs out with a plan that meets every rule, that plan "
         "is written with its gap; exit 7 only when no plan was found at all.",
)
@click.option("--deterministic", is_flag=True,
              help="Same plan every run: the solver counts deterministic time, so the "
                   "command may run several times the time limit on the wall clock "
                   "(implied by --reproducible).")
@click.option("--workers", type=int, default=None, callback=checked(api.check_workers),
              help="Solver threads/processes [default: the cores this process may use].")
@click.option("--seed", type=int, default=0, show_default=True,
              callback=checked(api.check_seed),
              help=f"Random seed of the solvers, 0 to {MAX_SEED:,}.")
@click.option(
    "--previous",
    type=click.Path(path_type=Path),
    help="Re-plan against this earlier plan: moves cost migration; settings.max_moves caps them.",
)
@click.option(
    "--reproducible",
    is_flag=True,
    help="Leave out wall-clock fields so the same input gives byte-identical JSON "
         "(implies --deterministic).",
)
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Where the lns strategy runs its sub-problems.")
@click.option("--address", default=None, help="Ray cluster address (auto, ray://host:port).")
@click.option("--all-or-nothing", is_flag=True,
              help="Plan every workload or none: no partial plan (exit 3 when one workload "
                   "cannot be placed).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@friendly_errors
def plan_cmd(
    portfolio: Path,
    output: Path | None,
    catalogs_dir: Path | None,
    solver: str,
    time_limit: float,
    deterministic: bool,
    workers: int | None,
    seed: int,
    previous: Path | None,
    reproducible: bool,
    executor: str,
    address: str | None,
    all_or_nothing: bool,
    quiet: bool,
) -> None:
    """Plan PORTFOLIO (YAML/JSON) at least cost; write the verified JSON plan.

    Workloads that cannot be placed (or, with value_usd/priority, are not worth their
    cost or lose the budget/capacity to others) are left out and listed in `dropped`:
    exit 9 with a partial plan, unless --all-or-nothing.
    """
    deadline = _deadline(time_limit)
    console = err_console()
    say = (lambda msg: None) if quiet else (lambda msg: console.print(Text(msg, style="dim")))
    check_output(output)
    model = api.load_portfolio(portfolio)
    catalogs = api.read_catalogs(catalogs_dir)
    earlier = api.load_plan(previous) if previous else None
    with portfolio_context(portfolio), console.status("solving…") if not quiet else _null():
        # plan_world, not plan: the files were validated as they were read, and plan
        # validates its arguments again (1.7 s of the time limit at 20,000 stages)
        result = api.plan_world(
            model,
            build_world(model, catalogs),
            solver=solver,
            time_limit_s=time_limit,
            deadline=deadline,
            deterministic=deterministic,
            workers=workers,
            seed=seed,
            reproducible=reproducible,
            previous=earlier,
            spelling=CLI_SPELLING,
            progress=say,
            executor=executor,
            address=address,
            all_or_nothing=all_or_nothing,
        )
    text = result.model_dump_json(indent=2) + "\n"
    if output:
        write_output(output, text)
        say(f"plan written to {output}")
    else:
        click.echo(text, nl=False)
    if not quiet:
        _summary(result, console)
    if result.status is SolveStatus.INFEASIBLE:
        sys.exit(EXIT_INFEASIBLE)
    if result.status is SolveStatus.UNKNOWN:
        sys.exit(EXIT_NO_PLAN)
    if result.status is SolveStatus.PARTIAL:
        sys.exit(EXIT_PARTIAL)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@cli.command("validate")
@click.argument("portfolio", type=click.Path(path_type=Path))
@catalogs_option
@friendly_errors
def validate_cmd(portfolio: Path, catalogs_dir: Path | None) -> None:
    """Check PORTFOLIO against the schema and the catalogs, without solving."""
    model = api.load_portfolio(portfolio)
    with portfolio_context(portfolio):
        world = build_world(model, api.read_catalogs(catalogs_dir))
        cands = generate(model, world)
    unplaced = unplaced_stages(cands)
    if unplaced:
        for u in unplaced:
            click.echo(f"error: {portfolio}: workload {u.workload}, stage {u.stage}: no "
                       f"feasible option: " + _joined(u.reasons), err=True)
        names = sorted({u.workload for u in unplaced})
        raise InputError(
            f"{portfolio}: {len(names)} workload(s) cannot be placed: {', '.join(names)}",
            hint="relax the rules named above; `planner plan` plans the other workloads and "
                 "lists these as dropped (exit 9)")
    click.echo(
        f"{portfolio}: valid — {len(model.workloads)} workloads, {len(cands.stages)} stages, "
        f"{len(world.sites)} sites, {len(world.offers)} offers, "
        f"{len(cands.options)} candidate options"
    )
    for w in world.warnings:
        click.echo(f"warning: {w}", err=True)


@cli.command("verify")
@click.argument("portfolio", type=click.Path(path_type=Path))
@click.argument("plan_file", metavar="PLAN", type=click.Path(path_type=Path))
@catalogs_option
@click.option("--previous", type=click.Path(path_type=Path),
              help="The earlier plan PLAN was re-planned from (checks moves and migration).")
@click.option("--time-limit", type=click.FloatRange(min=0.01), default=30.0, show_default=True,
              callback=checked(api.check_time_limit),
              help="Infeasible plans: time limit of each re-solve of the conflicting rules.")
@friendly_errors
def verify_cmd(portfolio: Path, plan_file: Path, catalogs_dir: Path | None,
               previous: Path | None, time_limit: float) -> None:
    """Independently re-check PLAN against PORTFOLIO and the catalogs.

    Exits 0 when every rule holds, 3 when PLAN is infeasible and its conflicting rules are
    confirmed (re-solved), 6 when a rule is broken or the infeasibility claim does not
    hold, 7 when there is nothing to confirm (status unknown) or the re-check ran out of
    time, and 2 when PLAN was made from another portfolio or other catalogs. A partial
    plan's dropped workloads without a value are re-solved with the placed ones: one that
    fits breaks an optimal plan's claim (6), and is a note on a plan not proven optimal.
    """
    model = api.load_portfolio(portfolio)
    the_plan = api.load_plan(plan_file)
    with portfolio_context(portfolio):
        result = api.verify_report(model, the_plan, api.read_catalogs(catalogs_dir),
                                   previous=api.load_plan(previous) if previous else None,
                                   time_limit_s=time_limit, spelling=CLI_SPELLING)
    if result.foreign:
        raise InputError(result.foreign, source=str(plan_file))
    if result.violations:
        for v in result.violations:
            click.echo(f"violation: {v}", err=True)
        raise VerificationError(f"{len(result.violations)} rule(s) broken", source=str(plan_file))
    partial = the_plan.status is SolveStatus.PARTIAL
    if partial and result.confirmed:
        click.echo(f"{plan_file}: dropped workloads re-solved: {result.confirmed}")
    elif partial and result.undecided:
        click.echo(f"{plan_file}: note: {result.undecided}", err=True)
    elif result.confirmed:
        click.echo(f"{plan_file}: infeasibility confirmed: {result.confirmed}")
        sys.exit(EXIT_INFEASIBLE)
    elif result.undecided:
        click.echo(f"{plan_file}: not verified: {result.undecided}", err=True)
        sys.exit(EXIT_NO_PLAN)
    click.echo(
        f"{plan_file}: verified — {len(the_plan.placements)} placements, "
        f"total ${the_plan.totals.total_usd:,.2f}, every rule holds"
    )


cli.add_command(catalog)
cli.add_command(bench)
cli.add_command(diff_cmd)
cli.add_command(whatif_cmd)
cli.add_command(regions_cmd)
cli.add_command(views_cmd.report_cmd)
cli.add_command(views_cmd.explain_cmd)
cli.add_command(views_cmd.schema_cmd)
cli.add_command(views_cmd.init_cmd)


def _deadline(time_limit: float) -> Deadline:
    """``--time-limit`` seconds from the start of the ``planner`` process (start-up and
    imports count) when run as a command; from now when invoked in-process."""
    obj = click.get_current_context().find_root().obj
    if isinstance(obj, dict) and "process_start" in obj:
        return Deadline(obj["process_start"] + time_limit)
    return Deadline.after(time_limit)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="planner", obj={"process_start": time.monotonic() - process_age_s()})


if __name__ == "__main__":
    main()
