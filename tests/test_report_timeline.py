"""The plan's timeline in the views: a Gantt chart and the use over time of every
capacity-limited pool in the HTML report, start → end and hours late in ``planner explain``
(table and JSON), the late penalty with the totals. Plans without a timeline render as before.

The plans are the example plans with a timeline added by hand (tests/timeline_plans.py):
the report draws what a plan says, whoever made it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from browser import needs_chromium, open_in_chromium
from click.testing import CliRunner
from example_plans import EXAMPLES, plan_json
from hypothesis import given, settings
from hypothesis import strategies as st
from timeline_plans import PERIOD, scheduled

from planner.cli.main import cli
from planner.inputs.files import validate_as
from planner.models.plan import Plan, PoolSchedule, Run, Window
from planner.models.portfolio import Portfolio
from planner.report import render_html
from planner.report.gantt import LABEL, RIGHT, WIDTH, Frame, resample, utilization
from planner.report.lenient import plan_from_data
from planner.report.sections import Limits
from planner.report.timeline import (
    MAX_TICKS,
    Axis,
    Level,
    axis_of,
    hours_text,
    levels,
    stage_marks,
)

START = datetime(2027, 1, 4, tzinfo=UTC)
HGX = "offer:onprem:ingolstadt-dc/hgx-h100"
TERMINAL = {"COLUMNS": "120", "LINES": "50", "FORCE_COLOR": None, "NO_COLOR": "1",
            "TERM": "dumb"}
EVIL = '<script>alert("x")</script>&'


def carmaker(start: datetime | None = START) -> Plan:
    """The carmaker plan with a timeline: an outage of 2 hgx-h100 nodes and a late stage."""
    plan = Plan.model_validate_json(plan_json("carmaker"))
    return scheduled(plan, start, outages={HGX: [(640, 700, 2)]},
                     late={("perception-v7", "training"): 12})


def dated_portfolio() -> Portfolio:
    """The carmaker portfolio dated from START, perception-v7 training due 2027-01-28 12:00
    (soft: ``carmaker()`` ends it 12 h late) and its testing not before hour 24."""
    data = yaml.safe_load(EXAMPLES["carmaker"].read_text("utf-8"))
    data["settings"]["horizon"] = {"start": "2027-01-04"}
    stages = next(w for w in data["workloads"] if w["id"] == "perception-v7")["stages"]
    stages[0].update(deadline="2027-01-28T12:00:00Z", late_penalty_usd_per_hour=50)
    stages[1]["earliest_start"] = 24
    return validate_as(Portfolio, data, "dated carmaker")


def section_of(html: str) -> str:
    match = re.search(r'<section id="schedule">.*?</section>', html, re.S)
    assert match, "no schedule section"
    return match.group(0)


def figure_of(html: str, uid: int) -> str:
    match = re.search(rf'<figure class="pool" id="pool-{uid}">.*?</figure>', html, re.S)
    assert match, f"no figure for pool {uid}"
    return match.group(0)


def bars(svg: str) -> list[tuple[float, float]]:
    return [(float(x), float(w)) for x, w in
            re.findall(r'<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)]


# --- the HTML report ----------------------------------------------------------------------

def test_every_pool_gets_a_gantt_with_one_bar_per_run_and_its_use_over_time() -> None:
    plan = carmaker()
    html = render_html(plan)
    section = section_of(html)
    assert '<a href="#schedule">Schedule</a>' in html
    for uid, pool in enumerate(plan.schedule):
        figure = figure_of(section, uid)
        gantt = figure.split('<svg class="chart utilization"')[0]
        assert gantt.count('<g class="run">') == len(pool.runs) == len(bars(gantt)) > 0
        assert gantt.count('<g class="outage">') == len(pool.outages)
        assert figure.count('<svg class="chart utilization"') == 1
        assert re.search(r'<svg class="chart gantt"[^>]* role="group"', gantt), \
            "each bar's title is readable to screen readers"
        assert f"peak {pool.peak:,} at" in figure
    assert section.count("<h3>") == len({p.site for p in plan.schedule})
    extras = html.split('<section id="other">')[-1]
    for name in ("horizon", "schedule", "late_penalty_usd"):
        assert f"{name}</code>" not in extras, f"{name} is left to the extras"


def test_every_stage_is_on_one_timeline_by_workload() -> None:
    """Cloud stages without a quota hold no pool, but they are on the stages' timeline."""
    plan = carmaker()
    html = render_html(plan.model_copy(update={"schedule": []}))
    section = section_of(html)
    assert "No stage uses a capacity-limited pool" in section
    assert 'id="pool-' not in section
    assert section.count('<g class="run">') == len(plan.placements) == len(bars(section))
    labels = re.findall(r"<title>([\w-]+ / [\w-]+): ", section)
    workloads = list(dict.fromkeys(p.workload for p in plan.placements))
    assert sorted(labels, key=lambda t: workloads.index(t.split(" / ")[0])) == labels
    assert ("<title>scenario-sim / training: 1 instance of g5.12xlarge at aws:us-east-1, "
            "2027-01-04 00:00 → 2027-01-20 16:00 (400 h)</title>") in section


def test_bars_span_their_runs_on_the_time_axis() -> None:
    plan = carmaker()
    uid = next(i for i, p in enumerate(plan.schedule) if p.resource == HGX)
    pool = plan.schedule[uid]
    found = bars(figure_of(render_html(plan), uid))
    span = WIDTH - LABEL - RIGHT
    runs = sorted(pool.runs, key=lambda r: (r.start, r.end, r.workload, r.stage))
    for (x, w), run in zip(found, runs, strict=True):
        assert x == pytest.approx(LABEL + span * float(run.start) / float(PERIOD), abs=0.1)
        assert w == pytest.approx(span * float(run.end - run.start) / float(PERIOD), abs=0.2)


def test_bars_say_what_runs_when_and_late_ones_are_flagged() -> None:
    html = render_html(carmaker())
    assert ("<title>perception-v7 / training: 4 instances of hgx-h100, 2027-01-04 00:00 → "
            "2027-01-29 00:00 (600 h), 12 h late</title>") in html
    assert "<title>down: 2 instances, 2027-01-30 16:00 → 2027-02-02 04:00</title>" in html
    assert "Times are UTC; the horizon starts 2027-01-04 00:00" in html


def test_undated_horizon_is_drawn_in_hours() -> None:
    html = render_html(carmaker(start=None))
    section = section_of(html)
    assert "Times are hours from the start of the horizon (730 hours long)" in section
    assert ">h 0</text>" in section and ">h 700</text>" in section
    assert "2027" not in section
    assert "h 0 → h 600" in html  # the placement table's when column


def test_deadline_and_earliest_start_come_from_the_portfolio() -> None:
    plan = carmaker()
    html = render_html(plan, dated_portfolio())
    uid = next(i for i, p in enumerate(plan.schedule) if p.resource == HGX)
    figure = figure_of(html, uid)
    axis = axis_of(plan)
    assert axis is not None
    due = Frame(axis).x(588)
    assert (f'<line class="deadline" x1="{due:.1f}"' in figure
            and 'stroke-dasharray="3 2"><title>soft deadline 2027-01-28 12:00</title>' in figure)
    assert "<title>earliest start 2027-01-05 00:00</title>" in figure
    assert figure.count('class="deadline"') == 1 and figure.count('class="release"') == 1
    assert 'class="deadline"' not in render_html(plan), "no portfolio, no markers"


def test_stage_marks_only_where_the_window_narrows_the_horizon() -> None:
    marks = stage_marks(dated_portfolio())
    assert set(marks) == {("perception-v7", "training"), ("perception-v7", "testing")}
    assert marks[("perception-v7", "training")].due == 588
    assert marks[("perception-v7", "training")].soft
    assert marks[("perception-v7", "testing")].release == 24
    assert marks[("perception-v7", "testing")].due is None
    assert stage_marks(None) == {}


def old_plan(name: str) -> Plan:
    """An example's plan as a planner before plans had a timeline wrote it."""
    data = json.loads(plan_json(name))
    for key in ("horizon", "schedule"):
        data.pop(key, None)
    data["totals"].pop("late_penalty_usd", None)
    for p in data["placements"]:
        for key in ("start", "end", "start_at", "end_at", "late_hours", "nodes_per_replica"):
            p.pop(key, None)
    return plan_from_data(data, "old plan")[0]


def test_a_plan_without_a_timeline_renders_as_before() -> None:
    plan = old_plan("carmaker")
    assert plan.horizon is None and not plan.schedule
    html = render_html(plan)
    assert '<section id="schedule"' not in html and "#schedule" not in html
    assert ">when</th>" not in html
    assert "<i>nodes_per_replica</i>" not in html and "<i>late_hours</i>" not in html
    assert "<code>horizon</code>" not in html and "<code>schedule</code>" not in html


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_plans_draw_their_schedule(name: str) -> None:
    """The planner's own plans: one bar per run of every pool and per placement."""
    plan = Plan.model_validate_json(plan_json(name))
    html = render_html(plan, validate_as(Portfolio, yaml.safe_load(
        EXAMPLES[name].read_text("utf-8")), name))
    if not plan.placements:
        assert '<section id="schedule"' not in html
        return
    section = section_of(html)
    assert bars(section.split('<figure class="pool" id="pool-')[0]) != [] or not plan.schedule
    stages = re.search(r'<figure class="pool" id="stages">.*?</figure>', section, re.S)
    assert stages and len(bars(stages.group(0))) == len(plan.placements)
    for uid, pool in enumerate(plan.schedule):
        figure = figure_of(section, uid)
        assert len(bars(figure)) == len(pool.runs)
    for p in plan.placements:
        if p.start_at is not None:  # a dated horizon: dates on the bars
            assert p.start_at.strftime("%Y-%m-%d") in html
            continue
        assert p.start is not None and f"h {hours_text(p.start)} → h {hours_text(p.end or 0)}" \
            in html


def test_names_in_the_schedule_are_escaped() -> None:
    plan = carmaker()
    evil_run = Run(workload=EVIL, stage=EVIL, offer=EVIL, start=Decimal(1), end=Decimal(2),
                   amount=1)
    pool = plan.schedule[0].model_copy(update={
        "resource": f"offer:{EVIL}/{EVIL}", "site": EVIL,
        "runs": [*plan.schedule[0].runs, evil_run]})
    html = render_html(plan.model_copy(update={"schedule": [pool, *plan.schedule[1:]]}))
    assert "<script" not in html
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"
    assert section_of(html).count(escaped) >= 6


def test_use_over_time_steps_with_runs_and_outages() -> None:
    pool = PoolSchedule(
        resource="offer:onprem:x/n", site="onprem:x", unit="instances", capacity=4, peak=4,
        peak_at=Decimal(5),
        runs=[Run(workload="a", stage="training", offer="n", start=Decimal(0), end=Decimal(10),
                  amount=2),
              Run(workload="b", stage="training", offer="n", start=Decimal(10),
                  end=Decimal("12.5"), amount=3)],
        outages=[Window(start=Decimal(5), end=Decimal(10), amount=2)])
    assert levels(pool) == [Level(0, 2, 0), Level(5, 2, 2), Level(10, 3, 0), Level(12.5, 0, 0)]
    assert max(lv.held + lv.down for lv in levels(pool)) == pool.peak


def test_resampling_keeps_every_peak() -> None:
    steps = [Level(float(t), 1 + (t % 7 == 3) * 5, int(t % 50 == 0)) for t in range(5000)]
    coarse = resample(steps, 5000, 100)
    assert len(coarse) == 100
    assert max(lv.held for lv in coarse) == 6 and max(lv.down for lv in coarse) == 1
    assert all(lv.held == 6 for lv in coarse)  # every bucket of 50 hours holds a spike
    assert resample(steps[:10], 5000, 100) == steps[:10]


@pytest.mark.parametrize(("hours", "start"), [
    (730, START), (730, None), (24, START), (8760, START), (100_000, None), (3, None)])
def test_time_axis_ticks_are_few_ordered_and_inside(hours: int, start: datetime | None) -> None:
    ticks = Axis(float(hours), start).ticks()
    at = [t for t, _ in ticks]
    assert 2 <= len(ticks) <= MAX_TICKS + 1
    assert at == sorted(at) and at[0] >= 0 and at[-1] <= hours
    labels = [label for _, label in ticks]
    assert len(set(labels)) == len(labels)
    if start is None:
        assert all(label.startswith("h ") for label in labels)
    else:
        assert all(label[:2] in ("20", "01") for label in labels), labels


def test_many_runs_are_summarized_and_the_page_stays_small() -> None:
    plan = carmaker()
    runs = [Run(workload=f"w{i}", stage="training", offer="hgx-h100", start=Decimal(i % 700),
                end=Decimal(i % 700 + 5), amount=1) for i in range(5000)]
    many = [p.model_copy(update={"runs": runs, "resource": f"offer:onprem:s{k}/n",
                                 "site": f"onprem:s{k % 7}"}) for k, p in
            enumerate(plan.schedule * 20)]
    html = render_html(plan.model_copy(update={"schedule": many}), limits=Limits(lanes=30))
    section = section_of(html)
    pools = section.split('<figure class="pool" id="pool-')[1:]
    assert sum(f.count('<g class="run">') for f in pools) == 30 * Limits().pools
    assert "Showing the first 30 of 5,000 runs" in section
    assert f"Showing the {Limits().pools} fullest of {len(many)} pools" in section
    assert len(html.encode()) < 5 * 1024 * 1024


def test_the_totals_show_the_late_penalty() -> None:
    plan = carmaker()
    plan = plan.model_copy(update={"totals": plan.totals.model_copy(
        update={"late_penalty_usd": Decimal("600")})})
    assert "objective also weighs late penalty: $600.00" in render_html(plan)


def test_gangs_are_named() -> None:
    plan = carmaker()
    p = plan.placements[0].model_copy(update={"nodes_per_replica": 4, "replicas": 1})
    html = render_html(plan.model_copy(update={"placements": [p, *plan.placements[1:]]}))
    assert "<small>1 gang of 4 nodes</small>" in html


# --- planner report / explain on plan files -----------------------------------------------

def _write(tmp: Path, plan: Plan) -> Path:
    path = tmp / "plan.json"
    path.write_text(plan.model_dump_json(indent=2))
    return path


def _explain(*args: str) -> str:
    result = CliRunner(env=TERMINAL).invoke(cli, ["explain", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("width", [40, 60, 100, 120, 160])
def test_explain_shows_start_and_end_and_hours_late(width: int, tmp_path: Path) -> None:
    plan = carmaker()
    plan = plan.model_copy(update={"totals": plan.totals.model_copy(
        update={"late_penalty_usd": Decimal("600")})})
    out = _explain(str(_write(tmp_path, plan)), "--width", str(width))
    assert max(len(line) for line in out.splitlines()) <= width
    flat = re.sub(r"[│┃\s]+", " ", out)
    for p in plan.placements:
        assert p.start_at is not None
        assert f"{p.start_at:%Y-%m-%d %H:%M}" in flat, (p.workload, p.stage)
    assert "12 h late" in flat
    assert "late penalty $600.00 (objective only)" in flat
    assert "nodes_per_replica" not in out and "late_hours" not in out


def test_explain_in_hours_without_dates(tmp_path: Path) -> None:
    out = _explain(str(_write(tmp_path, carmaker(start=None))))
    assert "h 0 → h 600" in out and "h 600 → h 630" in out
    assert max(len(line) for line in out.splitlines()) <= 120


def test_explain_json_carries_the_timeline(tmp_path: Path) -> None:
    plan = carmaker()
    data = json.loads(_explain(str(_write(tmp_path, plan)), "--json"))
    assert data["horizon"] == {"start": "2027-01-04T00:00:00Z", "hours": "730"}
    for p, e in zip(plan.placements, data["placements"], strict=True):
        assert Decimal(e["start"]) == p.start and Decimal(e["end"]) == p.end
        assert p.start_at is not None
        assert e["start_at"] == p.start_at.isoformat().replace("+00:00", "Z")
        assert e["late_hours"] == p.late_hours
        assert e["nodes_per_replica"] == p.nodes_per_replica


def test_report_command_draws_the_schedule(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["report", str(_write(tmp_path, carmaker())), "-o",
                                      str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    section = section_of(out.read_text("utf-8"))
    assert section.count('<g class="run">') == 5 + 10  # the pools' runs, every placement


@needs_chromium
def test_the_gantt_renders_in_chromium(tmp_path: Path) -> None:
    plan = carmaker()
    html = tmp_path / "report.html"
    html.write_text(render_html(plan, dated_portfolio()), "utf-8")
    page = open_in_chromium(html, tmp_path)
    assert page.console == [], "\n".join(page.console)
    assert page.requests == [], f"the report requested {page.requests}"
    dom = section_of(page.dom)
    runs = sum(len(p.runs) for p in plan.schedule)
    assert dom.count('class="bar"') == runs + len(plan.placements)
    assert dom.count('<svg class="chart utilization"') == len(plan.schedule)
    assert "perception-v7 / training" in dom


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 20), st.integers(1, 4),
                          st.booleans()), max_size=12))
def test_use_over_time_matches_counting_at_every_hour(items: list[tuple[int, int, int, bool]]
                                                       ) -> None:
    """Brute force: at every hour, the level in effect counts the runs and outages then."""
    runs = [Run(workload="w", stage=str(k), offer="n", start=Decimal(s), end=Decimal(s + d),
                amount=n) for k, (s, d, n, down) in enumerate(items) if not down]
    outages = [Window(start=Decimal(s), end=Decimal(s + d), amount=n)
               for s, d, n, down in items if down]
    pool = PoolSchedule(resource="offer:onprem:x/n", site="onprem:x", unit="instances",
                        capacity=4, peak=0, peak_at=Decimal(0), runs=runs, outages=outages)
    steps = levels(pool)
    assert [lv.at for lv in steps] == sorted({lv.at for lv in steps})
    for hour in range(75):
        level = next(lv for lv in reversed(steps) if lv.at <= hour)
        assert level.held == sum(r.amount for r in runs if r.start <= hour < r.end)
        assert level.down == sum(o.amount for o in outages if o.start <= hour < o.end)


def test_the_legend_names_only_what_is_drawn() -> None:
    def legend_of(html: str) -> str:
        match = re.search(r'<svg class="chart legend".*?</svg>', html, re.S)
        assert match
        return match.group(0)

    full = legend_of(render_html(carmaker(), dated_portfolio()))
    for text in ("training", "testing", "inference", "down (outage)", "units held",
                 "earliest start", "deadline (dashed: soft)", "capacity"):
        assert f">{text}</text>" in full
    bare = legend_of(render_html(carmaker().model_copy(update={"schedule": []})))
    assert ">training</text>" in bare
    for text in ("down (outage)", "units held", "earliest start", "capacity"):
        assert f">{text}</text>" not in bare


def test_the_use_over_time_is_drawn_as_steps_up_to_the_capacity() -> None:
    pool = PoolSchedule(
        resource="offer:onprem:x/n", site="onprem:x", unit="instances", capacity=4, peak=4,
        peak_at=Decimal(5),
        runs=[Run(workload="a", stage="training", offer="n", start=Decimal(0),
                  end=Decimal(10), amount=2)],
        outages=[Window(start=Decimal(5), end=Decimal(10), amount=2)])
    svg = utilization(pool, Axis(20.0, None), levels(pool), uid=0)
    held = re.search(r'<path class="held" d="([^"]+)"', svg)
    assert held and re.fullmatch(r"M[\d.]+,[\d.]+([HV][\d.]+)+Z", held.group(1))
    assert held.group(1).count("H") == 2 * len(levels(pool))
    cap = re.search(r'<line class="capacity" x1="[\d.]+" y1="([\d.]+)"', svg)
    ys = [float(v) for v in re.findall(r"V([\d.]+)", held.group(1))]
    assert cap and min(ys) == pytest.approx(float(cap.group(1)))  # 2 held + 2 down = 4
