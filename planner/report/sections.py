"""Report sections that summarize: totals and solver, problems, costs, capacity,
catalogs, pruned options and fields this version does not know.

Each function takes plan data and returns one escaped HTML fragment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from numbers import Integral
from typing import Any

from planner.errors import InputError
from planner.models.plan import Plan, ResourceUse
from planner.models.status import SolveStatus
from planner.report.explain import (
    by_workload,
    conflict_text,
    cost_by_purchase,
    dropped_value,
    funded,
    planned_of,
    stages_placed,
)
from planner.report.fmt import esc, num, pct, plain, pretty_json, resource_label, top_n, usd
from planner.report.svg import bar_chart, capacity_bar, donut


@dataclass(frozen=True)
class Limits:
    """How much of a large plan is listed row by row (the rest is summarized)."""

    rows: int = 500
    chart_items: int = 12
    resources: int = 200
    residency: int = 300
    pools: int = 40
    lanes: int = 80

    def __post_init__(self) -> None:
        """Each limit is a whole number of at least 1 (0 or a negative one sliced lists from
        the end, and the page said "showing -3 of ..." without an error)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise InputError(f"{value!r} is not a whole number of at least 1",
                                 path=f"limits.{f.name}",
                                 hint=f"give 1 or more (default {f.default})")
            object.__setattr__(self, f.name, int(value))  # numpy ints as Python ints


def section(anchor: str, title: str, body: str, *, lead: str = "") -> str:
    intro = f'<p class="lead">{lead}</p>' if lead else ""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{intro}{body}</section>'


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()
) -> str:
    """A table from escaped cell HTML; columns in ``numeric`` are right-aligned."""
    head = "".join(
        f'<th class="{"num" if i in numeric else ""}">{esc(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def status_badge(status: str) -> str:
    return f'<span class="badge st-{esc(status)}">{esc(status)}</span>'


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _card(label: str, value: str, note: str = "", cls: str = "") -> str:
    small = f"<small>{note}</small>" if note else ""
    return f'<div class="card {cls}"><span>{esc(label)}</span><b>{value}</b>{small}</div>'


def _split_note(t: Any) -> str:
    note = f"compute {esc(usd(t.compute_usd))} · egress {esc(usd(t.egress_usd))}"
    migration = getattr(t, "migration_usd", None)
    if migration:
        note += f" · moves {esc(usd(migration))}"
    for name, label in (("spot_risk_usd", "spot risk"), ("preference_usd", "off-preference"),
                        ("late_penalty_usd", "late penalty")):
        value = getattr(t, name, None)
        if value:
            note += f"<br>objective also weighs {label}: {esc(usd(value))}"
    return note


def _rows_note(plan: Plan) -> str:
    """`` · N placement rows`` when stages split over sites make more rows than stages."""
    rows = len(plan.placements)
    return f" · {rows:,} placement rows" if rows != stages_placed(plan) else ""


def _status_note(plan: Plan) -> str:
    """Under the status badge: the solver's detail; for a partial plan, how good its choice
    of workloads is (``solver.status``)."""
    s = plan.solver
    if plan.status is not SolveStatus.PARTIAL:
        return esc(s.detail)
    quality = {
        SolveStatus.OPTIMAL: "the best choice of workloads, proven",
        SolveStatus.FEASIBLE: "a good choice of workloads, not proven the best",
    }.get(s.status, "choice of workloads")
    detail = f"<br>{esc(s.detail)}" if s.detail else ""
    return f"{esc(quality)} (solver {esc(s.status.value)}){detail}"


def _value_card(plan: Plan) -> str:
    """Business value of the planned workloads against their cost (plans with values)."""
    value, cost = plan.totals.value_usd, plan.totals.total_usd
    if value is None:
        return ""
    note = f"for {esc(usd(cost))} of cost · net {esc(usd(value - cost))}"
    missed = dropped_value(plan)
    if missed is not None:
        note += f"<br>{esc(usd(missed))} of value not funded"
    return _card("Value funded" if plan.dropped else "Value",
                 esc(usd(value)), note)


def _workloads_card(plan: Plan) -> str:
    """Workloads planned out of all in the plan (partial plans only)."""
    if plan.status is not SolveStatus.PARTIAL:
        return ""
    planned, total = planned_of(plan)
    word = "not funded" if funded(plan) else "not placed"
    return _card("Workloads planned", f"{planned:,} of {total:,}",
                 f'<a href="#dropped">{esc(plural(len(plan.dropped), "workload"))} {word}</a>')


def summary(plan: Plan) -> str:
    """Headline numbers: cost, status, solver quality, what was placed where."""
    s, t = plan.solver, plan.totals
    gap = pct(s.gap, 4) if s.gap is not None else "n/a"
    took = f"{s.solve_time_s:.2f} s" if s.solve_time_s is not None else "time not recorded"
    workloads = {p.workload for p in plan.placements} | {u.workload for u in plan.unplaced}
    placed = len({p.workload for p in plan.placements})
    counted = (f"{plural(placed, 'workload')} planned" if plan.status is SolveStatus.PARTIAL
               else plural(len(workloads), "workload"))
    cards = [
        _card(
            "Total cost",
            f'<span class="total" data-total-usd="{esc(t.total_usd)}">'
            f"{esc(usd(t.total_usd) if plan.placements else 'no plan')}</span>",
            _split_note(t) if plan.placements else "nothing was placed",
            "wide",
        ),
        _card("Status", status_badge(plan.status.value), _status_note(plan)),
        _workloads_card(plan),
        _value_card(plan),
        _card(
            "Optimality gap",
            esc(gap),
            f"objective {esc(usd(s.objective_usd))} · bound {esc(usd(s.bound_usd))}",
        ),
        _card(
            "Solver",
            esc(s.backend),
            f"{esc(took)} · limit {s.time_limit_s:g} s · {s.workers} workers · seed {s.seed}",
        ),
        _card(
            "Stages placed",
            f"{stages_placed(plan):,}",
            f"{counted} · {len(plan.unplaced):,} unplaced" + _rows_note(plan),
        ),
        _card(
            "Sites used",
            f"{len(t.by_site):,}",
            f"{plural(len(t.by_provider), 'provider')} · {plural(len(t.by_team), 'team')}",
        ),
    ]
    return f'<section id="summary" class="cards">{"".join(cards)}</section>'


def problems(plan: Plan) -> str:
    """Why there is no (complete) plan: unplaced stages and conflicting rules."""
    diagnosis = getattr(plan, "diagnosis", None)
    if not plan.unplaced and not plan.conflicts and not diagnosis:
        return ""
    parts = [f"<p><b>{esc(diagnosis)}</b></p>"] if diagnosis else []
    if plan.unplaced:
        rows = [
            [
                esc(u.workload),
                esc(u.stage),
                "<ul>" + "".join(f"<li>{esc(r)}</li>" for r in u.reasons) + "</ul>",
            ]
            for u in plan.unplaced
        ]
        parts.append("<h3>Stages without any feasible option</h3>")
        parts.append(table(["workload", "stage", "why nothing fits"], rows))
    if plan.conflicts:
        parts.append("<h3>Conflicting rules</h3><ul>")
        parts.extend(f"<li>{esc(conflict_text(c))}</li>" for c in plan.conflicts)
        parts.append("</ul>")
    lead = "Relax one of these rules (or add capacity) and plan again."
    if plan.status is SolveStatus.PARTIAL:
        lead = ("Their workloads are left out of this partial plan (see "
                '<a href="#dropped">left out</a>); relax one of these rules (or add a site '
                "that meets them) and plan again.")
    return section(
        "problems",
        "Why there is no plan" if not plan.feasible else "Problems",
        f'<div class="alert bad">{"".join(parts)}</div>',
        lead=lead,
    )


def warnings(plan: Plan) -> str:
    if not plan.warnings:
        return ""
    items = "".join(f"<li>{esc(w)}</li>" for w in plan.warnings)
    return section("warnings", "Warnings", f'<div class="alert warn"><ul>{items}</ul></div>')


def costs(plan: Plan, limits: Limits) -> str:
    """Cost by provider, site, team, stage kind, purchase option and workload (charts)."""
    t = plan.totals
    n = limits.chart_items
    if not plan.placements:
        return ""
    charts = [
        ("By provider", donut(top_n(t.by_provider, n), "Cost by provider")),
        ("By stage kind", donut(top_n(t.by_kind, n), "Cost by stage kind")),
        ("By purchase option", donut(top_n(cost_by_purchase(plan), n), "Cost by purchase")),
        ("By site", bar_chart(top_n(t.by_site, n), "Cost by site")),
        ("By team", bar_chart(top_n(t.by_team, n), "Cost by team")),
        (
            "Most expensive workloads",
            bar_chart(
                top_n(((w.workload, w.total_usd) for w in by_workload(plan)), n),
                "Cost by workload",
            ),
        ),
    ]
    body = "".join(f'<figure><figcaption>{esc(c)}</figcaption>{svg}</figure>' for c, svg in charts)
    return section(
        "cost",
        "Cost",
        f'<div class="grid">{body}</div>',
        lead=f"Total {esc(usd(t.total_usd))} over the planning period; "
        f"charts show the {n - 1} largest items and the rest as “other”.",
    )


def _resource_row(r: ResourceUse) -> list[str]:
    site, what, unit = resource_label(r.resource)
    flag = '<span class="badge st-binding">binding</span>' if r.binding else ""
    return [
        esc(site),
        f'<span title="{esc(r.resource)}">{esc(what)}</span>',
        esc(unit),
        esc(num(r.used_unit_hours)),
        esc(num(r.capacity_unit_hours)),
        capacity_bar(r.utilization, r.binding),
        esc(pct(r.utilization)),
        flag,
    ]


def capacity(plan: Plan, limits: Limits) -> str:
    """Every limited resource the plan uses, against its capacity; binding ones first."""
    if not plan.resources:
        return section(
            "capacity", "Capacity", '<p class="muted">The plan uses no limited resource.</p>'
        )
    ranked = sorted(plan.resources, key=lambda r: (not r.binding, -r.utilization, r.resource))
    shown = ranked[: limits.resources]
    note = ""
    if len(ranked) > len(shown):
        note = (
            f'<p class="muted">Showing {len(shown):,} of {len(ranked):,} resources '
            "(binding first, then by utilization).</p>"
        )
    binding = sum(r.binding for r in plan.resources)
    rows = [_resource_row(r) for r in shown]
    return section(
        "capacity",
        "Capacity",
        table(
            ["site", "resource", "unit", "used", "capacity", "", "utilization", ""],
            rows,
            numeric=(3, 4, 6),
        )
        + note,
        lead=f"Use of each limited resource over the planning period (on-prem nodes, "
        f"cloud quotas). {binding} binding: a cheaper option of some stage did not fit "
        "in what was left.",
    )


def _age(days: float | None, max_age: int | None, missing: str) -> str:
    if days is None:
        return esc(missing)
    stale = max_age is not None and days > max_age
    flag = f' <span class="badge st-binding" title="older than {max_age} days">stale</span>'
    return esc(f"{days:.1f} days") + (flag if stale else "")


def catalogs(plan: Plan, now: datetime | None, max_age: int | None = None) -> str:
    """Which catalog snapshots priced the plan, and how old they are (``max_age``: the
    portfolio's ``max_catalog_age_days``, to flag stale ones)."""
    if not plan.catalogs:
        return section("catalogs", "Catalogs", '<p class="muted">No catalog recorded.</p>')
    rows = [
        [
            esc(c.provider),
            esc(c.file),
            f'<code title="{esc(c.sha256)}">{esc(c.sha256[:12])}…</code>',
            esc(c.fetched_at.strftime("%Y-%m-%d %H:%M %Z").strip()),
            _age(c.age_days, max_age, "not recorded"),
            _age((now - c.fetched_at).total_seconds() / 86400 if now else None, max_age, "–"),
        ]
        for c in plan.catalogs
    ]
    return section(
        "catalogs",
        "Catalog provenance",
        table(["provider", "file", "sha256", "fetched at", "age when planned", "age now"], rows),
        lead="Price snapshots the plan was computed with. Refresh with "
        "<code>planner catalog refresh --provider …</code>.",
    )


def pruned(plan: Plan) -> str:
    if not plan.pruned:
        return ""
    items = top_n(plan.pruned, 20)
    chart = bar_chart(items, "Options pruned per rule", width=640, label_width=230, value=_count)
    return section(
        "pruned",
        "Options ruled out before solving",
        f'<figure class="narrow">{chart}</figure>',
        lead="Candidate (site, offer, purchase) options removed by each rule.",
    )


def _count(value: float) -> str:
    return f"{value:,.0f}"


def extras(fields: dict[str, Any]) -> str:
    """Plan fields this report version does not know, shown as JSON."""
    if not fields:
        return ""
    body = "".join(
        f"<details><summary><code>{esc(k)}</code></summary><pre>{esc(pretty_json(v))}</pre>"
        "</details>"
        for k, v in fields.items()
    )
    return section(
        "other",
        "Other plan data",
        body,
        lead="Fields this version of the report does not render specially.",
    )


def moves(plan: Plan, limits: Limits) -> str:
    """Stages that move relative to the previous plan (``planner plan --previous``)."""
    items = list(getattr(plan, "moves", None) or [])
    if not items:
        return ""
    rows = [
        [
            esc(getattr(m, "workload", "")),
            esc(getattr(m, "stage", "")),
            esc(plain(getattr(m, "previous", ""))),
            esc(plain(getattr(m, "now", ""))),
            esc(usd(getattr(m, "migration_usd", None))),
            esc(plain(getattr(m, "why", ""))),
        ]
        for m in items[: limits.rows]
    ]
    note = ""
    if len(items) > len(rows):
        note = f'<p class="muted">Showing {len(rows):,} of {len(items):,} moves.</p>'
    return section(
        "moves",
        "Moves against the previous plan",
        table(["workload", "stage", "before", "now", "move cost", "why"], rows, numeric=(4,))
        + note,
    )
