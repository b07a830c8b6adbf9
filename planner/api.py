"""The Python API: load a portfolio and catalogs, plan, verify.

import planner
portfolio = planner.load_portfolio("examples/hospital-group.yaml")
catalogs = planner.load_catalogs("catalogs")
plan = planner.plan(portfolio, catalogs)
print(plan.totals.total_usd, plan.model_dump_json(indent=2))
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from planner.candidates import generate
from planner.catalog.load import LoadedCatalog, load_catalog_dir
from planner.errors import InputError, VerificationError
from planner.io import load_portfolio as _load_portfolio
from planner.io import read_document, validate_as
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio
from planner.plan_builder import build_plan
from planner.solvers import BACKENDS, get_backend
from planner.solvers.base import SolveOptions, build_problem
from planner.verifier import Violation, verify
from planner.world import build_world

DEFAULT_CATALOGS = "catalogs"


def load_portfolio(path: str | Path) -> Portfolio:
    """Load and validate a portfolio file (YAML or JSON)."""
    return _load_portfolio(path)


def default_catalog_dir() -> Path:
    """``$PLANNER_CATALOGS`` if set, else ``./catalogs``."""
    return Path(os.environ.get("PLANNER_CATALOGS", DEFAULT_CATALOGS))


def load_catalogs(directory: str | Path | None = None) -> list[LoadedCatalog]:
    """Load the provider catalog snapshots (``aws.json``, ``azure.json``) from a directory."""
    return load_catalog_dir(Path(directory) if directory else default_catalog_dir())


def load_plan(path: str | Path) -> Plan:
    """Read a plan JSON file written by ``planner plan``."""
    data = read_document(Path(path))
    return validate_as(Plan, data, str(path))


def plan(
    portfolio: Portfolio,
    catalogs: list[LoadedCatalog] | None = None,
    *,
    solver: str = "cpsat",
    time_limit_s: float = 30.0,
    workers: int = 8,
    seed: int = 0,
    deterministic: bool = True,
    reproducible: bool = False,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Plan the portfolio at least cost and verify the result independently.

    Raises :class:`~planner.errors.InputError` for names the catalogs do not know and
    :class:`~planner.errors.VerificationError` if the plan breaks a rule (a bug).
    An infeasible portfolio gives a plan with ``status == "infeasible"`` and the reasons.
    """
    if solver not in BACKENDS:
        raise InputError(f"unknown solver {solver!r}", hint=f"choose from {sorted(BACKENDS)}")
    say = progress or (lambda _msg: None)
    catalogs = load_catalogs() if catalogs is None else catalogs
    world = build_world(portfolio, catalogs, now=now)
    cands = generate(portfolio, world)
    problem = build_problem(cands)
    say(
        f"{problem.n_stages} stages, {problem.n_options} options, "
        f"{len(problem.res_names)} limited resources; solving with {solver}"
    )
    options = SolveOptions(
        time_limit_s=time_limit_s, workers=workers, seed=seed, deterministic=deterministic
    )
    solution = get_backend(solver).solve(problem, options)
    result = build_plan(
        portfolio, world, cands, problem, solution, options, reproducible=reproducible
    )
    violations = verify(portfolio, world, result)
    if violations:
        raise VerificationError(
            f"the {solver} plan breaks {len(violations)} rule(s): "
            + "; ".join(map(str, violations[:5])),
            hint="this is a planner bug; please report it with the input",
        )
    return result


def verify_plan(
    portfolio: Portfolio, plan_: Plan, catalogs: list[LoadedCatalog] | None = None
) -> list[Violation]:
    """Check a plan against the portfolio and catalogs; the list of broken rules."""
    catalogs = load_catalogs() if catalogs is None else catalogs
    world = build_world(portfolio, catalogs)
    return verify(portfolio, world, plan_)
