"""The benchmark harness (benchmarks/run.py, table.py, solve.py; ``planner bench``): any
registered backend and ``auto`` side by side, several families from one run, the gap to
the best bound of the run, issue 14's targets, and the files and markdown rows it writes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from benchmarks import run as runner
from benchmarks.__main__ import main as bench_main
from benchmarks.generate import FAMILIES, generate_portfolio
from benchmarks.solve import solve_traced
from benchmarks.table import HEAD, SPREAD, finish, median_runs, table, time_to_gap
from benchmarks.timed_run import run_timed_one
from planner import api
from planner.cli.main import cli
from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.resolve import build_world
from planner.solvers import BACKENDS
from planner.solvers.base import SolveOptions


def _rec(solver: str, obj: int | None, bound: int | None, **kw: Any) -> dict[str, Any]:
    return {"family": "hard", "size": "m", "solver": solver, "objective_micro": obj,
            "own_bound_micro": bound, "verified": obj is not None, **kw}


def test_gaps_are_against_the_best_bound_any_solver_proved() -> None:
    recs = finish([
        _rec("greedy", 110_000_000, 90_000_000, process_wall_s=5.0, peak_rss_mib=300.0),
        _rec("lns", 100_500_000, 100_000_000, process_wall_s=59.0, peak_rss_mib=900.0,
             trace=[[1.0, 105_000_000, None], [20.0, 100_400_000, None]]),
        _rec("cpsat", None, None, status="unknown"),
    ])
    greedy, lns, cpsat = recs
    assert greedy["ref_bound_usd"] == lns["ref_bound_usd"] == 100.0  # the best bound: lns's
    assert greedy["own_gap"] == round(20 / 110, 6) and greedy["ref_gap"] == round(10 / 110, 6)
    assert lns["ref_gap"] == lns["own_gap"] == round(0.5 / 100.5, 6)
    assert cpsat["ref_gap"] is None and cpsat["objective_usd"] is None
    assert lns["target"] == "≤ 0.5% in ≤ 60 s, ≤ 2 GiB"
    assert lns["target_met"] is True and greedy["target_met"] is False
    assert lns["time_to_target_gap_s"] == 20.0
    assert time_to_gap(lns, 100_000_000, 0.001) is None


def test_a_time_free_plan_is_not_measured_against_a_schedule_s_bound() -> None:
    greedy, plan = finish([_rec("greedy", 95_000_000, 90_000_000),
                           _rec("plan", 101_000_000, 100_000_000)])
    assert greedy["ref_bound_usd"] == 90.0 and greedy["ref_gap"] == round(5 / 95, 6)
    assert plan["ref_bound_usd"] == 100.0 and plan["ref_gap"] == round(1 / 101, 6)
    # a time-free bound counts for the schedule too, when it is the higher one
    lp, schedule = finish([_rec("lp", 99_500_000, 99_000_000),
                           _rec("schedule", 101_000_000, 98_000_000)])
    assert schedule["ref_bound_usd"] == lp["ref_bound_usd"] == 99.0


def test_a_target_is_missed_over_time_or_memory() -> None:
    slow = finish([_rec("lns", 100_000_000, 100_000_000, process_wall_s=61.0,
                        peak_rss_mib=100.0)])[0]
    big = finish([_rec("lns", 100_000_000, 100_000_000, process_wall_s=10.0,
                       peak_rss_mib=3000.0)])[0]
    assert slow["target_met"] is False and big["target_met"] is False
    realistic = finish([{**_rec("lns", 1, 1), "family": "realistic"}])[0]
    assert realistic["target"] is None and realistic["target_met"] is None


def test_the_table_has_a_column_per_header_and_names_what_auto_chose() -> None:
    recs = finish([_rec("auto", 100_000_000, 99_000_000, backend="lns", stages=5000,
                        sites=100, options=10, process_wall_s=12.5, peak_rss_mib=700.0)])
    text = table(recs)
    head, rule, row = text.splitlines()
    assert head == HEAD and "gap vs best bound" in head and "peak RSS MiB" in head
    assert head.count("|") == rule.count("|") == row.count("|")
    assert "| auto (lns) |" in row and "| 1.000% |" in row and "| 12.5 |" in row
    assert table(recs, header=False) == row


def _args(tmp_path: Path, **kw: Any) -> SimpleNamespace:
    base = dict(size="smoke", family="realistic,hard", solvers="greedy,auto", time_limit=5.0,
                seed=0, workers=1, executor="serial", address=None, progress=False,
                out=str(tmp_path), command="python -m benchmarks run (test)")
    return SimpleNamespace(**{**base, **kw})


def test_one_run_publishes_every_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, str]] = []

    def child(size: str, solver: str, family: str, _args: Any, run: int = 0) -> dict[str, Any]:
        calls.append((family, size, solver))
        return _rec(solver, 100_000_000, 90_000_000, family=family, size=size,
                    backend="cpsat" if solver == "auto" else solver)

    monkeypatch.setattr(runner, "_child", child)
    assert runner.run(_args(tmp_path)) == 0
    assert calls == [("realistic", "smoke", "greedy"), ("realistic", "smoke", "auto"),
                     ("hard", "smoke", "greedy"), ("hard", "smoke", "auto")]
    for stem in ("smoke", "hard-smoke"):
        doc = json.loads((tmp_path / f"{stem}.json").read_text())
        assert doc["command"] == "python -m benchmarks run (test)"
        assert "load_average" in doc["machine"]
        assert (tmp_path / f"{stem}.csv").read_text().startswith("family,size,solver,backend")
        assert "| auto (cpsat) |" in (tmp_path / f"{stem}.md").read_text()
    both = (tmp_path / "last-run.md").read_text()
    assert "| realistic | smoke | greedy |" in both and "| hard | smoke | greedy |" in both


@pytest.mark.parametrize(("kw", "message"), [
    ({"solvers": "greedy,magic"}, "unknown solver 'magic'"),
    ({"family": "easy"}, "unknown family 'easy'"),
    ({"size": "huge"}, "unknown size 'huge'"),
    ({"size": "smoke,,smoke"}, "unknown size ''"),
    ({"solvers": "greedy,auto,greedy"}, "solver 'greedy' is named twice: name each solver "
                                        "once (--repeat N runs each solver N times)"),
    ({"size": "smoke,smoke"}, "size 'smoke' is named twice"),
    ({"family": "hard,realistic,hard"}, "family 'hard' is named twice"),
])
def test_unknown_names_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          kw: dict[str, str], message: str) -> None:
    assert runner.run(_args(tmp_path, **kw)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {message}") and len(err.splitlines()) == 1


def test_every_registered_backend_and_auto_are_accepted(tmp_path: Path) -> None:
    names = ",".join([*BACKENDS, "auto"])
    assert runner.check_names(_args(tmp_path, solvers=names, family=",".join(FAMILIES))) is None


def test_the_child_command_carries_the_family() -> None:
    cmd = runner.child_command("l", "lns", "hard", _args(Path("."), address="auto"))
    assert cmd[cmd.index("--family") + 1] == "hard"
    assert cmd[cmd.index("--solver") + 1] == "lns" and cmd[-2:] == ["--address", "auto"]


def test_auto_is_resolved_like_the_planner_resolves_it() -> None:
    catalogs = api.load_catalogs("catalogs")
    portfolio = generate_portfolio("smoke", 0, catalogs, family="hard")
    world = build_world(portfolio, catalogs)
    problem = build_problem(generate(portfolio, world, keep_pruned_options=False), world)
    sol, trace = solve_traced("auto", problem, SolveOptions(time_limit_s=5, workers=1))
    assert sol.backend == "cpsat" and sol.objective is not None  # small: exact CP-SAT
    assert trace and trace[-1][1] == sol.objective


def test_planner_bench_takes_a_family(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(runner, "run", lambda args: seen.append(args) or 0)
    result = CliRunner().invoke(cli, ["bench", "--family", "realistic,hard", "--size", "s",
                                      "--solvers", "greedy,auto"])
    assert result.exit_code == 0, result.output
    (args,) = seen
    assert args.family == "realistic,hard" and args.solvers == "greedy,auto"
    assert args.command.startswith("planner bench --family realistic,hard --size s")


def test_repeated_runs_show_the_median_run_and_the_spread() -> None:
    runs = [_rec("lns", obj, 100_000_000, run=i, solver_seed=i, process_wall_s=30.0,
                 peak_rss_mib=500.0) for i, obj in enumerate((100_200_000, 101_000_000,
                                                               100_400_000))]
    failed = {**_rec("lns", None, None, run=3, solver_seed=3), "status": "error"}
    once = _rec("greedy", 104_000_000, 90_000_000)
    recs = finish([*runs, failed, once])
    greedy_row, lns_row = sorted(median_runs(recs), key=lambda r: r["solver"])
    assert greedy_row is recs[-1]  # a solver run once: its record unchanged
    # four runs, one without a plan (the worst): the upper middle one is shown
    assert lns_row["runs"] == 4 and lns_row["objective_micro"] == 101_000_000
    assert lns_row["gap_min"] == round(0.2 / 100.2, 6)
    assert lns_row["gap_max"] == round(1 / 101, 6)
    assert lns_row["gap_median"] == round(0.4 / 100.4, 6)  # of the three with a plan
    assert lns_row["verified_runs"] == 3 and lns_row["met_runs"] == 2  # ≤ 0.5 % at hard m
    head, _rule, *rows = table(recs).splitlines()
    assert head == HEAD + SPREAD and len(rows) == 2
    assert rows[0].endswith(" 4: 0.200% / 0.398% / 0.990% (3, 2) |")
    assert rows[1].endswith("| 1 |")
    assert table(recs[-1:]).splitlines()[0] == HEAD  # no column for single runs


def test_a_repeated_run_keeps_every_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []

    def child(size: str, solver: str, family: str, _args: Any, run: int = 0) -> dict[str, Any]:
        calls.append((solver, run))
        return _rec(solver, 100_000_000 + run * 1_000_000, 90_000_000, family=family,
                    size=size, run=run, solver_seed=run)

    monkeypatch.setattr(runner, "_child", child)
    assert runner.run(_args(tmp_path, family="hard", solvers="greedy,lns", repeat=3)) == 0
    assert calls == [("greedy", 0), ("greedy", 1), ("greedy", 2),
                     ("lns", 0), ("lns", 1), ("lns", 2)]
    doc = json.loads((tmp_path / "hard-smoke.json").read_text())
    assert len(doc["records"]) == 6 and len(doc["median_runs"]) == 2
    assert [r["objective_micro"] for r in doc["median_runs"]] == [101_000_000] * 2
    assert len((tmp_path / "hard-smoke.csv").read_text().splitlines()) == 7
    assert " 3: " in (tmp_path / "hard-smoke.md").read_text()


def test_each_run_of_a_repeat_gets_its_own_solver_seed() -> None:
    cmd = runner.child_command("s", "lns", "hard", _args(Path("."), seed=5), run=2)
    assert cmd[cmd.index("--seed") + 1] == "5"  # the same portfolio
    assert cmd[cmd.index("--solver-seed") + 1] == "7"


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_repeat_that_is_no_number_of_runs_is_refused(value: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        bench_main(["run", "--size", "smoke", "--repeat", value])
    assert stop.value.code == 2
    assert "give 1 or more" in capsys.readouterr().err


def test_planner_bench_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(runner, "run", lambda args: seen.append(args) or 0)
    result = CliRunner().invoke(cli, ["bench", "--size", "s", "--repeat", "3"])
    assert result.exit_code == 0, result.output
    assert seen[0].repeat == 3 and seen[0].command.endswith("--repeat 3")
    refused = CliRunner().invoke(cli, ["bench", "--repeat", "0"])
    assert refused.exit_code == 2 and "--repeat" in refused.output


def test_planner_bench_takes_an_out_directory(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(runner, "run", lambda args: seen.append(args) or 0)
    result = CliRunner().invoke(cli, ["bench", "--size", "smoke", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen[0].out == str(tmp_path)
    assert seen[0].command.endswith(f"--out {tmp_path}")
    assert CliRunner().invoke(cli, ["bench", "--size", "smoke"]).exit_code == 0
    assert seen[1].out is None


def test_the_tight_family_puts_every_cloud_gpu_under_a_quota() -> None:
    catalogs = api.load_catalogs("catalogs")
    a = generate_portfolio("smoke", 0, catalogs, family="tight")
    assert a.model_dump_json() == generate_portfolio("smoke", 0, catalogs,
                                                     family="tight").model_dump_json()
    assert a.model_dump_json() != generate_portfolio("smoke", 0, catalogs,
                                                     family="hard").model_dump_json()
    world = build_world(a, catalogs)
    problem = build_problem(generate(a, world, keep_pruned_options=False), world)
    used = set(problem.use_opt.tolist())
    cloud_gpu = [o for o in range(problem.n_options)
                 if problem.site_cloud[int(problem.opt_site[o])]]
    assert cloud_gpu and all(o in used for o in cloud_gpu)  # no unlimited cloud option


def _no_child(*_a: Any, **_k: Any) -> dict[str, Any]:
    raise AssertionError("a solver ran despite a wrong argument")


@pytest.mark.parametrize(("kw", "message"), [
    ({"time_limit": float("nan")}, "--time-limit: nan is not a finite number of seconds"),
    ({"time_limit": float("inf")}, "--time-limit: inf is not a finite number of seconds"),
    ({"time_limit": 0.0}, "--time-limit: 0.0 seconds: the time limit must be above 0"),
    ({"time_limit": -1.0}, "--time-limit: -1.0 seconds"),
    ({"seed": -1}, "--seed: -1 is outside the allowed seeds"),
    ({"seed": 2**40}, "--seed: 1099511627776 is outside the allowed seeds"),
    ({"workers": 0}, "--workers: 0 workers: at least 1 is needed"),
    ({"seed": 2**31 - 1, "repeat": 2}, "--seed: 2147483647 with --repeat 2 gives the last "
                                       "run the solver seed 2,147,483,648"),
])
def test_the_module_refuses_what_planner_bench_refuses(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        kw: dict[str, Any], message: str) -> None:
    monkeypatch.setattr(runner, "_child", _no_child)
    assert runner.run(_args(tmp_path, **kw)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {message}") and len(err.splitlines()) == 1
    assert "(give " in err  # the fix
    assert not list(tmp_path.iterdir())


def test_an_out_that_is_no_directory_is_refused_before_any_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_child", _no_child)
    a_file = tmp_path / "results.json"
    a_file.write_text("{}")
    for out in (a_file, a_file / "sub"):
        assert runner.run(_args(tmp_path, out=str(out))) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: --out {out}: ") and len(err.splitlines()) == 1
        assert "(give a directory" in err
    assert a_file.read_text() == "{}"
    monkeypatch.setattr(runner.os, "access", lambda *_a: False)  # read-only (also as root)
    assert runner.run(_args(tmp_path, out=str(tmp_path))) == 2
    assert "permission denied" in capsys.readouterr().err


def test_an_out_whose_parents_are_missing_is_made(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_child", lambda size, solver, family, _a, run=0: _rec(
        solver, 100_000_000, 90_000_000, family=family, size=size))
    out = tmp_path / "a" / "b"
    assert runner.run(_args(tmp_path, out=str(out), family="hard", solvers="greedy")) == 0
    assert (out / "hard-smoke.json").is_file() and (out / "last-run.md").is_file()


@pytest.mark.parametrize("solver", ["schedule", "cpsat-schedule"])
def test_a_schedule_solver_counts_the_portfolio_s_sites(solver: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_AS_LIMIT_GIB", raising=False)
    catalogs = api.load_catalogs("catalogs")
    world = build_world(generate_portfolio("smoke", 0, catalogs, family="timed"), catalogs)
    rec = run_timed_one("smoke", solver, 3.0, 0, 1, "serial", None)
    assert rec["sites"] == len(world.sites)  # as every other solver's row, not the used ones
