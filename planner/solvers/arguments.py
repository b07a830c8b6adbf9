"""The arguments every plan takes, checked where they enter: a time limit, workers, a seed
(and, for the Python API's :func:`~planner.api.plan`, :func:`check_plan_call`: the solver
and executor names, the progress callback, the deadline and the on/off switches).

The Python API (:func:`planner.api.plan`, :func:`~planner.api.plan_world`,
:func:`~planner.api.verify_report`) and the command line's option callbacks
(:func:`planner.cli.common.checked`) call the same checks, so both refuse the same values
with the same message: an :class:`~planner.errors.InputError` (exit code 2) naming the
argument as the caller spells it and a fix.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from planner.errors import InputError, a_kind
from planner.parallel import EXECUTORS
from planner.solvers import AUTO, BACKENDS
from planner.solvers.base import Deadline
from planner.solvers.options import MAX_SEED, MAX_WORKERS


def _not_a(what: str, value: object, name: str, hint: str) -> InputError:
    return InputError(f"{value!r} is not {what}", path=name, hint=hint)


def _whole(value: object) -> int | None:
    """``value`` as an int when it is a whole number (numpy's too), not a bool; else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def check_time_limit(seconds: object, name: str = "time_limit_s") -> float:
    """A time limit in seconds: a finite number above 0 (``inf`` would never end and
    ``nan`` compares false with every clock). ``name`` is how the caller spells the
    argument (``--time-limit`` on the command line)."""
    hint = "give seconds, e.g. 30"
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real | Decimal):
        raise _not_a("a number of seconds", seconds, name, hint)
    value = float(seconds)
    if not math.isfinite(value):
        raise _not_a("a finite number of seconds", seconds, name, hint)
    if value <= 0:
        raise InputError(f"{seconds!r} seconds: the time limit must be above 0", path=name,
                         hint=hint)
    return value


def check_workers(workers: object, name: str = "workers") -> int | None:
    """Solver threads or processes: a whole number from 1 to
    :data:`~planner.solvers.options.MAX_WORKERS` (CP-SAT takes no more), or None for the
    cores this process may use."""
    if workers is None:
        return None
    hint = "give 1 or more, or leave it out for the cores this process may use"
    count = _whole(workers)
    if count is None:
        raise _not_a("a whole number", workers, name, hint)
    if count < 1:
        raise InputError(f"{workers!r} workers: at least 1 is needed", path=name, hint=hint)
    if count > MAX_WORKERS:
        raise InputError(f"{count:,} workers: CP-SAT takes at most {MAX_WORKERS:,}",
                         path=name, hint="give the cores to use, or leave it out for the "
                                         "cores this process may use")
    return count


def check_seed(seed: object, name: str = "seed") -> int:
    """A random seed: a whole number from 0 to :data:`~planner.solvers.options.MAX_SEED`
    (CP-SAT's seed is a 32-bit integer; the heuristics' generators take no negative seed)."""
    hint = "give a seed in that range, e.g. 0"
    value = _whole(seed)
    if value is None:
        raise _not_a("a whole number", seed, name, f"give a seed from 0 to {MAX_SEED:,}")
    if not 0 <= value <= MAX_SEED:
        raise InputError(f"{value} is outside the allowed seeds 0 to {MAX_SEED:,}: CP-SAT's "
                         "random seed is a 32-bit integer, and the heuristics take no "
                         "negative seed", path=name, hint=hint)
    return value


def check_arguments(time_limit_s: object, workers: object, seed: object) -> None:
    """The arguments every plan takes (:func:`plan`, :func:`plan_world`, the CLI's
    options): :func:`check_time_limit`, :func:`check_workers`, :func:`check_seed`;
    an :class:`~planner.errors.InputError` (exit 2) for the first that is wrong."""
    check_time_limit(time_limit_s)
    check_workers(workers)
    check_seed(seed)


def check_choice(value: object, choices: Sequence[str], name: str) -> str:
    """One of ``choices`` (a solver or an executor name): anything else, a list or a number
    too, is an :class:`~planner.errors.InputError` (a list failed with "unhashable type")."""
    if isinstance(value, str) and value in choices:
        return value
    raise InputError(f"unknown {name} {value!r}", path=name,
                     hint=f"choose from {', '.join(sorted(choices))}")


def check_flag(value: object, name: str, none_ok: bool = False) -> None:
    """``True`` or ``False`` (or ``None`` where that means "by default"): a string such as
    ``"no"`` was taken as true, and a number failed inside numpy."""
    if isinstance(value, bool | np.bool_) or (none_ok and value is None):
        return
    raise InputError(f"{value!r} is not True or False", path=name,
                     hint="give True or False" + (", or None for the default"
                                                  if none_ok else ""))


def check_callable(value: object, name: str, hint: str) -> None:
    """None or something to call (a progress callback was called with each message and
    failed with "'str' object is not callable" mid-plan)."""
    if value is not None and not callable(value):
        raise InputError(f"expected a function or None, got {a_kind(value)}", path=name,
                         hint=hint)


def check_plan_call(solver: object, executor: object, address: object, progress: object,
                    deadline: object, explain: object, **flags: object) -> None:
    """The arguments of :func:`plan` and :func:`plan_world` besides the time limit, workers
    and seed (:func:`check_arguments`): a solver or executor name, the Ray address, a
    progress callback, a :class:`Deadline`, and the on/off switches (``True``/``False``;
    ``explain`` may be None). A list as the solver or a string as the callback failed
    with a ``TypeError`` mid-plan; an unknown executor or a string flag (``"no"``) was
    taken silently."""
    check_choice(solver, [*BACKENDS, AUTO], "solver")
    check_choice(executor, EXECUTORS, "executor")
    if address is not None and not isinstance(address, str):
        raise InputError(f"expected the Ray address as text, got {address!r}",
                         path="address", hint="e.g. \"ray://head:10001\", or leave it out")
    check_callable(progress, "progress", "e.g. progress=print, or leave it out")
    if deadline is not None and not isinstance(deadline, Deadline):
        raise InputError(f"expected a planner.solvers.base.Deadline, got {deadline!r}",
                         path="deadline", hint="Deadline.after(seconds), or leave it out for "
                                               "time_limit_s from now")
    check_flag(explain, "explain", none_ok=True)
    for name, value in flags.items():
        check_flag(value, name)
