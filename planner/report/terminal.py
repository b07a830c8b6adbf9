"""Terminal views of a plan with rich: the placement table with reasons, and a summary.

Pure functions from a Plan to rich renderables; cells are ``Text`` objects so that
text from the plan (which may contain ``[brackets]``) is never read as markup.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from planner.models.plan import Dropped, Placement, Plan
from planner.report.explain import (
    adding_text,
    conflict_text,
    dropped_rows,
    extra_fields,
    funded,
    gang_text,
    partial_note,
    rejected_text,
    runner_up_text,
)
from planner.report.fmt import pct, plain, short, usd
from planner.report.timeline import late_text, span_lines, span_text


def headline(plan: Plan) -> Text:
    """``hospital-group: optimal (cpsat), total $8,563.94, gap 0.0000%``."""
    s = plan.solver
    gap = pct(s.gap, 4) if s.gap is not None else "n/a"
    took = f", {s.solve_time_s:.2f}s" if s.solve_time_s is not None else ""
    text = Text()
    text.append(plan.portfolio, style="bold")
    text.append(f": {plan.status.value} ({s.backend}{took})")
    note = partial_note(plan)
    if note:
        text.append(f", {note}")
    if plan.placements:
        text.append(f", total {usd(plan.totals.total_usd)}")
        if plan.totals.value_usd is not None:
            text.append(f", value {usd(plan.totals.value_usd)}")
        text.append(f", gap {gap}")
        if plan.totals.late_penalty_usd:
            text.append(f", late penalty {usd(plan.totals.late_penalty_usd)} (objective only)")
    return text


def _why(p: Placement, more: dict[str, Any]) -> Text:
    lines = [f"• {w}" for w in p.why]
    lines += [f"• {k}: {short(plain(v), 200)}" for k, v in {**extra_fields(p), **more}.items()]
    return Text("\n".join(lines))


def _alternatives(p: Placement) -> Text:
    text = Text(runner_up_text(p.runner_up))
    rejected = rejected_text(getattr(p, "cheaper_rejected", None))
    if rejected:
        text.append("\n" + rejected, style="red")
    return text


def selected(
    plan: Plan, only: set[str] | None = None, limit: int | None = None
) -> list[tuple[int, Placement]]:
    """(index, placement) of the workloads in ``only``; beyond ``limit``, the most expensive
    ``limit`` of them, in plan order."""
    rows = [(i, p) for i, p in enumerate(plan.placements) if only is None or p.workload in only]
    if limit and len(rows) > limit:
        keep = sorted(rows, key=lambda ip: (-ip[1].cost.total_usd, ip[0]))[:limit]
        rows = sorted(keep, key=lambda ip: ip[0])
    return rows


def placement_table(
    plan: Plan,
    *,
    reasons: bool = True,
    more: dict[int, dict[str, Any]] | None = None,
    only: set[str] | None = None,
    limit: int | None = None,
) -> Table:
    """One row per placement; with ``reasons``, the why-here and runner-up columns.

    ``only`` restricts the rows to these workload ids, ``limit`` to the most expensive
    placements; ``more`` adds fields a newer plan file gave placements (by index).
    """
    more = more or {}
    if not reasons:
        return _compact_table(plan, only)
    return _reasons_table(plan, selected(plan, only, limit), more, TEXT_COLUMNS)


MIN_TEXT_WIDTH = 24
"""The narrowest a reasons column gets; a narrower screen drops columns instead."""
TEXT_COLUMNS = 2
"""Layouts: 2 = why here | runner-up, 1 = both in one column, 0 = one column for all."""


def _runs_on(p: Placement) -> Text:
    """Site, offer × instances (gangs), purchase option, when (start → end), hours late."""
    lines = [p.site, f"{p.offer} ×{p.instances}", gang_text(p), p.purchase.value,
             *span_lines(p)]
    text = Text("\n".join(line for line in lines if line))
    late = late_text(p)
    if late:
        text.append("\n" + late, style="red")
    return text


def _fixed_cells(p: Placement) -> tuple[Text, Text, Text]:
    moved = "\n(moved)" if getattr(p, "moved", False) else ""
    return (Text(f"{p.workload}\n{p.stage}{moved}"), _runs_on(p),
            Text(f"{p.cost.total_usd:,.2f}"))


def _reasons_table(plan: Plan, rows: list[tuple[int, Placement]],
                   more: dict[int, dict[str, Any]], text_columns: int) -> Table:
    """The placement table with ``text_columns`` reason columns (see ``TEXT_COLUMNS``)."""
    table = Table(show_lines=True, pad_edge=False, expand=True)
    if text_columns == 0:
        table.add_column("placement · why here · runner-up / ruled out", overflow="fold")
    else:
        table.add_column("workload / stage", overflow="fold")
        table.add_column("runs on", overflow="fold")
        table.add_column("cost $", justify="right", no_wrap=True)
    if text_columns == 2:
        table.add_column("why here", ratio=1, overflow="fold")
        table.add_column("runner-up / ruled out", ratio=1, overflow="fold")
    elif text_columns == 1:
        table.add_column("why here · runner-up / ruled out", ratio=1, overflow="fold")
    for i, p in rows:
        why, alternatives = _why(p, more.get(i, {})), _alternatives(p)
        if text_columns == 2:
            table.add_row(*_fixed_cells(p), why, alternatives)
        elif text_columns == 1:
            table.add_row(*_fixed_cells(p), Text("\n").join([why, alternatives]))
        else:
            moved = " (moved)" if getattr(p, "moved", False) else ""
            when = "".join(f" · {t}" for t in (gang_text(p), span_text(p), late_text(p)) if t)
            head = Text(f"{p.workload} / {p.stage}{moved} → {p.site} {p.offer} ×{p.instances} "
                        f"{p.purchase.value} · ${p.cost.total_usd:,.2f}{when}", style="bold")
            table.add_row(Text("\n").join([head, why, alternatives]))
    return table


def _fixed_width(rows: list[tuple[int, Placement]]) -> int:
    """Characters the three fixed columns need (widest line each, plus borders/padding)."""
    widths = [0, 0, 0]
    for _, p in rows:
        for k, cell in enumerate(_fixed_cells(p)):
            widths[k] = max([widths[k], *(len(line) for line in cell.plain.split("\n"))])
    return sum(widths) + 3 * len(widths) + 1


def text_columns_for(width: int, rows: list[tuple[int, Placement]]) -> int:
    """How many reason columns fit ``width`` with each at least ``MIN_TEXT_WIDTH`` wide."""
    spare = width - _fixed_width(rows)
    for columns in (2, 1):
        if spare >= columns * (MIN_TEXT_WIDTH + 3):
            return columns
    return 0


class _ResponsiveTable:
    """The placement table laid out for the width it is rendered at."""

    def __init__(self, plan: Plan, rows: list[tuple[int, Placement]],
                 more: dict[int, dict[str, Any]]) -> None:
        self.plan, self.rows, self.more = plan, rows, more

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        columns = text_columns_for(options.max_width, self.rows)
        yield _reasons_table(self.plan, self.rows, self.more, columns)


def _compact_table(plan: Plan, only: set[str] | None) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("workload", "stage", "site", "offer", "n", "purchase", "cost $"):
        table.add_column(col, justify="right" if col in ("n", "cost $") else "left")
    for p in plan.placements:
        if only is None or p.workload in only:
            table.add_row(
                Text(p.workload),
                Text(p.stage),
                Text(p.site),
                Text(p.offer),
                Text(str(p.instances)),
                Text(p.purchase.value),
                Text(f"{p.cost.total_usd:,.2f}"),
            )
    return table


def moves(plan: Plan, only: set[str] | None = None) -> list[Text]:
    """Stages that moved against the previous plan, one line each."""
    out = []
    for m in getattr(plan, "moves", None) or []:
        if only is not None and getattr(m, "workload", None) not in only:
            continue
        before, after = plain(getattr(m, "previous", "")), plain(getattr(m, "now", ""))
        cost = getattr(m, "migration_usd", None)
        line = f"{getattr(m, 'workload', '?')}/{getattr(m, 'stage', '?')}: {before} → {after}"
        if cost:
            line += f" (move {usd(cost)})"
        why = getattr(m, "why", "")
        out.append(Text.assemble(("moved ", "cyan"), line + (f": {why}" if why else "")))
    return out


def problems(plan: Plan, only: set[str] | None = None) -> list[Text]:
    """Unplaced stages (of the workloads in ``only``), conflicts, the diagnosis and warnings,
    one line each."""
    out = []
    diagnosis = getattr(plan, "diagnosis", None)
    if diagnosis:
        out.append(Text.assemble(("diagnosis ", "red"), str(diagnosis)))
    for u in plan.unplaced:
        if only is None or u.workload in only:
            out.append(Text.assemble(("unplaced ", "red"),
                                     f"{u.workload}/{u.stage}: " + "; ".join(u.reasons)))
    for c in plan.conflicts:
        out.append(Text.assemble(("conflict ", "red"), conflict_text(c)))
    for w in plan.warnings:
        out.append(Text.assemble(("warning ", "yellow"), w))
    return out


def _dropped_fixed(d: Dropped) -> tuple[Text, Text, Text]:
    value = f"{d.value_usd:,.2f}" if d.value_usd is not None else "–"
    return Text(d.workload), Text(value), Text(str(d.priority))


def _dropped_why(d: Dropped) -> Text:
    lines = [f"• {r}" for r in d.reasons]
    if d.conflicts:
        lines.append("• conflicting rules: " + ", ".join(c.rule for c in d.conflicts))
    return Text("\n".join(lines))


def _dropped_table(rows: list[Dropped], text_columns: int) -> Table:
    """The workloads a partial plan leaves out, with ``text_columns`` text columns (see
    ``TEXT_COLUMNS``): why left out | what adding it would cost and leave out."""
    table = Table(show_lines=True, pad_edge=False, expand=True)
    if text_columns == 0:
        table.add_column("left out · value $ · priority · why · adding it", overflow="fold")
    else:
        table.add_column("left out", overflow="fold")
        table.add_column("value $", justify="right", no_wrap=True)
        table.add_column("priority", justify="right", no_wrap=True)
    if text_columns == 2:
        table.add_column("why left out", ratio=2, overflow="fold")
        table.add_column("adding it", ratio=1, overflow="fold")
    elif text_columns == 1:
        table.add_column("why left out · adding it", ratio=1, overflow="fold")
    for d in rows:
        why, adding = _dropped_why(d), Text(adding_text(d))
        both = Text("\n").join([why, Text("• adding it: ") + adding])
        if text_columns == 2:
            table.add_row(*_dropped_fixed(d), why, adding)
        elif text_columns == 1:
            table.add_row(*_dropped_fixed(d), both)
        else:
            workload, value, priority = _dropped_fixed(d)
            head = Text(f"{workload.plain} · value ${value.plain} · priority {priority.plain}",
                        style="bold")
            table.add_row(Text("\n").join([head, both]))
    return table


def _dropped_columns(width: int, rows: list[Dropped]) -> int:
    """How many text columns of the dropped table fit ``width`` (as ``text_columns_for``)."""
    widths = [len("left out"), len("value $"), len("priority")]
    for d in rows:
        widths = [max(w, len(c.plain)) for w, c in zip(widths, _dropped_fixed(d), strict=True)]
    spare = width - (sum(widths) + 3 * len(widths) + 1)
    for columns in (2, 1):
        if spare >= columns * (MIN_TEXT_WIDTH + 3):
            return columns
    return 0


class _ResponsiveDropped:
    """The dropped-workloads table laid out for the width it is rendered at."""

    def __init__(self, rows: list[Dropped]) -> None:
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield _dropped_table(self.rows, _dropped_columns(options.max_width, self.rows))


def dropped_view(plan: Plan, only: set[str] | None = None) -> list[RenderableType]:
    """The workloads a partial plan leaves out (those in ``only``): a heading and a table."""
    rows = dropped_rows(plan, only)
    if not rows:
        return []
    word = "not funded" if funded(plan) else "not placed"
    heading = f"{len(rows):,} workload{'' if len(rows) == 1 else 's'} {word}"
    if only is None:
        heading += f" ({partial_note(plan) or 'partial plan'})"
    return [Text(heading, style="bold"), _ResponsiveDropped(rows)]


def explain_view(
    plan: Plan,
    *,
    more: dict[int, dict[str, Any]] | None = None,
    only: set[str] | None = None,
    limit: int | None = None,
) -> Group:
    """Everything ``planner explain`` prints: headline, table with reasons, problems.

    Beyond ``limit`` placements, only the most expensive are listed, with a note.
    """
    parts: list[RenderableType] = [headline(plan)]
    if plan.placements:
        parts.append(_ResponsiveTable(plan, selected(plan, only, limit), more or {}))
        total = len(selected(plan, only))
        if limit and total > limit:
            parts.append(Text(
                f"showing the {limit:,} most expensive of {total:,} placements; "
                "use --limit 0 for all, --workload to pick, or --json", style="dim"))
    parts.extend(dropped_view(plan, only))
    parts.extend(moves(plan, only))
    parts.extend(problems(plan, only))
    return Group(*parts)


def summary_view(plan: Plan) -> Group:
    """A short summary for the end of ``planner plan``: headline, table, problems."""
    parts: list[RenderableType] = [headline(plan)]
    if plan.placements:
        parts.append(placement_table(plan, reasons=False))
    parts.extend(problems(plan))
    return Group(*parts)
