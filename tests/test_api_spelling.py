"""Errors of the Python API name its parameters, not the command line's flags: a previous
plan of another portfolio is ``previous:``, not ``--previous:``; a solver that cannot
make partial plans is told to use ``solver='cpsat' or 'greedy'``; a plan priced with
other catalogs is verified "with those (catalogs=planner.load_catalogs(DIR))". The
command line's wording (``--previous``, ``--solver``, ``--catalogs DIR``) is tested with
the commands (test_cli, test_capabilities, test_verify_inputs)."""

from __future__ import annotations

import pytest
from builders import NOW, catalog, portfolio, row, small_catalog, solve, training, workload

from planner import api
from planner.errors import InputError
from planner.models.portfolio import Portfolio


def _small(name: str = "test") -> Portfolio:
    return portfolio([workload("w", [training(hours=10)])], name=name)


def test_a_previous_plan_of_another_portfolio_names_the_argument() -> None:
    mine, other = _small(), _small("other")
    earlier = solve(other)                                  # verified by solve
    with pytest.raises(InputError) as err:
        api.plan(mine, [small_catalog()], now=NOW, time_limit_s=10,
                 previous=earlier)
    assert err.value.path == "previous" and "--" not in str(err.value)
    with pytest.raises(InputError) as err:
        api.verify_plan(mine, solve(mine), [small_catalog()],
                        previous=earlier)
    assert err.value.path == "previous"


def test_a_solver_refused_for_partial_plans_is_hinted_in_python() -> None:
    valued = portfolio([{**workload("w", [training(hours=10)]), "value_usd": 5000}])
    with pytest.raises(InputError) as err:
        api.plan(valued, [small_catalog()], now=NOW, time_limit_s=10, solver="lns")
    assert err.value.hint == "use solver='cpsat' or 'greedy', or all_or_nothing=True"


def test_a_plan_of_other_catalogs_is_verified_with_catalogs_not_a_flag() -> None:
    p = _small()
    plan = solve(p)
    dearer = catalog([{**r, "price_per_hour": str(float(r["price_per_hour"]) * 2)}
                      for r in (row("us-east-1", "g.a100", "30", gpu="A100-80GB", gpus=8,
                                    vcpus=96, mem=1024, country="US"),)])
    got = api.verify_report(p, plan, [dearer])
    assert got.foreign and "priced with other catalogs" in got.foreign
    assert "(catalogs=planner.load_catalogs(DIR))" in got.foreign and "--" not in got.foreign
