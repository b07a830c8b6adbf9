"""Solve options shared by every backend: the wall-clock :class:`Deadline`, workers, seed,
determinism, and the error the solver layer raises when it catches itself out.

Re-exported by :mod:`planner.solvers.base`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from planner.errors import PlannerError

IntArray = NDArray[np.int64]


class SolverError(PlannerError):
    """The solver layer caught itself out: CP-SAT rejected the model, a backend's plan broke
    a rule in the shared feasibility check, or a bound exceeded its objective. Always a
    planner bug, never a property of the input."""

    exit_code = 8

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or "this is a planner bug; please report it "
                         "with the input")


MAX_WORKERS = 10_000
"""The most solver workers: CP-SAT refuses a model with more ``num_workers`` than this
(MODEL_INVALID, which the planner reports as its own bug)."""

MAX_SEED = 2**31 - 1
"""The largest random seed: CP-SAT's ``random_seed`` is a 32-bit signed integer, and numpy's
generators (the heuristics') take no negative seed, so seeds run from 0 to this."""


def cpsat_seed(seed: int) -> int:
    """``seed`` as CP-SAT takes it: a seed the planner derives (the user's seed plus a
    neighbourhood's iteration) wraps around within 0..:data:`MAX_SEED`."""
    return seed % (MAX_SEED + 1)


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def process_age_s() -> float:
    """Seconds since this process started (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - started)


@dataclass(frozen=True)
class Deadline:
    """A wall-clock instant (``time.monotonic()`` seconds) by which a phase must end.

    ``planner plan --time-limit S`` makes one deadline S seconds after the command starts;
    every phase (candidates, solve, diagnosis, plan building) reads what is left of it.
    """

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + max(0.0, seconds))

    def remaining(self) -> float:
        """Seconds left (0 when past)."""
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def earlier(self, seconds: float) -> Deadline:
        """This deadline moved ``seconds`` earlier (time kept for a later phase)."""
        return Deadline(self.at - max(0.0, seconds))

    def within(self, seconds: float) -> Deadline:
        """``seconds`` from now, but never later than this deadline."""
        return Deadline(min(self.at, time.monotonic() + max(0.0, seconds)))


@dataclass(frozen=True)
class SolveOptions:
    """Backend-independent knobs.

    ``deadline`` is the wall-clock instant the backend must return by (the caller keeps
    time for the phases after it); without one, a backend starts a deadline of
    ``time_limit_s`` when it starts (:meth:`started`). ``time_limit_s`` is what the user
    asked for, reported in the plan. ``deterministic`` makes CP-SAT count deterministic
    time instead of wall time: the same input gives the same plan on every run, and the
    time limit becomes approximate.
    """

    time_limit_s: float = 30.0
    workers: int = field(default_factory=default_workers)
    seed: int = 0
    deterministic: bool = False
    hint: IntArray | None = None
    deadline: Deadline | None = None
    target_gap: float | None = None
    """Stop improving once (objective − bound) / objective is below this (None: the
    backend's own target); the decomposed time-aware path sets it for its placement,
    whose plan the schedule changes anyway."""

    def started(self) -> SolveOptions:
        """These options with a deadline (``time_limit_s`` from now if none was set)."""
        if self.deadline is not None:
            return self
        return dataclasses.replace(self, deadline=Deadline.after(self.time_limit_s))

    def remaining_s(self) -> float:
        """Seconds left before the deadline (``time_limit_s`` when none is set)."""
        return self.deadline.remaining() if self.deadline is not None else self.time_limit_s

    def expired(self) -> bool:
        """Whether the deadline has passed (never without one)."""
        return self.deadline is not None and self.deadline.expired()

    def until(self, deadline: Deadline) -> SolveOptions:
        """The same options with another deadline (for a sub-problem)."""
        return dataclasses.replace(self, deadline=deadline)

    @property
    def mode(self) -> str:
        """How the time limit is read, in words (for the plan and the summary)."""
        return ("deterministic: same plan every run, time limit approximate"
                if self.deterministic else "wall-clock time limit")
