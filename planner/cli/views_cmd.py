"""``planner report|explain|schema|init``: views of a plan, schemas, a starter portfolio.

Results go to stdout (or ``-o FILE``); notes and errors go to stderr. A
``PlannerError`` prints one ``error: …`` line and exits with its code (2 for a
bad plan, portfolio or path). Plans written by a newer planner, with fields this
version does not know, are still shown (those fields are listed as they are).
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import click
from rich.console import Console, RenderableType

from planner.cli.common import friendly_errors, write_output
from planner.errors import InputError
from planner.inputs.files import load_portfolio
from planner.models.schemas import SCHEMAS, schema_text
from planner.report.explain import plan_explanations, workload_ids
from planner.report.html import report_page
from planner.report.lenient import load_plan_lenient, split_dropped
from planner.report.sections import Limits
from planner.report.terminal import explain_view

DEFAULT_WIDTH = 120
STARTER = "data/starter-portfolio.yaml"
SCHEMA_FILE = "portfolio.schema.json"


def _note(message: str) -> None:
    click.echo(message, err=True)


def stdout_console(width: int | None = None) -> Console:
    """A console for tables on stdout: the terminal's width, else $COLUMNS, else 120."""
    if width is None and not sys.stdout.isatty():
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) > 0 else DEFAULT_WIDTH
    return Console(highlight=False, markup=False, width=width)


def show(renderable: RenderableType, width: int | None = None) -> None:
    """Print to stdout: live on a terminal; else as plain text without trailing blanks."""
    console = stdout_console(width)
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    lines = captured.get().splitlines()
    click.echo("\n".join(line.rstrip() for line in lines))


@click.command("report")
@click.argument("plan_file", metavar="PLAN", type=click.Path(path_type=Path))
@click.option(
    "--portfolio",
    type=click.Path(path_type=Path),
    help="The plan's portfolio: adds allowed jurisdictions and dataset homes.",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="HTML file (default: stdout)."
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=Limits.rows,
    show_default=True,
    help="Placements and workloads listed row by row; larger plans are summarized.",
)
@click.option(
    "--reproducible", is_flag=True, help="Leave out the generation time and current catalog age."
)
@friendly_errors
def report_cmd(
    plan_file: Path, portfolio: Path | None, output: Path | None, max_rows: int, reproducible: bool
) -> None:
    """Write a self-contained HTML report of PLAN (charts, tables, reasons; no network)."""
    plan, dropped = load_plan_lenient(plan_file)
    model = load_portfolio(portfolio) if portfolio else None
    if model is not None and model.name != plan.portfolio:
        _note(f"warning: {portfolio} is portfolio '{model.name}', the plan is for "
              f"'{plan.portfolio}'")
    now = None if reproducible else datetime.now(UTC)
    html = report_page(
        plan, model, now=now, dropped=dropped, limits=Limits(rows=max_rows, residency=max_rows)
    )
    if output is None:
        click.echo(html, nl=False)
        return
    write_output(output, html)
    _note(f"report written to {output} ({len(html.encode()) / 1024:,.0f} KiB)")


@click.command("explain")
@click.argument("plan_file", metavar="PLAN", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the explanations as JSON.")
@click.option(
    "-w", "--workload", "workloads", multiple=True, help="Only this workload (repeatable)."
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="List at most this many placements, the most expensive (0: all).",
)
@click.option(
    "--width",
    type=click.IntRange(min=40),
    default=None,
    help=f"Table width (default: the terminal's, else $COLUMNS, else {DEFAULT_WIDTH}).",
)
@friendly_errors
def explain_cmd(
    plan_file: Path, as_json: bool, workloads: tuple[str, ...], limit: int, width: int | None
) -> None:
    """Show where every stage of PLAN runs, why there, and the runner-up."""
    plan, dropped = load_plan_lenient(plan_file)
    more, _ = split_dropped(dropped)
    only = set(workloads) or None
    if only:
        known = set(workload_ids(plan))
        unknown = sorted(only - known)
        if unknown:
            raise InputError(
                f"no workload {', '.join(map(repr, unknown))} in the plan",
                source=str(plan_file),
                hint=f"workloads are {', '.join(sorted(known)) or 'none'}",
            )
    if as_json:
        data = plan_explanations(plan, more)
        if only:
            data["placements"] = [p for p in data["placements"] if p["workload"] in only]
            data["unplaced"] = [u for u in data["unplaced"] if u["workload"] in only]
            data["dropped"] = [d for d in data["dropped"] if d["workload"] in only]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    show(explain_view(plan, more=more, only=only, limit=limit or None), width)


@click.command("schema")
@click.argument("name", type=click.Choice(SCHEMAS))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write it here (default: stdout)."
)
@friendly_errors
def schema_cmd(name: str, output: Path | None) -> None:
    """Print the JSON Schema of the portfolio input or the plan output."""
    text = schema_text(name)
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text)
    _note(f"{name} schema written to {output}")


def starter_portfolio(path: Path) -> str:
    """The commented starter portfolio, named after the file (``my-plan.yaml`` → my-plan)."""
    template = resources.files("planner").joinpath(STARTER).read_text("utf-8")
    name = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._") or "my-portfolio"
    return template.replace("__NAME__", name).replace("__FILE__", str(path))


def _differs(path: Path, text: str) -> bool:
    """Whether ``path`` exists with contents other than ``text`` (rewriting the same
    schema loses nothing, so it is not refused)."""
    if not path.exists() and not path.is_symlink():
        return False
    try:
        return path.read_text("utf-8") != text
    except (OSError, UnicodeDecodeError):
        return True


@click.command("init")
@click.argument("path", default="portfolio.yaml", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True,
              help="Overwrite PATH (and with --with-schema the schema file) if it exists.")
@click.option(
    "--with-schema",
    is_flag=True,
    help=f"Also write {SCHEMA_FILE} next to PATH, for editor validation.",
)
@friendly_errors
def init_cmd(path: Path, force: bool, with_schema: bool) -> None:
    """Write a commented starter portfolio to PATH (default: portfolio.yaml)."""
    schema = path.parent / SCHEMA_FILE
    if path.exists() and not force:
        raise InputError(
            "file exists; not overwritten", source=str(path),
            hint="pass --force to replace it, or give another PATH",
        )
    if with_schema and not force and _differs(schema, schema_text("portfolio")):
        raise InputError(
            "file exists with other contents; not overwritten (nothing was written)",
            source=str(schema),
            hint="pass --force to replace it, or leave out --with-schema",
        )
    if path.parent != Path("") and not path.parent.is_dir():
        raise InputError("directory does not exist", source=str(path.parent))
    write_output(path, starter_portfolio(path))
    _note(f"starter portfolio written to {path}; next: planner validate {path}")
    if with_schema:
        write_output(schema, schema_text("portfolio"))
        _note(f"portfolio schema written to {schema}")


COMMANDS = (report_cmd, explain_cmd, schema_cmd, init_cmd)
