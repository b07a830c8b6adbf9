"""What-if scenarios on the calendar: a deadline moved, an outage at a site, more nodes from
a date; each checked against the portfolio (names, horizon, nodes), and their effect on
the exact schedule."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from builders import NOW, portfolio, small_catalog, training, workload
from click.testing import CliRunner

from planner.cli.main import cli
from planner.compile.arrays import build_problem
from planner.compile.calendar import at
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.compile.timing import build_timing
from planner.errors import InputError
from planner.models.portfolio import Portfolio
from planner.models.world import World
from planner.solvers.base import SolveOptions, SolveStatus
from planner.solvers.schedule_cpsat import solve_schedule
from planner.whatif import Scenario, ScenarioFile, apply_scenario, load_scenarios, run_whatif

OPTS = SolveOptions(time_limit_s=20, workers=1, deterministic=True)
HORIZON = {"horizon": {"start": "2027-01-01", "end": "2027-04-01"}}
SITE = "onprem:frankfurt"


def _fraud(nodes: int = 4, deadline: str | None = "2027-01-12",
           outages: list[dict[str, Any]] | None = None, dated: bool = True) -> Portfolio:
    """Training needs 4 nodes × 130 h at Frankfurt (its data may not leave)."""
    offer = {"id": "dgx-a100", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 128,
             "memory_gib": 1024, "price_per_hour": 20, "nodes": nodes,
             "outages": outages or []}
    stage = training(hours=130, gpus=32, nodes=4,  # a gang of 4 nodes at once
                     **({"deadline": deadline} if deadline else {}))
    w = workload("fraud-eu", [stage], home=SITE, sites=[SITE])
    return portfolio([w], settings=HORIZON if dated else {"period_hours": 730},
                     onprem=[{"id": SITE, "country": "DE", "offers": [offer]}])


def _apply(p: Portfolio, **changes: Any) -> tuple[Portfolio, World]:
    world = build_world(p, [small_catalog()], now=NOW)
    return apply_scenario(p, world, Scenario(name="x", **changes), 0)


def _error(p: Portfolio, **changes: Any) -> str:
    with pytest.raises(InputError) as err:
        _apply(p, **changes)
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def _hours(p: Portfolio, value: Any) -> Decimal:
    assert value is not None
    return at(p.settings, value)


def _status(p: Portfolio, world: World) -> SolveStatus:
    cands = generate(p, world)
    problem = build_problem(cands, world)
    timing = build_timing(p, cands, problem, world.gpu_quotas)
    return solve_schedule(problem, timing, OPTS).solution.status


# --- deadline moved ---------------------------------------------------------------------

def test_a_moved_deadline_changes_the_stage_and_leaves_the_base_alone() -> None:
    base = _fraud(nodes=2, deadline="2027-01-05")  # 2 nodes: not 4 at once
    p, _ = _apply(base, deadlines=[{"workload": "fraud-eu", "stage": "training",
                                    "deadline": "2027-02-01"}])
    assert _hours(p, p.workloads[0].stages[0].deadline) == 31 * 24
    assert _hours(base, base.workloads[0].stages[0].deadline) == 4 * 24
    tight = _fraud(deadline="2027-01-05")  # 130 h do not fit in the first 96 h
    assert _status(tight, build_world(tight, [small_catalog()], now=NOW)) \
        is SolveStatus.INFEASIBLE
    moved, w2 = _apply(tight, deadlines=[{"workload": "fraud-eu", "stage": "training",
                                          "deadline": "2027-01-07"}])
    assert _status(moved, w2) is SolveStatus.OPTIMAL


def test_a_deadline_set_to_null_is_removed_with_its_late_penalty() -> None:
    base = _fraud()
    stage = base.workloads[0].stages[0].model_copy(
        update={"late_penalty_usd_per_hour": Decimal(5)})
    w = base.workloads[0].model_copy(update={"stages": [stage]})
    base = base.model_copy(update={"workloads": [w]})
    p, _ = _apply(base, deadlines=[{"workload": "fraud-eu", "stage": "training",
                                    "deadline": None}])
    st = p.workloads[0].stages[0]
    assert st.deadline is None and st.late_penalty_usd_per_hour is None


def test_deadline_changes_name_unknown_workloads_and_stages_with_a_suggestion() -> None:
    p = _fraud()
    text = _error(p, deadlines=[{"workload": "fraud-ue", "stage": "training",
                                 "deadline": "2027-02-01"}])
    assert "scenarios[0].deadlines[0].workload" in text and "did you mean 'fraud-eu'" in text
    text = _error(p, deadlines=[{"workload": "fraud-eu", "stage": "trainig",
                                 "deadline": "2027-02-01"}])
    assert "scenarios[0].deadlines[0].stage" in text and "did you mean 'training'" in text


def test_deadline_outside_the_horizon_or_before_the_window_is_refused() -> None:
    p = _fraud()
    text = _error(p, deadlines=[{"workload": "fraud-eu", "stage": "training",
                                 "deadline": "2027-05-01"}])
    assert "scenarios[0].deadlines[0].deadline" in text and "outside the horizon" in text
    undated = _fraud(dated=False, deadline=None)
    text = _error(undated, deadlines=[{"workload": "fraud-eu", "stage": "training",
                                       "deadline": "2027-02-01"}])
    assert "needs a horizon start" in text and "settings.horizon.start" in text
    p2, _ = _apply(undated, deadlines=[{"workload": "fraud-eu", "stage": "training",
                                        "deadline": 500}])  # hours work without a start
    assert p2.workloads[0].stages[0].deadline == Decimal(500)
    st = p.workloads[0].stages[0].model_copy(update={"earliest_start": Decimal(200)})
    windowed = p.model_copy(update={"workloads": [
        p.workloads[0].model_copy(update={"stages": [st]})]})
    text = _error(windowed, deadlines=[{"workload": "fraud-eu", "stage": "training",
                                        "deadline": 100}])
    assert "not after" in text and "earliest_start" in text


def test_a_scenario_keeps_the_rules_a_portfolio_file_must() -> None:
    """An inference deadline moved to the horizon end (a go-live that never serves) was
    accepted and planned as an empty run: exit 6, "a planner bug"."""
    serve = {"kind": "inference", "hours": 100, "gpu": {"models": {"L4": 1.0}, "count": 1}}
    w = workload("fraud-eu", [training(hours=10, gpus=8), serve])
    p = portfolio([w], settings={"period_hours": 730})
    text = _error(p, deadlines=[{"workload": "fraud-eu", "stage": "inference",
                                 "deadline": 730}])
    assert "scenarios[0]" in text and "workloads[0].stages[1].deadline" in text
    assert "at or after the horizon end" in text


# --- outage at a site -------------------------------------------------------------------

def test_an_outage_is_added_to_the_node_class_and_can_break_the_schedule() -> None:
    base = _fraud(deadline="2027-01-20")
    world = build_world(base, [small_catalog()], now=NOW)
    assert _status(base, world) is SolveStatus.OPTIMAL
    p, w2 = _apply(base, outages=[{"site": SITE, "offer": "dgx-a100", "from": "2027-01-03",
                                   "to": "2027-01-18", "nodes": 1}])
    (out,) = p.onprem[0].offers[0].outages
    assert out.nodes == 1 and _hours(p, out.from_) == 2 * 24 and _hours(p, out.to) == 17 * 24
    assert base.onprem[0].offers[0].outages == []
    assert _status(p, w2) is SolveStatus.INFEASIBLE  # 4 nodes free only 2–3 Jan and from 18 Jan


def test_outage_names_and_times_are_checked() -> None:
    p = _fraud()
    ok = {"site": SITE, "offer": "dgx-a100", "from": "2027-01-03", "to": "2027-01-05",
          "nodes": 1}
    text = _error(p, outages=[{**ok, "site": "onprem:frankfrut"}])
    assert "scenarios[0].outages[0].site" in text and f"did you mean '{SITE}'" in text
    text = _error(p, outages=[{**ok, "offer": "dgx-a10"}])
    assert "scenarios[0].outages[0].offer" in text and "did you mean 'dgx-a100'" in text
    text = _error(p, outages=[{**ok, "site": "aws:eu-central-1"}])
    assert "scenarios[0].outages[0].site" in text and "is a cloud region" in text
    text = _error(p, outages=[{**ok, "from": "2027-05-01", "to": "2027-06-01"}])
    assert "scenarios[0].outages[0].from" in text and "outside the horizon" in text
    text = _error(p, outages=[{**ok, "from": "2026-11-01", "to": "2026-12-01"}])
    assert "scenarios[0].outages[0].from" in text and "outside the horizon" in text
    text = _error(p, outages=[{**ok, "to": "2027-01-02"}])
    assert "scenarios[0].outages[0].to" in text and "not after it starts" in text
    no_onprem = portfolio([workload("w", [training()])], settings=HORIZON)
    text = _error(no_onprem, outages=[ok])
    assert "no on-prem sites" in text
    text = _error(no_onprem, outages=[{**ok, "site": "aws:eu-central-1"}])
    assert "is a cloud region" in text


def test_outages_may_not_take_more_nodes_than_exist() -> None:
    # 4 nodes, 3 already down 1–8 Jan: another 2 overlapping is one too many.
    p = _fraud(outages=[{"from": "2027-01-01", "to": "2027-01-08", "nodes": 3}])
    text = _error(p, outages=[{"site": SITE, "offer": "dgx-a100", "from": "2027-01-05",
                               "to": "2027-01-10", "nodes": 2}])
    assert "scenarios[0].outages[0].nodes" in text and "take 5 nodes" in text
    assert "has 4" in text
    _apply(p, outages=[{"site": SITE, "offer": "dgx-a100", "from": "2027-01-08",
                        "to": "2027-01-10", "nodes": 2}])  # back to back: fine
    text = _error(p, capacity=[{"site": SITE, "offer": "dgx-a100", "instances": 2}])
    assert "scenarios[0].capacity[0].instances" in text and "take 3 nodes" in text


def test_outages_count_the_nodes_a_capacity_change_of_the_scenario_sets() -> None:
    # 4 nodes, 3 down 1–8 Jan; the scenario grows the class to 6: 3 more down then fit.
    p = _fraud(outages=[{"from": "2027-01-01", "to": "2027-01-08", "nodes": 3}])
    grown = [{"site": SITE, "offer": "dgx-a100", "instances": 6}]
    more = [{"site": SITE, "offer": "dgx-a100", "from": "2027-01-05", "to": "2027-01-10",
             "nodes": 3}]
    changed, world = _apply(p, capacity=grown, outages=more)
    assert changed.onprem[0].offers[0].nodes == 6
    live = world.offer(SITE, "dgx-a100")
    assert live is not None and live.capacity == 6
    text = _error(p, capacity=grown, outages=[{**more[0], "nodes": 4}])
    assert "scenarios[0].outages[0].nodes" in text and "has 6" in text
    # nodes added from a date come on top of the changed count, in both
    changed, world = _apply(p, capacity=grown, more_nodes=[
        {"site": SITE, "offer": "dgx-a100", "nodes": 1, "from": "2027-01-20"}])
    live = world.offer(SITE, "dgx-a100")
    assert changed.onprem[0].offers[0].nodes == 7 and live is not None and live.capacity == 7


# --- more nodes from a date -------------------------------------------------------------

def test_more_nodes_from_a_date_are_nodes_plus_an_outage_until_then() -> None:
    base = _fraud(nodes=2, deadline="2027-01-20")
    p, world = _apply(base, more_nodes=[{"site": SITE, "offer": "dgx-a100", "nodes": 2,
                                         "from": "2027-01-10"}])
    offer = p.onprem[0].offers[0]
    assert offer.nodes == 4
    (out,) = offer.outages
    assert out.nodes == 2 and at(p.settings, out.from_) == 0
    assert at(p.settings, out.to) == 9 * 24
    live = world.offer(SITE, "dgx-a100")
    assert live is not None and live.capacity == 4
    # 2 nodes cannot run the 4-node job; 4 from 10 Jan can (130 h end on 15 Jan) …
    assert _status(base, build_world(base, [small_catalog()], now=NOW)) \
        is SolveStatus.INFEASIBLE
    assert _status(p, world) is SolveStatus.OPTIMAL
    # … but not when they arrive on 16 Jan (done on 21 Jan, after the deadline).
    late, w3 = _apply(base, more_nodes=[{"site": SITE, "offer": "dgx-a100", "nodes": 2,
                                         "from": "2027-01-16"}])
    assert _status(late, w3) is SolveStatus.INFEASIBLE


def test_more_nodes_from_the_horizon_start_need_no_outage() -> None:
    p, _ = _apply(_fraud(), more_nodes=[{"site": SITE, "offer": "dgx-a100", "nodes": 1,
                                         "from": 0}])
    assert p.onprem[0].offers[0].nodes == 5 and p.onprem[0].offers[0].outages == []


def test_more_nodes_are_checked_like_outages() -> None:
    p = _fraud()
    text = _error(p, more_nodes=[{"site": SITE, "offer": "dgx", "nodes": 1,
                                  "from": "2027-01-10"}])
    assert "scenarios[0].more_nodes[0].offer" in text and "did you mean 'dgx-a100'" in text
    text = _error(p, more_nodes=[{"site": SITE, "offer": "dgx-a100", "nodes": 1,
                                  "from": "2028-01-10"}])
    assert "scenarios[0].more_nodes[0].from" in text and "outside the horizon" in text
    text = _error(p, more_nodes=[{"site": SITE, "offer": "dgx-a100", "nodes": 10_000_000,
                                  "from": 0}])
    assert "scenarios[0].more_nodes[0].nodes" in text and "10,000,000" in text


def test_scenario_file_with_calendar_changes_parses_and_bad_input_is_one_line(
        tmp_path: Path) -> None:
    good = tmp_path / "s.yaml"
    good.write_text(
        "scenarios:\n"
        "  - name: maintenance\n"
        "    outages: [{site: 'onprem:frankfurt', offer: dgx-a100, from: 2027-01-20,"
        " to: 2027-01-27, nodes: 2}]\n"
        "    more_nodes: [{site: 'onprem:frankfurt', offer: dgx-a100, nodes: 2,"
        " from: 2027-02-01}]\n"
        "    deadlines: [{workload: fraud-eu, stage: training, deadline: 2027-03-01}]\n")
    sc = load_scenarios(good).scenarios[0]
    assert sc.outages[0].nodes == 2 and sc.more_nodes[0].nodes == 2
    assert sc.deadlines[0].deadline is not None
    base = tmp_path / "p.yaml"
    base.write_text(_fraud().model_dump_json(by_alias=True, exclude_none=True,
                                             exclude={"settings": {"period_hours"}}))
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("stage: training", "stage: trainnig"))
    res = CliRunner().invoke(cli, ["whatif", str(base), str(bad), "--executor", "serial"])
    assert res.exit_code == 2, res.output
    assert "scenarios[0].deadlines[0].stage" in res.stderr and "did you mean" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_the_guide_example_parses_and_applies(tmp_path: Path) -> None:
    guide = (Path(__file__).resolve().parent.parent / "planner" / "docs" / "guide.md")
    text = guide.read_text()
    block = text[text.index("scenarios:\n  - name: fraud-retrain"):]
    path = tmp_path / "s.yaml"
    path.write_text(block[:block.index("```")])
    scenarios = load_scenarios(path).scenarios
    assert [s.name for s in scenarios] == ["fraud-retrain-a-week-earlier",
                                           "frankfurt-maintenance", "second-pod-in-february"]
    base = _fraud()
    world = build_world(base, [small_catalog()], now=NOW)
    for i, sc in enumerate(scenarios):
        apply_scenario(base, world, sc, i)


# --- end to end: what-if re-plans (verified plans) -------------------------------------

def test_whatif_replans_outages_deadlines_and_new_nodes_in_time() -> None:
    other = workload("other", [training(hours=10, gpus=8)])
    base = _fraud(nodes=2, deadline="2027-01-20")
    base = base.model_copy(update={"workloads": [*base.workloads,
                                                 portfolio([other]).workloads[0]]})
    world = build_world(base, [small_catalog()], now=NOW)
    change = {"site": SITE, "offer": "dgx-a100"}
    report = run_whatif(base, world, ScenarioFile(scenarios=[
        Scenario(name="pod", more_nodes=[{**change, "nodes": 2, "from": "2027-01-10"}]),
        Scenario(name="pod-late", more_nodes=[{**change, "nodes": 2, "from": "2027-01-16"}]),
        Scenario(name="pod-and-maintenance",
                 more_nodes=[{**change, "nodes": 2, "from": "2027-01-02"}],
                 outages=[{**change, "from": "2027-01-03", "to": "2027-01-18", "nodes": 1}]),
        Scenario(name="pod-and-later-deadline",
                 more_nodes=[{**change, "nodes": 2, "from": "2027-01-16"}],
                 deadlines=[{"workload": "fraud-eu", "stage": "training",
                             "deadline": "2027-02-01"}]),
    ]), executor="serial", time_limit_s=10, keep_plans=True)
    assert report.base.dropped == ["fraud-eu"]  # 2 nodes never run a 4-node job
    by = {r.name: r for r in report.scenarios}
    assert by["pod"].status == "optimal" and by["pod"].dropped == []
    plan = by["pod"].plan
    assert plan is not None
    train = next(p for p in plan.placements if p.workload == "fraud-eu")
    assert train.start is not None and train.start >= 9 * 24  # not before the pod is in
    assert by["pod-late"].dropped == ["fraud-eu"]
    assert {"deadline:fraud-eu/training", "outage:onprem:frankfurt/dgx-a100#0"} <= {
        c.rule for c in by["pod-late"].conflicts}
    rules = {c.rule for c in by["pod-and-maintenance"].conflicts}
    assert by["pod-and-maintenance"].dropped == ["fraud-eu"]
    assert {"deadline:fraud-eu/training", "outage:onprem:frankfurt/dgx-a100#1"} <= rules
    assert by["pod-and-later-deadline"].status == "optimal"


def test_an_inference_deadline_moved_is_its_go_live() -> None:
    """An inference stage goes live at one fixed hour: a scenario may move its deadline to
    its earliest_start (refused before as "not after"), but not elsewhere, where it could
    have no effect (accepted and ignored before)."""
    serve = {"kind": "inference", "hours": 100, "gpu": {"models": {"L4": 1.0}, "count": 1},
             "earliest_start": 300}
    w = workload("fraud-eu", [training(hours=10, gpus=8), serve])
    p = portfolio([w], settings={"period_hours": 730})
    moved, _ = _apply(p, deadlines=[{"workload": "fraud-eu", "stage": "inference",
                                     "deadline": 300}])
    assert moved.workloads[0].stages[1].deadline == Decimal(300)
    text = _error(p, deadlines=[{"workload": "fraud-eu", "stage": "inference",
                                 "deadline": 500}])
    assert "scenarios[0].deadlines[0].deadline" in text and "could have no effect" in text
    assert "earliest_start hour 300 sets it" in text
