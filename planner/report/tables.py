"""Report sections that list: placements with their reasons, workloads, teams, residency.

Large plans are summarized: at most ``Limits.rows`` placements are listed (the most
expensive ones), while the per-workload and per-team tables cover every stage.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from planner.models.plan import Dropped, Placement, Plan
from planner.models.portfolio import Portfolio
from planner.report.explain import (
    add_cost_text,
    by_workload,
    dropped_value,
    extra_fields,
    funded,
    gang_text,
    planned_of,
    rejected_text,
    runner_up_text,
)
from planner.report.fmt import esc, num, pct, plain, short, usd
from planner.report.residency import Touch, country_counts, residency_view
from planner.report.sections import Limits, section, table
from planner.report.timeline import late_text, span_lines


def _why(p: Placement, more: dict[str, Any]) -> str:
    items = [f"<li>{esc(w)}</li>" for w in p.why]
    extra = {**extra_fields(p), **more}
    items += [f"<li><i>{esc(k)}</i>: {esc(short(plain(v), 300))}</li>" for k, v in extra.items()]
    return f'<ul class="why">{"".join(items)}</ul>' if items else "–"


def _stage(p: Placement) -> str:
    if p.stage == p.kind.value:
        return esc(p.stage)
    return f"{esc(p.stage)}<br><small>{esc(p.kind.value)}</small>"


def _count(p: Placement) -> str:
    replicas = getattr(p, "replicas", None)
    gang = gang_text(p)
    if gang:
        return f"{esc(p.instances)}<br><small>{esc(gang)}</small>"
    if p.kind.value == "inference" and isinstance(replicas, int) and replicas != p.instances:
        word = "replica" if replicas == 1 else "replicas"
        return f"{esc(p.instances)}<br><small>for {esc(replicas)} {word}</small>"
    return esc(p.instances)


def _when(p: Placement) -> str:
    """Start → end (dates when the horizon is dated, else hours), hours late in red."""
    lines = span_lines(p)
    if not lines:
        return "–"
    out = "<br>".join(f'<span class="nowrap">{esc(line)}</span>' for line in lines)
    late = late_text(p)
    if late:
        out += f'<br><span class="badge st-binding">{esc(late)}</span>'
    return out


def _cost(p: Placement) -> str:
    out = esc(usd(p.cost.total_usd))
    if p.cost.egress_usd:
        out += f"<br><small>egress {esc(usd(p.cost.egress_usd))}</small>"
    migration = getattr(p.cost, "migration_usd", None)
    if migration:
        out += f"<br><small>move {esc(usd(migration))}</small>"
    return out


def _alternatives(p: Placement) -> str:
    out = f"<small>{esc(runner_up_text(p.runner_up))}</small>"
    rejected = rejected_text(getattr(p, "cheaper_rejected", None))
    if rejected:
        out += f'<br><small class="rejected">{esc(rejected)}</small>'
    return out


def _placement_row(p: Placement, more: dict[str, Any], timed: bool) -> list[str]:
    gpu = f"{num(p.gpus_per_instance)}× {p.gpu_model}" if p.gpu_model else "CPU"
    moved = ' <span class="badge st-moved">moved</span>' if getattr(p, "moved", False) else ""
    when = [_when(p)] if timed else []
    return [
        esc(p.workload) + moved,
        _stage(p),
        esc(p.team),
        f"{esc(p.site)}<br><small>{esc(p.country)}</small>",
        f"{esc(p.offer)}<br><small>{esc(gpu)}</small>",
        _count(p),
        *when,
        f'<span class="pill p-{esc(p.purchase.value)}">{esc(p.purchase.value)}</span>',
        _cost(p),
        _why(p, more),
        _alternatives(p),
    ]


def placements(plan: Plan, limits: Limits, more: dict[int, dict[str, Any]] | None = None) -> str:
    """The placement table: every stage (or the most expensive ones of a large plan).

    ``more`` maps a placement's index to fields a newer plan file added to it.
    """
    if not plan.placements:
        return section("placements", "Placements", '<p class="muted">No stage was placed.</p>')
    more = more or {}
    rows = list(enumerate(plan.placements))
    lead = "Where each stage runs, why there, and the cheapest option not taken."
    if len(rows) > limits.rows:
        rows = sorted(rows, key=lambda ip: (-ip[1].cost.total_usd, ip[1].workload, ip[1].stage))
        rows = rows[: limits.rows]
        lead += (
            f" Showing the {len(rows):,} most expensive of {len(plan.placements):,} placements; "
            "every stage is counted in the workload and team tables below, and "
            "<code>planner explain PLAN --json</code> lists them all."
        )
    timed = any(p.start is not None for p in plan.placements)
    headers = ["workload", "stage", "team", "site", "offer", "instances",
               *(["when"] if timed else []),
               "purchase", "cost", "why here", "runner-up / ruled out"]
    body = table(headers, [_placement_row(p, more.get(i, {}), timed) for i, p in rows],
                 numeric=(5, 8 if timed else 7))
    return section("placements", "Placements", body, lead=lead)


def workloads(plan: Plan, limits: Limits) -> str:
    """Cost per workload (every workload counted, the largest listed) and per team."""
    summaries = sorted(by_workload(plan), key=lambda w: (-w.total_usd, w.workload))
    if not summaries:
        return ""
    total = plan.totals.total_usd or Decimal(1)
    shown = summaries[: limits.rows]
    rows = [
        [
            esc(w.workload),
            esc(w.team),
            esc(w.stages),
            esc(short(", ".join(sorted(w.sites)), 80)),
            esc(", ".join(sorted(w.countries))),
            esc(usd(w.total_usd)),
            esc(pct(float(w.total_usd / total))),
        ]
        for w in shown
    ]
    rest = summaries[len(shown) :]
    if rest:
        rows.append(
            [
                f"<i>{len(rest):,} more workloads</i>",
                "",
                esc(sum(w.stages for w in rest)),
                "",
                "",
                esc(usd(sum((w.total_usd for w in rest), Decimal(0)))),
                esc(pct(float(sum((w.total_usd for w in rest), Decimal(0)) / total))),
            ]
        )
    teams: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for w in summaries:
        teams[w.team][0] += 1
        teams[w.team][1] += w.stages
    team_rows = [
        [
            esc(team),
            esc(teams[team][0]),
            esc(teams[team][1]),
            esc(usd(cost)),
            esc(pct(float(cost / total))),
        ]
        for team, cost in sorted(plan.totals.by_team.items(), key=lambda kv: (-kv[1], kv[0]))
    ][: limits.rows]
    body = (
        "<h3>By workload</h3>"
        + table(["workload", "team", "stages", "sites", "countries", "cost", "share"], rows,
                numeric=(2, 5, 6))
        + "<h3>By team</h3>"
        + table(["team", "workloads", "stages", "cost", "share"], team_rows, numeric=(1, 2, 3, 4))
    )
    return section("workloads", "Workloads and teams", body)


def _touch(t: Touch) -> str:
    cls, tip = {
        True: (" ok", ' title="allowed"'),
        False: (" bad", ' title="outside the allowed area"'),
        None: ("", ""),
    }[t.allowed]
    return (
        f'<span class="chip{cls}"{tip}><b>{esc(t.what)}</b> {esc(t.site)} '
        f"<small>{esc(' · '.join([t.country, *t.jurisdictions]))}</small>"
        + (f" <small><i>own rule: {esc(t.own_rule)}</i></small>" if t.own_rule else "")
        + "</span>"
    )


def residency(plan: Plan, portfolio: Portfolio | None, limits: Limits) -> str:
    """Which countries and jurisdictions each workload's data touches."""
    views = residency_view(plan, portfolio)
    if not views:
        return ""
    counts = country_counts(plan)
    summary_rows = [[esc(c), esc(s), esc(w)] for c, (s, w) in counts.items()]
    rows = []
    for v in views[: limits.residency]:
        verdict = {True: "✓ inside", False: "✗ outside", None: "–"}[v.ok]
        rows.append(
            [
                esc(v.workload),
                esc(v.team),
                esc(v.rule or "–"),
                " ".join(_touch(t) for t in v.touches),
                f'<span class="verdict-{str(v.ok).lower()}">{esc(verdict)}</span>',
            ]
        )
    note = ""
    if len(views) > len(rows):
        note = f'<p class="muted">Showing {len(rows):,} of {len(views):,} workloads.</p>'
    lead = "Countries and jurisdiction tags of every site a workload's data touches."
    if portfolio is None:
        lead += (
            " Pass <code>--portfolio</code> to see each workload's allowed area, its dataset's "
            "home and custom site tags."
        )
    body = (
        "<h3>Countries</h3>"
        + table(["country", "stages", "workloads"], summary_rows, numeric=(1, 2))
        + "<h3>Per workload</h3>"
        + table(["workload", "team", "allowed", "data touches", "check"], rows)
        + note
    )
    return section("residency", "Residency", body, lead=lead)


def dropped_title(plan: Plan) -> str:
    """``'Workloads not funded'`` when the plan chose by business value, else ``'… not placed'``."""
    return "Workloads not funded" if funded(plan) else "Workloads not placed"


def _items(texts: list[str]) -> str:
    return f'<ul class="why">{"".join(texts)}</ul>' if texts else "–"


def _dropped_row(d: Dropped) -> list[str]:
    conflicts = [f"<li><code>{esc(c.rule)}</code>: {esc(c.message)}</li>" for c in d.conflicts]
    adding = add_cost_text(d)
    return [
        esc(d.workload),
        esc(usd(d.value_usd)),
        esc(d.priority),
        _items([f"<li>{esc(r)}</li>" for r in d.reasons]),
        _items(conflicts),
        esc(adding or "–"),
        esc(", ".join(d.add_drops)) if d.add_drops else "–",
    ]


def _dropped_lead(plan: Plan, shown: int) -> str:
    planned, total = planned_of(plan)
    left = len(plan.dropped)
    lead = (f"This plan is partial: {planned:,} of {total:,} workloads are planned, each whole; "
            f"these {left:,} are left out")
    value = plan.totals.value_usd
    if value is not None:
        lead += (f". The planned ones bring {esc(usd(value))} of value for "
                 f"{esc(usd(plan.totals.total_usd))} of cost")
    missed = dropped_value(plan)
    if missed is not None:
        lead += f"; {esc(usd(missed))} of value is not funded"
    lead += (". <i>Cost of adding it</i>: the plan's cost change when a re-solve forces the "
             "workload in, leaving out the workloads named; – when no re-solve placed it "
             "(the reasons say why).")
    if shown < left:
        lead += (f" Showing {shown:,} of {left:,}; <code>planner explain PLAN --json</code> "
                 "lists all.")
    return lead


def dropped(plan: Plan, limits: Limits) -> str:
    """The workloads a partial plan leaves out: why, their value and priority, and what
    adding one would cost and leave out instead."""
    if not plan.dropped:
        return ""
    rows = [_dropped_row(d) for d in plan.dropped[: limits.rows]]
    headers = ["workload", "value", "priority", "why left out", "conflicting rules",
               "cost of adding it", "it would leave out"]
    body = table(headers, rows, numeric=(1, 2, 5))
    return section("dropped", dropped_title(plan), body, lead=_dropped_lead(plan, len(rows)))
