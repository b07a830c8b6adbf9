"""Arguments no solver can use are refused at the API boundary with an InputError (exit 2),
and the command line refuses the same values with the same message before anything is
loaded: a time limit that is not finite and above 0, fewer than 1 worker or more than
CP-SAT takes, a seed outside CP-SAT's 32-bit range (or negative: numpy's generators take
none)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from builders import NOW, portfolio, small_catalog, training, workload
from click.testing import CliRunner, Result
from ortools.sat.python import cp_model

import planner
from planner import api
from planner.cli.main import cli
from planner.errors import InputError
from planner.solvers.base import SolveOptions
from planner.solvers.cpsat_model import configure
from planner.solvers.options import MAX_SEED, MAX_WORKERS

REPO = Path(__file__).resolve().parent.parent
CATALOGS = str(REPO / "catalogs")
QUARTER = str(REPO / "examples" / "quarter-deadlines.yaml")
HOSPITAL = str(REPO / "examples" / "hospital-group.yaml")


def _small() -> planner.Portfolio:
    return portfolio([workload("w", [training(hours=10)])])


@pytest.mark.parametrize(("kwargs", "path", "message"), [
    ({"workers": -3}, "workers", "-3 workers: at least 1 is needed"),
    ({"workers": 0}, "workers", "0 workers: at least 1 is needed"),
    ({"workers": 2.5}, "workers", "2.5 is not a whole number"),
    ({"workers": MAX_WORKERS + 1}, "workers", "10,001 workers: CP-SAT takes at most 10,000"),
    ({"time_limit_s": 0}, "time_limit_s", "the time limit must be above 0"),
    ({"time_limit_s": -1}, "time_limit_s", "the time limit must be above 0"),
    ({"time_limit_s": math.nan}, "time_limit_s", "nan is not a finite number of seconds"),
    ({"time_limit_s": math.inf}, "time_limit_s", "inf is not a finite number of seconds"),
    ({"time_limit_s": "30"}, "time_limit_s", "'30' is not a number of seconds"),
    ({"seed": 2**31}, "seed", f"2147483648 is outside the allowed seeds 0 to {MAX_SEED:,}"),
    ({"seed": 2**80}, "seed", "is outside the allowed seeds"),
    ({"seed": -1}, "seed", "-1 is outside the allowed seeds"),
    ({"seed": 1.0}, "seed", "1.0 is not a whole number"),
    ({"seed": True}, "seed", "True is not a whole number"),
])
def test_plan_refuses_arguments_no_solver_can_use(kwargs: dict[str, Any], path: str,
                                                  message: str) -> None:
    for call in (lambda: api.plan(_small(), [small_catalog()], now=NOW, **kwargs),
                 lambda: api.plan_world(_small(), planner.api.build_world(
                     _small(), [small_catalog()], now=NOW), **kwargs)):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.path == path and message in err.value.message
        assert err.value.hint and err.value.exit_code == 2


def test_the_extreme_allowed_arguments_plan() -> None:
    plan = api.plan(_small(), [small_catalog()], now=NOW, seed=MAX_SEED, workers=1,
                    time_limit_s=10)
    assert plan.feasible and plan.solver.seed == MAX_SEED


def test_seeds_the_planner_derives_wrap_into_cp_sat_s_range() -> None:
    # lns and lp's neighbourhood search solve with seed + iteration.
    solver = cp_model.CpSolver()
    configure(solver, SolveOptions(time_limit_s=1, workers=1, seed=MAX_SEED + 5))
    assert solver.parameters.random_seed == 4


def test_verify_refuses_a_time_limit_or_workers_it_cannot_use() -> None:
    plan = api.plan(_small(), [small_catalog()], now=NOW, time_limit_s=10)
    with pytest.raises(InputError, match="not a finite number"):
        api.verify_report(_small(), plan, [small_catalog()], time_limit_s=math.nan)
    with pytest.raises(InputError, match="at least 1"):
        api.verify_report(_small(), plan, [small_catalog()], workers=-1)


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _refused(result: Result, option: str, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"Invalid value for '{option}'" in result.stderr and message in result.stderr


@pytest.mark.parametrize(("args", "option", "message"), [
    (["plan", QUARTER, "--seed", "2147483648"], "--seed", "outside the allowed seeds 0 to"),
    (["plan", QUARTER, "--seed", str(2**80)], "--seed", "outside the allowed seeds 0 to"),
    (["plan", QUARTER, "--seed", "-1"], "--seed", "-1 is outside the allowed seeds"),
    (["plan", HOSPITAL, "--time-limit", "inf"], "--time-limit", "inf is not a finite number"),
    (["plan", HOSPITAL, "--workers", "10001"], "--workers", "CP-SAT takes at most 10,000"),
    (["plan", HOSPITAL, "--workers", "0"], "--workers", "0 workers: at least 1 is needed"),
    (["bench", "--workers", "10001"], "--workers", "CP-SAT takes at most 10,000"),
    (["plan", HOSPITAL, "--time-limit", "nan"], "--time-limit", "nan is not a finite number"),
    (["whatif", HOSPITAL, str(REPO / "examples" / "scenarios.yaml"), "--time-limit", "inf"],
     "--time-limit", "inf is not a finite number"),
    (["verify", HOSPITAL, HOSPITAL, "--time-limit", "nan"], "--time-limit",
     "nan is not a finite number"),
    (["catalog", "status", "--max-age-days", "nan"], "--max-age-days", "not a finite number"),
    (["catalog", "status", "--max-age-days", "inf"], "--max-age-days", "not a finite number"),
    (["catalog", "refresh", "--provider", "aws", "--max-row-loss", "nan"], "--max-row-loss",
     "not a finite number"),
    (["catalog", "refresh", "--provider", "aws", "--wait-timeout", "inf"], "--wait-timeout",
     "not a finite number"),
    (["bench", "--time-limit", "inf"], "--time-limit", "not a finite number"),
    (["bench", "--seed", "-5"], "--seed", "outside the allowed seeds"),
])
def test_cli_refuses_non_finite_numbers_and_seeds_out_of_range(args: list[str], option: str,
                                                                message: str) -> None:
    _refused(_run(*args), option, message)


def test_cli_takes_the_largest_seed(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = _run("plan", HOSPITAL, "-q", "--catalogs", CATALOGS, "--seed", str(MAX_SEED),
                  "--time-limit", "20", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f'"seed": {MAX_SEED}' in out.read_text()
