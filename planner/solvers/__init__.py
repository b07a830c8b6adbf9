"""Solver backends behind one small interface (:class:`planner.solvers.base.Backend`).

Solver types never leak out of this package: backends take a
:class:`~planner.solvers.base.Problem` of plain arrays and return a
:class:`~planner.solvers.base.Solution`.
"""

from __future__ import annotations

from planner.solvers.base import Backend
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.greedy import GreedyBackend

BACKENDS: dict[str, type[Backend]] = {"cpsat": CpSatBackend, "greedy": GreedyBackend}


def get_backend(name: str) -> Backend:
    """A backend by name (``cpsat`` or ``greedy``)."""
    return BACKENDS[name]()
