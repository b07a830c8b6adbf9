"""The solver interface: a :class:`~planner.models.problem.Problem` in, units per option out.

Solver types never leave ``planner.solvers``: backends take a Problem and return a
:class:`Solution`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.models.status import SolveStatus
from planner.solvers.capabilities import Capabilities, Feature, refusal
from planner.solvers.options import (
    Deadline,
    SolveOptions,
    SolverError,
    default_workers,
    process_age_s,
)

__all__ = ["Backend", "Capabilities", "ConflictCheck", "Core", "CoreBackend", "Deadline",
           "Feature", "IntArray", "Problem", "Solution", "SolveOptions", "SolveStatus",
           "SolverError", "decline", "default_workers", "process_age_s"]


@dataclass
class Solution:
    """A backend's answer: units per option (all zero where there is no solution)."""

    backend: str
    status: SolveStatus
    x: IntArray
    objective: int | None
    bound: int | None
    solve_time_s: float
    detail: str = ""
    stats: dict[str, float] = field(default_factory=dict)


class Backend(Protocol):
    """What every solver backend offers."""

    name: str
    capabilities: Capabilities
    """What it can do (:mod:`planner.solvers.capabilities`); callers pick by it."""

    def solve(self, problem: Problem, options: SolveOptions) -> Solution: ...


def decline(name: str, capabilities: Capabilities, problem: Problem) -> Solution | None:
    """The ``unknown`` answer (no plan, no bound) of a backend asked to solve a problem with
    a feature it does not honour, or None when it honours them all. Every backend's
    ``solve`` starts with it, so none returns a plan that breaks a rule it does not model."""
    missing = capabilities.missing(problem)
    if not missing:
        return None
    return Solution(name, SolveStatus.UNKNOWN, np.zeros(problem.n_options, dtype=np.int64),
                    None, None, 0.0, f"declined: {refusal(name, missing)}")


@dataclass(frozen=True)
class Core:
    """A set of rule groups that admit no plan together (an unsatisfiable core).

    ``rules`` is None when no conflict could be shown within the time limit, empty when the
    problem is infeasible with every relaxable rule dropped (hardware facts). ``minimal``:
    dropping any one rule of the set admits a plan (False when time ran out before every
    rule was tried). ``alone[r]``: dropping ``r`` alone, every other rule of the problem in
    force, admits a plan (None: undecided in time)."""

    rules: tuple[str, ...] | None
    minimal: bool = False
    alone: dict[str, bool | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ConflictCheck:
    """Whether an infeasibility claim holds: ``True`` confirmed, ``False`` refuted, ``None``
    undecided within the time limit; and why, in plain words."""

    holds: bool | None
    message: str


@runtime_checkable
class CoreBackend(Backend, Protocol):
    """A backend with ``capabilities.unsat_core``: it explains infeasibility on a Problem
    whose options carry the rule groups that forbid them (``opt_groups``)."""

    def find_core(self, problem: Problem, options: SolveOptions) -> Core:
        """A minimal set of rule groups that admit no plan together (see :class:`Core`)."""
        ...

    def check_conflict(self, problem: Problem, rules: list[str],
                       options: SolveOptions) -> ConflictCheck:
        """Whether ``rules`` admit no plan together (every other rule free) and dropping any
        one admits one; with no rules, whether no plan exists with every rule in force."""
        ...
