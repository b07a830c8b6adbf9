"""The rest of ``planner.plan``'s and ``plan_world``'s arguments are checked where they
enter, like the time limit, workers and seed (test_argument_checks): a solver or
executor name, the Ray address, the progress callback, the deadline, the on/off switches,
one catalog per provider, and the kinds of what ``plan_world`` is given. Each was a
TypeError or AttributeError mid-plan, or taken silently ("no" as True, an unknown
executor, the second of two aws catalogs)."""

from __future__ import annotations

from typing import Any

import pytest
from builders import NOW, portfolio, small_catalog, solve, training, workload

from planner import api
from planner.compile.resolve import build_world
from planner.errors import InputError
from planner.models.portfolio import Portfolio


def _small() -> Portfolio:
    return portfolio([workload("w", [training(hours=10)])])


@pytest.mark.parametrize(("arguments", "path", "message"), [
    ({"solver": ["cpsat"]}, "solver", "unknown solver"),            # was: unhashable type
    ({"solver": 3}, "solver", "unknown solver"),
    ({"executor": "nope"}, "executor", "unknown executor"),         # was: ignored
    ({"executor": "ray", "address": 3}, "address", "as text"),      # was: ignored
    ({"progress": "log.txt"}, "progress", "expected a function"),   # was: not callable
    ({"deadline": 5.0}, "deadline", "Deadline"),                    # was: AttributeError
    ({"explain": "no"}, "explain", "not True or False"),            # was: numpy TypeError
    ({"deterministic": "no"}, "deterministic", "not True or False"),  # was: taken as True
    ({"reproducible": 1}, "reproducible", "not True or False"),
    ({"all_or_nothing": "no"}, "all_or_nothing", "not True or False"),
])
def test_plan_refuses_arguments_no_solver_can_use(arguments: dict[str, Any], path: str,
                                                  message: str) -> None:
    p = _small()
    world = build_world(p, [small_catalog()], now=NOW)
    for call in (lambda: api.plan(p, [small_catalog()], now=NOW, time_limit_s=10,
                                  **arguments),
                 lambda: api.plan_world(p, world, time_limit_s=10, **arguments)):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.path == path and message in err.value.message


def test_two_catalogs_of_one_provider_are_refused() -> None:
    with pytest.raises(InputError, match=r"catalogs\[0\] and catalogs\[1\] are both") as err:
        api.plan(_small(), [small_catalog(), small_catalog()], now=NOW, time_limit_s=10)
    assert err.value.path == "catalogs"


def test_plan_world_refuses_what_is_not_a_portfolio_world_or_plan() -> None:
    p = _small()
    world = build_world(p, [small_catalog()], now=NOW)
    for args, path in (((p, {}), "world"), (({"name": "x"}, world), "portfolio"),
                       ((p, [small_catalog()]), "world")):
        with pytest.raises(InputError) as err:          # was: AttributeError
            api.plan_world(*args, time_limit_s=10)  # type: ignore[arg-type]
        assert err.value.path == path
    with pytest.raises(InputError) as err:
        api.plan_world(p, world, time_limit_s=10, previous={})  # type: ignore[arg-type]
    assert err.value.path == "previous"


def test_the_usual_arguments_still_plan() -> None:
    plan = solve(_small(), solver="greedy", deterministic=True, explain=False,
                 progress=lambda _msg: None, executor="serial")     # verified by solve
    assert plan.feasible
