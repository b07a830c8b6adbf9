"""The solver interface: a :class:`~planner.models.problem.Problem` in, units per option out.

Solver types never leave ``planner.solvers``: backends take a Problem and return a
:class:`Solution`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from planner.models.problem import IntArray, Problem
from planner.models.status import SolveStatus
from planner.solvers.options import (
    Deadline,
    SolveOptions,
    SolverError,
    default_workers,
    process_age_s,
)

__all__ = ["Backend", "Deadline", "IntArray", "Problem", "Solution", "SolveOptions",
           "SolveStatus", "SolverError", "default_workers", "process_age_s"]


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
    proves_optimality: bool
    supports_funding: bool
    """Handles :attr:`Problem.funding` (workloads that may be left out, partial plans)."""

    def solve(self, problem: Problem, options: SolveOptions) -> Solution: ...
