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
from planner.solvers.tuning import AUTO_LNS_OPTIONS  # the auto threshold (documented there)

BACKENDS: dict[str, type[Backend]] = {
    "cpsat": CpSatBackend,
    "greedy": GreedyBackend,
    "lns": LnsBackend,
}


AUTO = "auto"


def choose_backend(name: str, n_options: int, funding: bool = False) -> str:
    """Resolve ``auto`` by problem size; other names pass through. With funding (partial
    plans) ``auto`` always picks ``cpsat``: ``lns`` does not support it (its
    capabilities lack funding), and CP-SAT starts from the funding-aware greedy plan,
    so it answers within any time limit."""
    if name != AUTO:
        return name
    return "cpsat" if n_options <= AUTO_LNS_OPTIONS or funding else "lns"


def get_backend(name: str, *, executor: str = "local", address: str | None = None) -> Backend:
    """A backend by name (``cpsat``, ``greedy`` or ``lns`` for large portfolios); the
    ``lns`` strategy runs its sub-problems on ``executor`` (``local`` processes or ``ray``
    at ``address``)."""
    if name == "lns":
        return LnsBackend(LnsConfig(executor=executor, address=address))
    return BACKENDS[name]()
