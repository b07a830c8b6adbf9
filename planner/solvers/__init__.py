"""Solver backends behind one small interface (:class:`planner.solvers.base.Backend`).

Solver types never leak out of this package: backends take a
:class:`~planner.solvers.base.Problem` of plain arrays and return a
:class:`~planner.solvers.base.Solution`.
"""

from __future__ import annotations

from planner.solvers.base import Backend
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.greedy import GreedyBackend
from planner.solvers.lns import LnsBackend, LnsConfig
from planner.solvers.lp_strategy import LpBackend
from planner.solvers.tuning import AUTO_EXACT_OPTIONS  # the auto threshold (documented there)

BACKENDS: dict[str, type[Backend]] = {
    "cpsat": CpSatBackend,
    "greedy": GreedyBackend,
    "lns": LnsBackend,
    "lp": LpBackend,
}


AUTO = "auto"


def choose_backend(name: str, n_options: int, funding: bool = False) -> str:
    """Resolve ``auto``; other names pass through.

    * Partial plans (funding): ``cpsat``, the one backend besides greedy that chooses which
      workloads to place; it starts from the funding-aware greedy plan, so it answers
      within any time limit and never ends worse than greedy.
    * Up to :data:`AUTO_EXACT_OPTIONS` options: ``cpsat``, which proves optimality on such
      problems in seconds (and is deterministic with ``--reproducible``).
    * Above: ``lp`` (:mod:`planner.solvers.lp_strategy`), which decides by what the
      instance needs: greedy and the LP bound first; exact CP-SAT on the reduced problem
      when it is small, LP-guided neighbourhood search otherwise, until the time limit or
      a gap of 0.01 % to the LP bound. It keeps the greedy plan when nothing beats it.

    Every backend stops at the wall-clock deadline with its best plan."""
    if name != AUTO:
        return name
    if funding or n_options <= AUTO_EXACT_OPTIONS:
        return "cpsat"
    return "lp"


def get_backend(name: str, *, executor: str = "local", address: str | None = None) -> Backend:
    """A backend by name (``cpsat``, ``greedy``, ``lp`` or ``lns`` for large portfolios); the
    ``lns`` strategy runs its sub-problems on ``executor`` (``local`` processes or ``ray``
    at ``address``)."""
    if name == "lns":
        return LnsBackend(LnsConfig(executor=executor, address=address))
    return BACKENDS[name]()
