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

    * Up to :data:`AUTO_EXACT_OPTIONS` options: ``cpsat``, which proves optimality on such
      problems in seconds (and is deterministic with ``--reproducible``); for partial
      plans (funding) too, the one backend besides greedy that chooses which workloads
      to place.
    * Partial plans above: ``greedy``, whose placement the time-aware path schedules and
      searches on the exact model. The exact path gives its greedy start a fifth of the
      time: on a generated 1,000-stage portfolio (hard s, seed 1; 25,907 options, 30 s)
      it left out three workloads where ``greedy`` left out two, in two runs each.
    * Above: ``lp`` (:mod:`planner.solvers.lp_strategy`), which decides by what the
      instance needs: greedy and the LP bound first; exact CP-SAT on the reduced problem
      when it is small, LP-guided neighbourhood search otherwise, until the time limit or
      a gap of 0.01 % to the LP bound. It keeps the greedy plan when nothing beats it.

    Every backend stops at the wall-clock deadline with its best plan."""
    if name != AUTO:
        return name
    if n_options <= AUTO_EXACT_OPTIONS:
        return "cpsat"
    return "greedy" if funding else "lp"


def get_backend(name: str, *, executor: str = "local", address: str | None = None) -> Backend:
    """A backend by name (``cpsat``, ``greedy``, ``lp`` or ``lns`` for large portfolios); the
    ``lns`` strategy runs its sub-problems on ``executor`` (``local`` processes or ``ray``
    at ``address``)."""
    if name == "lns":
        return LnsBackend(LnsConfig(executor=executor, address=address))
    return BACKENDS[name]()
