"""What-if scenarios and plan diffs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from builders import NOW, portfolio, small_catalog, solve, training, workload
from click.testing import CliRunner

from planner import api
from planner.cli.main import cli
from planner.compile.resolve import build_world
from planner.errors import InputError
from planner.models.world import Purchase
from planner.plans.diff import diff_plans
from planner.whatif import Scenario, ScenarioFile, apply_scenario, run_whatif, summarize

REPO = Path(__file__).resolve().parent.parent


def _base():  # type: ignore[no-untyped-def]
    w = workload("w", [training()], jurisdictions=["EU"])
    w["dataset"]["classes"] = ["health"]
    p = portfolio([w])
    return p, build_world(p, [small_catalog()], now=NOW)


def test_price_multiplier_and_lost_site_move_the_stage() -> None:
    p, world = _base()
    base = solve(p)
    assert base.placements[0].site == "aws:eu-west-1"
    sc = Scenario(name="x", price_multipliers=[{"site": "aws:eu-west-1", "factor": "1.5"}])
    _, w2 = apply_scenario(p, world, sc)
    assert w2.offer("aws:eu-west-1", "g.a100").price_per_hour == Decimal("54.0")
    assert world.offer("aws:eu-west-1", "g.a100").price_per_hour == Decimal("36")  # unchanged
    report = run_whatif(p, world, ScenarioFile(scenarios=[
        sc, Scenario(name="lost", sites_lost=["aws:eu-west-1"]),
        Scenario(name="law", regulations=[{"data_class": "health",
                                           "remove_jurisdictions": ["EU"],
                                           "replace_with": ["FR"]}])]),
        executor="serial", time_limit_s=5)
    by = {r.name: r for r in report.scenarios}
    assert by["x"].moved == ["w/training"] and by["x"].delta_usd == Decimal("40")
    assert by["lost"].moved == ["w/training"]
    assert by["law"].status == "infeasible" and by["law"].conflicts


def test_a_regulation_bans_its_jurisdictions_also_inside_wider_ones() -> None:
    """Removing IE from health data allowed in the EU changed nothing (no literal IE in
    the workload's list) and the what-if said Δ $0; now the IE sites are off its list."""
    p, world = _base()
    law = Scenario(name="no-ie", regulations=[{"data_class": "health",
                                               "remove_jurisdictions": ["IE"]}])
    p2, _ = apply_scenario(p, world, law)
    assert p2.workloads[0].residency.sites == ["aws:eu-central-1"]
    assert p2.workloads[0].residency.jurisdictions == ["EU"]
    report = run_whatif(p, world, ScenarioFile(scenarios=[law]), executor="serial",
                        time_limit_s=5)
    (got,) = report.scenarios
    assert got.moved == ["w/training"] and got.delta_usd == Decimal("40")
    bound = portfolio([{**workload("v", [training()], sites=["aws:eu-west-1"]),
                        "dataset": {"size_gb": 0, "home": "aws:us-east-1",
                                    "classes": ["health"]}}])
    with pytest.raises(InputError, match="leaves workload 'v' no allowed site"):
        apply_scenario(bound, build_world(bound, [small_catalog()], now=NOW), law)
    in_ie = portfolio([{**workload("u", [training()], countries=["IE"]),
                        "dataset": {"size_gb": 0, "home": "aws:us-east-1",
                                    "classes": ["health"]}}])  # countries, not sites
    with pytest.raises(InputError, match="leaves workload 'u' no allowed site"):
        apply_scenario(in_ie, build_world(in_ie, [small_catalog()], now=NOW), law)
    # a stage's own residency replaces its workload's: the regulation reaches it too
    own = portfolio([{**workload("s", [{**training(), "residency": {"jurisdictions": ["EU"]}}]),
                      "dataset": {"size_gb": 0, "home": "aws:us-east-1", "classes": ["health"]}}])
    p3, _ = apply_scenario(own, build_world(own, [small_catalog()], now=NOW), law)
    stage_residency = p3.workloads[0].stages[0].residency
    assert stage_residency is not None and stage_residency.sites == ["aws:eu-central-1"]


def test_diff_reports_moves_and_deltas() -> None:
    a = solve(portfolio([workload("w", [training()], jurisdictions=["EU"])]))
    b = solve(portfolio([workload("w", [training()])]))
    d = diff_plans(a, b)
    assert [m.workload for m in d.moved] == ["w"]
    assert d.delta_usd == Decimal("-60")
    assert d.delta_by_site == {"aws:eu-west-1": Decimal("-360"), "aws:us-east-1": Decimal("300")}


def test_a_scenario_plan_names_its_scenario_and_is_no_plan_of_the_base_inputs() -> None:
    """A scenario that changes only prices left the plan's input digests as the base's:
    verify against the portfolio then failed rule by rule (exit 6), and diff gave no
    warning."""
    p, world = _base()
    report = run_whatif(p, world, ScenarioFile(scenarios=[Scenario(
        name="cheap", price_multipliers=[{"site": "aws:eu-west-1", "factor": "0.5"}])]),
        executor="serial", time_limit_s=5, keep_plans=True)
    base, cheap = report.base.plan, report.scenarios[0].plan
    assert base is not None and cheap is not None and cheap.inputs is not None
    assert cheap.inputs.scenario == "cheap" and base.inputs and base.inputs.scenario is None
    got = api.verify_report(p, cheap, [small_catalog()])
    assert got.foreign and "made under the what-if scenario 'cheap'" in got.foreign
    assert any("what-if scenario 'cheap'" in w for w in diff_plans(base, cheap).warnings)


def test_diff_tells_moves_from_purchase_and_instance_changes() -> None:
    """diff listed an on-demand → 3-year change at the same site and offer as a moved
    stage, which re-planning does not count (nor charge migration for)."""
    a = solve(portfolio([workload("w", [training()])]))
    p = a.placements[0]
    commit = p.model_copy(update={"purchase": Purchase.COMMIT_3Y})
    more = p.model_copy(update={"instances": p.instances + 1})
    elsewhere = p.model_copy(update={"site": "aws:eu-west-1"})
    for placement, moved in ((commit, False), (more, False), (elsewhere, True)):
        d = diff_plans(a, a.model_copy(update={"placements": [placement]}))
        assert [c.stage for c in (d.moved if moved else d.changed)] == ["training"]
        assert not (d.changed if moved else d.moved)


def test_diff_lists_a_stage_that_runs_at_another_time(tmp_path: Path) -> None:
    """A stage kept on its site and offer but shifted in time (a deadline moved, an outage
    added) was listed nowhere: diff said "no stage moved" and nothing else."""
    a = solve(portfolio([workload("w", [training()])]))
    p = a.placements[0]
    assert p.start is not None and p.end is not None
    later = p.model_copy(update={"start": p.start + 24, "end": p.end + 24})
    d = diff_plans(a, a.model_copy(update={"placements": [later]}))
    assert not d.moved and not d.changed
    assert [(r.stage, r.old_start, r.new_start) for r in d.rescheduled] \
        == [("training", p.start, p.start + 24)]
    assert not diff_plans(a, a).rescheduled
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(a.model_dump_json(), "utf-8")
    new.write_text(a.model_copy(update={"placements": [later]}).model_dump_json(), "utf-8")
    out = CliRunner().invoke(cli, ["diff", str(old), str(new)])
    assert out.exit_code == 0 and "rescheduled stages" in out.output
    assert "no stage moved (1 rescheduled)" in out.output
    # what-if counts it too (a scenario plan is summarized against the base by the diff)
    got = summarize("later", a.model_copy(update={"placements": [later]}), a, False)
    assert got.moved == [] and got.rescheduled == ["w/training"]


def test_whatif_cli_on_the_example(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, [
        "whatif", str(REPO / "examples" / "hospital-group.yaml"),
        str(REPO / "examples" / "scenarios.yaml"), "--catalogs", str(REPO / "catalogs"),
        "--executor", "serial", "--time-limit", "10", "--json"])
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    names = [s["name"] for s in data["scenarios"]]
    assert names == ["aws-gpu-prices-up-30pct", "second-dgx-in-berlin", "lose-stockholm",
                     "health-data-stays-in-germany"]
    status = {s["name"]: s["status"] for s in data["scenarios"]}
    assert status == {"aws-gpu-prices-up-30pct": "optimal", "second-dgx-in-berlin": "optimal",
                      "lose-stockholm": "optimal", "health-data-stays-in-germany": "partial"}
    lost = next(s for s in data["scenarios"] if s["name"] == "lose-stockholm")
    assert lost["moved"]
    # Germany-only health data: the bundle prices one German cloud region (aws:eu-central-1),
    # so sepsis-eu inference can no longer spread over two sites; the what-if says why.
    de = next(s for s in data["scenarios"] if s["name"] == "health-data-stays-in-germany")
    assert de["dropped"] == ["sepsis-eu"]  # the other workloads are still planned
    assert {c["rule"] for c in de["conflicts"]} == {
        "residency.jurisdictions:sepsis-eu", "spread:sepsis-eu/inference"}


def test_bad_scenario_names_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("scenarios:\n  - name: x\n    sites_lost: ['aws:eu-west-9']\n")
    res = CliRunner().invoke(cli, [
        "whatif", str(REPO / "examples" / "hospital-group.yaml"), str(bad),
        "--catalogs", str(REPO / "catalogs"), "--executor", "serial"])
    assert res.exit_code == 2
    assert "scenarios[0].sites_lost[0]" in res.stderr and "did you mean" in res.stderr


def test_auto_executor_runs_small_whatifs_serially() -> None:
    """Starting worker processes costs seconds: ``auto`` keeps small what-ifs in-process
    and goes parallel from PARALLEL_MIN_STAGE_PLANS stage-plans (measured, see whatif.py)."""
    from planner.whatif import PARALLEL_MIN_STAGE_PLANS, choose_executor

    assert choose_executor("auto", 10, 4, cores=2) == "serial"  # examples/scenarios.yaml
    assert choose_executor("auto", PARALLEL_MIN_STAGE_PLANS // 4 - 1, 4, cores=8) == "serial"
    assert choose_executor("auto", PARALLEL_MIN_STAGE_PLANS // 4, 4, cores=8) == "local"
    assert choose_executor("auto", 100_000, 1, cores=8) == "serial"  # nothing to overlap
    assert choose_executor("auto", 100_000, 8, cores=1) == "serial"
    for name in ("serial", "local", "ray"):
        assert choose_executor(name, 10, 4, cores=2) == name


def test_whatif_defaults_to_auto() -> None:
    import inspect

    from planner.cli.replan_cmd import whatif_cmd
    from planner.whatif import run_whatif

    assert inspect.signature(run_whatif).parameters["executor"].default == "auto"
    option = next(p for p in whatif_cmd.params if p.name == "executor")
    assert option.default == "auto"


def test_diff_reads_a_plan_s_naive_dates_as_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan's date-time without an offset is UTC (as the verifier reads it): the diff
    prints it as such, not moved by this machine's time zone, and does not call a stage
    rescheduled only because one plan writes its dates without the offset."""
    import time
    from datetime import UTC, datetime
    from decimal import Decimal

    from planner.cli.replan_cmd import _span

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        got = _span(Decimal(1), Decimal(2), datetime(2027, 1, 4, 8, 0))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got == "h 1–2 (from 2027-01-04 08:00 UTC)"
    assert _span(Decimal(1), Decimal(2), datetime(2027, 1, 4, 8, 0, tzinfo=UTC)) == got
    a = solve(portfolio([workload("w", [training()])],
                        settings={"horizon": {"start": "2027-01-04", "end": "2027-02-01"}}))
    p = a.placements[0]
    assert p.start_at is not None and p.end_at is not None and p.start_at.tzinfo
    naive = p.model_copy(update={"start_at": p.start_at.replace(tzinfo=None),
                                 "end_at": p.end_at.replace(tzinfo=None)})
    assert not diff_plans(a, a.model_copy(update={"placements": [naive]})).rescheduled


def test_diff_of_plans_whose_horizons_start_differently_says_how_it_compares() -> None:
    """The horizon-start warning compared the starts as written: one start written with and
    without its offset (one instant, which the rescheduled list treats as one) was
    "different times", and an undated plan against a dated one was said to count hours
    from "different instants" while the rescheduled list compared their hours as equal."""
    from datetime import timedelta

    a = solve(portfolio([workload("w", [training()])],
                        settings={"horizon": {"start": "2027-01-04", "end": "2027-02-01"}}))
    h, p = a.horizon, a.placements[0]
    assert h is not None and h.start is not None and p.start is not None
    assert p.end is not None and p.start_at is not None and p.end_at is not None
    naive = a.model_copy(update={"horizon": h.model_copy(
        update={"start": h.start.replace(tzinfo=None)})})
    d = diff_plans(a, naive)
    assert d.warnings == [] and d.rescheduled == []
    undated = a.model_copy(update={
        "horizon": h.model_copy(update={"start": None}),
        "placements": [p.model_copy(update={"start_at": None, "end_at": None})]})
    d = diff_plans(undated, a)
    assert d.rescheduled == []  # the same hours: compared as if from one start
    assert any("one plan dates its horizon and the other does not (old: undated, new: "
               "from 2027-01-04 00:00 UTC)" in w and "compared in hours" in w
               for w in d.warnings), d.warnings
    # a day earlier start, the stage at the same dates (24 h later in hours): not rescheduled
    day = timedelta(days=1)
    shifted = a.model_copy(update={
        "horizon": h.model_copy(update={"start": h.start - day}),
        "placements": [p.model_copy(update={"start": p.start + 24, "end": p.end + 24})]})
    d = diff_plans(a, shifted)
    assert d.rescheduled == []
    assert any("compared by their dates" in w for w in d.warnings), d.warnings
    same_hours = shifted.model_copy(update={"placements": [p]})  # a day earlier on the calendar
    assert [r.stage for r in diff_plans(a, same_hours).rescheduled] == ["training"]


def test_diff_says_how_it_compares_times_when_a_plan_has_no_schedule_or_inputs() -> None:
    """Without a horizon (a plan of an older planner) or without recorded inputs, the diff
    said nothing of how it compared times."""
    a = solve(portfolio([workload("w", [training()])],
                        settings={"horizon": {"start": "2027-01-04", "end": "2027-02-01"}}))
    old = a.model_copy(update={"horizon": None})
    assert any("one plan has no schedule" in w for w in diff_plans(old, a).warnings)
    undated = a.model_copy(update={"inputs": None, "horizon": a.horizon.model_copy(
        update={"start": None})}) if a.horizon is not None else a
    d = diff_plans(undated, a)
    assert any("does not record its inputs" in w for w in d.warnings)
    assert any("one plan dates its horizon and the other does not" in w for w in d.warnings)
