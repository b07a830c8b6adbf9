"""The arguments every plan takes, checked where they enter: a time limit, workers, a seed.

The Python API (:func:`planner.api.plan`, :func:`~planner.api.plan_world`,
:func:`~planner.api.verify_report`) and the command line's option callbacks
(:func:`planner.cli.common.checked`) call the same checks, so both refuse the same values
with the same message: an :class:`~planner.errors.InputError` (exit code 2) naming the
argument as the caller spells it and a fix.
"""

from __future__ import annotations

import math
import numbers
from decimal import Decimal

from planner.errors import InputError
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
