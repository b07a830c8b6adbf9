"""The plan report: one self-contained HTML page (inline CSS and SVG, no scripts).

``render_html(plan)`` is a pure function from a Plan to a string. The page makes
no network requests when opened: no external stylesheets, fonts, images or
scripts, and a Content-Security-Policy that forbids them anyway. Large plans are
summarized (see :class:`~planner.report.sections.Limits`) so that a 20k-stage
plan stays a few megabytes at most.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from planner.inputs.checked import check_now, check_optional, checked_plan, checked_portfolio
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio
from planner.report import sections, tables
from planner.report.explain import partial_note
from planner.report.fmt import esc, usd
from planner.report.lenient import split_dropped
from planner.report.schedule import schedule
from planner.report.sections import Limits

# Plan fields the report renders; anything else (a newer plan) goes to "Other plan data".
KNOWN_FIELDS = {
    "": {
        "schema_version",
        "portfolio",
        "status",
        "placements",
        "resources",
        "totals",
        "solver",
        "catalogs",
        "warnings",
        "unplaced",
        "dropped",
        "conflicts",
        "diagnosis",
        "moves",
        "pruned",
        "horizon",
        "schedule",
    },
    "solver": {
        "backend",
        "status",
        "objective_usd",
        "bound_usd",
        "gap",
        "time_limit_s",
        "workers",
        "seed",
        "solve_time_s",
        "build_time_s",
        "detail",
    },
    "totals": {
        "compute_usd",
        "egress_usd",
        "migration_usd",
        "spot_risk_usd",
        "preference_usd",
        "late_penalty_usd",
        "total_usd",
        "by_provider",
        "by_site",
        "by_team",
        "by_kind",
        "value_usd",
    },
}

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root{--fg:#1d2430;--muted:#5f6b7a;--line:#dde1e6;--bg:#f6f7f9;--card:#fff;
--ok:#2e7d32;--bad:#c62828;--warn:#b26a00;--accent:#4e79a7}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",
Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1f2a3a;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px;font-weight:600}
header p{margin:4px 0 0;color:#c8d1dc}
nav{background:#fff;border-bottom:1px solid var(--line);padding:8px 32px;position:sticky;top:0;
z-index:2}
a{color:var(--accent)}
nav a{color:var(--accent);margin-right:16px;text-decoration:none;font-weight:500}
main{max-width:1400px;margin:0 auto;padding:16px 32px 40px}
section{margin:18px 0 26px}
h2{font-size:18px;margin:0 0 6px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
.lead{color:var(--muted);margin:4px 0 10px}
.muted{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;
display:flex;flex-direction:column;gap:2px}
.card>span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card>b{font-size:22px;font-weight:600}
.card>small{color:var(--muted)}
.card.wide{grid-column:span 2}
.card.wide>b{font-size:30px}
.badge{display:inline-block;padding:1px 10px;border-radius:12px;font-size:13px;font-weight:600;
color:#fff;background:var(--muted);vertical-align:middle}
.st-optimal{background:var(--ok)}.st-feasible{background:#558b2f}
.st-infeasible{background:var(--bad)}.st-unknown{background:var(--warn)}
.st-partial{background:#e65100}
.st-binding{background:var(--bad);font-size:11px}
.st-moved{background:var(--warn);font-size:11px}
.rejected{color:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:10px 12px;overflow-x:auto}
figcaption{font-weight:600;margin-bottom:6px}
figure.narrow{display:inline-block}
svg.chart text{font-size:12px;fill:var(--fg)}
svg.chart text.muted{fill:var(--muted)}
svg.chart text.donut-total{font-size:13px;font-weight:600}
svg.cap{vertical-align:middle}
svg.chart text.tick{font-size:11px}svg.chart text.inbar{fill:#fff}
figure.pool{margin:0 0 14px}figure.pool svg{display:block}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%}
th,td{padding:6px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600;font-size:12px;text-transform:uppercase;
letter-spacing:.03em;color:#3a4656;position:sticky;top:0}
tbody tr:nth-child(even){background:#fafbfc}
td.num,th.num{text-align:right;white-space:nowrap}
.nowrap{white-space:nowrap}
td small{color:var(--muted)}
ul.why{margin:0;padding-left:16px}
.pill{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;background:#e6e8eb}
.p-spot{background:#fde3c8}.p-owned{background:#d7ecd4}.p-on_demand{background:#d9e4f0}
.p-commit_1y{background:#d6ecea}.p-commit_3y{background:#eadcea}
.chip{display:inline-block;margin:2px 4px 2px 0;padding:2px 8px;border-radius:6px;
border:1px solid var(--line);background:#fff;font-size:12px}
.chip.ok{border-color:#9ccc9c;background:#f1f8f1}.chip.bad{border-color:#e99;background:#fdf0f0}
.verdict-true,.verdict-false{white-space:nowrap;font-weight:600}
.verdict-true{color:var(--ok)}.verdict-false{color:var(--bad)}
.alert{border-radius:8px;padding:10px 16px;border:1px solid}
.alert.bad{background:#fdf0f0;border-color:#e99}
.alert.warn{background:#fff8e6;border-color:#f0c36d}
.alert ul{margin:4px 0;padding-left:18px}
details{margin:6px 0}pre{background:#fff;border:1px solid var(--line);padding:8px;
overflow:auto;max-height:360px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
footer{color:var(--muted);text-align:center;padding:16px;font-size:12px}
@media print{nav{display:none}body{background:#fff}.grid{grid-template-columns:1fr 1fr}}
"""


def unknown_fields(plan: Plan, dropped: dict[str, Any] | None = None) -> dict[str, Any]:
    """Plan fields (top level, solver, totals) the report does not render, as JSON values."""
    out: dict[str, Any] = {}
    data = plan.model_dump(mode="json")
    for prefix, known in KNOWN_FIELDS.items():
        node = data.get(prefix, {}) if prefix else data
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key not in known and value not in (None, [], {}, ""):
                out[f"{prefix}.{key}" if prefix else key] = value
    out.update(dropped or {})
    return out


NAV = (
    ("summary", "Summary"),
    ("dropped", "Left out"),
    ("problems", "Problems"),
    ("moves", "Moves"),
    ("cost", "Cost"),
    ("capacity", "Capacity"),
    ("schedule", "Schedule"),
    ("placements", "Placements"),
    ("workloads", "Workloads"),
    ("residency", "Residency"),
    ("catalogs", "Catalogs"),
)


def _nav(body: str) -> str:
    """Links to the sections the page has."""
    links = [(a, t) for a, t in NAV if f'<section id="{a}"' in body]
    return "<nav>" + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in links) + "</nav>"


def render_html(
    plan: Plan,
    portfolio: Portfolio | None = None,
    *,
    now: datetime | None = None,
    dropped: dict[str, Any] | None = None,
    limits: Limits | None = None,
) -> str:
    """The whole report page for ``plan``.

    ``portfolio`` adds allowed areas and dataset homes to the residency view, and each
    stage's earliest start and deadline to the Gantt charts of a plan with a schedule;
    ``now`` (timezone-aware) adds each catalog's current age (leave it out for a
    reproducible page); ``dropped`` are fields a lenient load took out of a newer plan file.

    The plan and the portfolio are validated again first
    (:mod:`planner.inputs.checked`): anything but a :class:`Plan` (a dict of a plan's
    JSON, a path), a :class:`Portfolio` or ``None``, and a naive ``now``, is an
    :class:`~planner.errors.InputError` naming the argument.
    """
    check_now(now)
    check_optional(dropped, dict, "dropped", "a dict of field path → value",
                   "leave it out; load_plan_lenient returns the fields a newer plan file "
                   "added")
    check_optional(limits, Limits, "limits", "a planner.report.sections.Limits",
                   "leave it out for the default sizes")
    return report_page(checked_plan(plan),
                       None if portfolio is None else checked_portfolio(portfolio),
                       now=now, dropped=dropped, limits=limits)


def report_page(
    plan: Plan,
    portfolio: Portfolio | None = None,
    *,
    now: datetime | None = None,
    dropped: dict[str, Any] | None = None,
    limits: Limits | None = None,
) -> str:
    """:func:`render_html` of a plan and portfolio known to be valid (read from files)."""
    limits = limits or Limits()
    per_placement, other_dropped = split_dropped(dropped or {})
    subtitle = " · ".join(filter(None, [plan.status.value, partial_note(plan)]))
    if plan.placements:
        subtitle += f" · total {usd(plan.totals.total_usd)}"
        if plan.totals.value_usd is not None:
            subtitle += f" · value {usd(plan.totals.value_usd)}"
    notes = []
    if portfolio is not None and portfolio.name != plan.portfolio:
        notes.append(
            f"the portfolio given is '{portfolio.name}', but this plan is for '{plan.portfolio}'"
        )
    if portfolio is not None and portfolio.description:
        subtitle += f" · {portfolio.description}"
    warning_html = "".join(f'<div class="alert warn">{esc(n)}</div>' for n in notes)
    body = "".join(
        [
            sections.summary(plan),
            warning_html,
            tables.dropped(plan, limits),
            sections.problems(plan),
            sections.warnings(plan),
            sections.moves(plan, limits),
            sections.costs(plan, limits),
            sections.capacity(plan, limits),
            schedule(plan, portfolio, limits),
            tables.placements(plan, limits, per_placement),
            tables.workloads(plan, limits),
            tables.residency(plan, portfolio, limits),
            sections.catalogs(
                plan, now, portfolio.settings.max_catalog_age_days if portfolio else None
            ),
            sections.pruned(plan),
            sections.extras(unknown_fields(plan, other_dropped)),
        ]
    )
    generated = f" · report generated {now:%Y-%m-%d %H:%M %Z}" if now else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Plan report — {esc(plan.portfolio)}</title>"
        f"<style>{CSS}</style></head>\n<body>"
        f"<header><h1>Placement plan: {esc(plan.portfolio)}</h1>"
        f"<p>{esc(subtitle)}</p></header>"
        f"{_nav(body)}<main>{body}</main>"
        f"<footer>planner plan schema v{esc(plan.schema_version)}{esc(generated)}</footer>"
        "</body></html>\n"
    )
