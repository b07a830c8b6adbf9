"""The calendar of a portfolio: horizon, stage windows, precedence, outages — parsed into
hours from the horizon start, and every mistake one line with its path in the input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner import api
from planner.errors import PlannerError
from planner.models.calendar import hours_from_start
from planner.models.portfolio import Portfolio


def _stage(kind: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"kind": kind, "hours": 100}
    if kind != "inference":
        base["gpu"] = {"models": {"A100-80GB": 1.0}, "count": 1}
    return {**base, **kw}


def _portfolio(stages: list[dict[str, Any]], settings: dict[str, Any] | None = None,
               onprem: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"name": "calendar", "settings": settings or {},
            "onprem": onprem or [],
            "workloads": [{"id": "fraud", "team": "risk",
                           "dataset": {"size_gb": 1, "home": "aws:us-east-1"},
                           "stages": stages}]}


def _load(tmp_path: Path, data: dict[str, Any]) -> Portfolio:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    return api.load_portfolio(path)


def _error(tmp_path: Path, data: dict[str, Any]) -> str:
    with pytest.raises(PlannerError) as err:
        _load(tmp_path, data)
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    return text


HORIZON = {"horizon": {"start": "2027-01-01", "end": "2027-04-01"}}


def test_dates_become_hours_from_the_horizon_start(tmp_path: Path) -> None:
    p = _load(tmp_path, _portfolio(
        [_stage("training", earliest_start="2027-01-08", deadline="2027-02-01T12:00:00Z"),
         _stage("testing", deadline=1500), _stage("inference", deadline="2027-03-01")],
        HORIZON))
    assert p.settings.period_hours == Decimal(90 * 24)  # the horizon's length
    start = p.settings.horizon.start if p.settings.horizon else None
    train = p.workloads[0].stages[0]
    assert train.earliest_start is not None and train.deadline is not None
    assert hours_from_start(train.earliest_start, start) == 168
    assert hours_from_start(train.deadline, start) == 31 * 24 + 12
    assert hours_from_start(Decimal(1500), start) == 1500


def test_the_pipeline_order_is_the_default_precedence(tmp_path: Path) -> None:
    w = _load(tmp_path, _portfolio([_stage("training"), _stage("testing"),
                                    _stage("inference")])).workloads[0]
    train, test, serve = w.stages
    assert w.predecessors(train) == []
    assert w.predecessors(test) == [train]
    assert w.predecessors(serve) == [test]
    w2 = _load(tmp_path, _portfolio([_stage("training"), _stage("testing"),
                                     _stage("inference", after=[])])).workloads[0]
    assert w2.predecessors(w2.stages[2]) == []


@pytest.mark.parametrize(("stages", "settings", "where", "what"), [
    ([_stage("training", deadline="2027-02-01")], {}, "workloads[0].stages[0].deadline",
     "needs settings.horizon.start"),
    ([_stage("training", earliest_start=500, deadline=400)], {},
     "workloads[0].stages[0].deadline", "not after earliest_start"),
    ([_stage("training", deadline="2028-01-01")], HORIZON, "workloads[0].stages[0].deadline",
     "outside the horizon"),
    ([_stage("training"), _stage("testing", after=["trainign"])], {},
     "workloads[0].stages[1].after[0]", "did you mean 'training'"),
    ([_stage("training", after=["testing"]), _stage("testing")], {},
     "workloads[0].stages[0].after", "precedence cycle"),
    # another workload's stage: no order between workloads (it suggested 'training')
    ([_stage("training"), _stage("testing", after=["other/training"])], {},
     "workloads[0].stages[1].after[0]", "`after` names stages of this workload only"),
    # read once, a repeated name or a transfer with no source would pass unnoticed
    ([_stage("training"), _stage("testing", after=["training", "training"])], {},
     "workloads[0].stages[1].after[1]", "named twice"),
    ([_stage("training", transfer_hours=12), _stage("testing")], {},
     "workloads[0].stages[0].transfer_hours", "no predecessor"),
    ([_stage("training"), _stage("testing", after=[], transfer_hours=12)], {},
     "workloads[0].stages[1].transfer_hours", "no predecessor"),
    ([_stage("training", late_penalty_usd_per_hour=10)], {}, "workloads[0].stages[0]",
     "needs a deadline"),
    ([_stage("training", nodes=4, max_nodes=8)], {}, "workloads[0].stages[0]",
     "not both"),
    ([_stage("training")], {"horizon": {"start": "2027-01-01", "end": "2027-02-01"},
                            "period_hours": 730}, "settings.period_hours", "not both"),
    ([_stage("training")], {"horizon": {"start": "2027-02-01", "end": "2027-01-01"}},
     "settings", "must be after its start"),
    # a number is hours, never seconds since 1970, even out of range
    ([_stage("training", earliest_start=-10)], HORIZON,
     "workloads[0].stages[0].earliest_start", "at least 0 and at most 87,600 hours"),
    ([_stage("training", deadline=99999)], HORIZON, "workloads[0].stages[0].deadline",
     "too large"),
    ([_stage("training", deadline=float("nan"))], HORIZON, "workloads[0].stages[0].deadline",
     "not a finite number"),
    # the horizon is on the calendar: a number there is no date (nor seconds since 1970)
    ([_stage("training")], {"horizon": {"start": 0, "end": 744}}, "settings.horizon.start",
     "expected a date"),
    ([_stage("training")], {"horizon": {"start": "2027-01-04", "end": "744"}},
     "settings.horizon.end", "not the number 744"),
    # text that is no date: one error at the field (no ".datetime" of pydantic's union
    # in the path, no "and 2 more errors"), naming the formats
    ([_stage("training", deadline="26.03.2027")], HORIZON, "workloads[0].stages[0].deadline:",
     "not a date: write a date (2027-03-01), a date-time (2027-03-01T08:00:00Z) or hours"),
    ([_stage("training", earliest_start="2027/01/08")], HORIZON,
     "workloads[0].stages[0].earliest_start: not a date", "(got '2027/01/08')"),
    ([_stage("training")], {"horizon": {"start": "04-01-2027"}}, "settings.horizon.start:",
     "not a date: write a date (2027-03-01) or a date-time"),
    # dates a plan's dates could not be computed from (Python's years 1-9999)
    ([_stage("training")], {"horizon": {"start": "9999-12-31"}}, "settings.horizon",
     "outside the years 1900–9000"),
    ([_stage("training")], {"horizon": {"start": "0001-01-01T00:00:00+01:00"}},
     "settings.horizon", "outside the years"),
])
def test_calendar_mistakes_name_their_path(tmp_path: Path, stages: list[dict[str, Any]],
                                           settings: dict[str, Any], where: str,
                                           what: str) -> None:
    text = _error(tmp_path, _portfolio(stages, settings))
    assert where in text and what in text, text


def test_outages_are_checked_against_the_node_class(tmp_path: Path) -> None:
    site = {"id": "onprem:dc1", "country": "DE", "offers": [
        {"id": "dgx", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 128,
         "memory_gib": 1024, "price_per_hour": 20, "nodes": 4,
         "outages": [{"from": "2027-02-01", "to": "2027-02-03", "nodes": 6}]}]}
    text = _error(tmp_path, _portfolio([_stage("training")], HORIZON, [site]))
    assert "onprem[0].offers[0].outages[0].nodes" in text and "has 4" in text
    site["offers"][0]["outages"] = [{"from": 300, "to": 200, "nodes": 1}]  # type: ignore[index]
    text = _error(tmp_path, _portfolio([_stage("training")], HORIZON, [site]))
    assert "outages[0].to" in text and "not after it starts" in text
    site["offers"][0]["outages"] = [{"from": 200, "to": 300, "nodes": 2}]  # type: ignore[index]
    p = _load(tmp_path, _portfolio([_stage("training")], HORIZON, [site]))
    assert p.onprem[0].offers[0].outages[0].nodes == 2


# --- an inference stage's go-live: one fixed hour, named by earliest_start or deadline ---

def test_an_inference_deadline_that_could_have_no_effect_is_refused(tmp_path: Path) -> None:
    """The go-live is fixed (billed per hour live, a free one would always be the latest):
    with earliest_start given, a different deadline used to be silently ignored."""
    for deadline in ("2027-03-01", "2027-01-15"):  # after or before the go-live
        text = _error(tmp_path, _portfolio(
            [_stage("training"), _stage("inference", earliest_start="2027-02-01",
                                        deadline=deadline)], HORIZON))
        assert "workloads[0].stages[1].deadline" in text, text
        assert "earliest_start 2027-02-01 sets it" in text and "could have no effect" in text
        assert f"deadline {deadline}" in text and "give both the same date" in text


def test_an_inference_go_live_may_be_named_by_both_fields_or_at_the_start(
        tmp_path: Path) -> None:
    """earliest_start == deadline is one go-live (it was refused as "deadline is not after
    earliest_start"), and a deadline at hour 0 is live from the start, as earliest_start 0
    is (it was refused as "not after the horizon start")."""
    from builders import NOW, small_catalog

    from planner.compile.resolve import build_world
    from planner.verify.check import verify

    for golive, kw in ((31 * 24, {"earliest_start": "2027-02-01", "deadline": "2027-02-01"}),
                       (0, {"deadline": 0, "after": []})):
        data = _portfolio([_stage("training", hours=10),
                           _stage("inference", **kw)], HORIZON)
        data["cloud"] = {"providers": ["aws"]}
        p = _load(tmp_path, data)
        cats = [small_catalog()]
        plan = api.plan(p, cats, time_limit_s=10, now=NOW)
        assert verify(p, build_world(p, cats, now=NOW), plan) == []
        serve = [x for x in plan.placements if x.stage == "inference"]
        assert serve and all(x.start == golive and x.end == 90 * 24 for x in serve)


@pytest.mark.parametrize(("settings", "where", "what"), [
    ({"period_hours": 0.5}, "settings.period_hours", "must be at least 1 and"),
    ({"horizon": {"start": "2027-01-04T00:00:00Z", "end": "2027-01-04T00:30:00Z"}},
     "settings.horizon.end", "under an hour: the planner schedules in whole hours"),
])
def test_a_horizon_under_an_hour_is_refused(tmp_path: Path, settings: dict[str, Any],
                                            where: str, what: str) -> None:
    """The solvers count whole hours: a 0.5 h horizon planned a 0.2 h run as infeasible,
    its window pruned nowhere (the diagnosis said "see unplaced", which named nothing).
    ``period_hours`` says so by its range, as the JSON schema does."""
    text = _error(tmp_path, _portfolio([_stage("training", hours=0.2)], settings))
    assert where in text and what in text, text


def test_a_full_dump_with_a_horizon_end_reads_back(tmp_path: Path) -> None:
    # model_dump_json() writes the period derived from horizon.end beside it: that is the
    # same period, not a second one, so the file reads back (a timed portfolio written
    # this way was refused with "not both"); a period that disagrees still is.
    quarter = api.load_portfolio(Path(__file__).parent.parent / "examples"
                                 / "quarter-deadlines.yaml")
    assert quarter.settings.horizon is not None and quarter.settings.horizon.end is not None
    path = tmp_path / "quarter.json"
    path.write_text(quarter.model_dump_json(), "utf-8")
    again = api.load_portfolio(path)
    assert again.settings.period_hours == quarter.settings.period_hours == 2184
    assert again.settings.horizon is not None and again.settings.horizon.hours() == 2184
    assert len(again.workloads) == len(quarter.workloads)
    assert "period_hours" not in again.settings.model_dump(exclude_unset=True)
    data = _portfolio([_stage("training")], {**HORIZON, "period_hours": "2160"})
    assert _load(tmp_path, data).settings.period_hours == 90 * 24
    data["settings"]["period_hours"] = "2159.5"
    assert "not both" in _error(tmp_path, data)
