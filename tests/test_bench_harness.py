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
from benchmarks.generate import FAMILIES, generate_portfolio
from benchmarks.solve import solve_traced
from benchmarks.table import HEAD, finish, table, time_to_gap
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

    def child(size: str, solver: str, family: str, _args: Any) -> dict[str, Any]:
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
