"""Where independent pieces of work run: this process, local processes, or a Ray cluster.

Sub-problems of a decomposed portfolio (and what-if scenario sweeps) are independent
function calls ``fn(item)``; an :class:`Executor` maps them and returns the results in
order. ``local`` (the default) uses a :class:`concurrent.futures.ProcessPoolExecutor`;
``ray`` submits the calls as Ray tasks to the cluster at ``address`` (``auto``, a
``ray://host:port`` client address, or None for a local Ray started on the spot); the
cluster's workers need ``planner`` importable (installed, or on ``PYTHONPATH`` through the
job's runtime environment). Ray is optional: ``pip install 'planner[ray]'``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, TypeVar

from planner.errors import InputError

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("serial", "local", "ray")


class Executor(Protocol):
    """Runs independent calls ``fn(item)``; results come back in the order of ``items``."""

    name: str

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Everything in this process, one call after the other (tests, tiny inputs)."""

    name = "serial"

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(item) for item in items]

    def close(self) -> None:
        return None


class LocalExecutor:
    """Local worker processes (``spawn``: safe next to the solver's threads, and talks to
    its workers over pipes, not sockets)."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if len(items) <= 1 or self.workers == 1:
            return [fn(item) for item in items]
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Ray tasks on a cluster (``address='auto'`` or ``ray://…``) or a local Ray."""

    name = "ray"

    def __init__(self, address: str | None = None, **init_kwargs: Any) -> None:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise InputError(
                "the ray executor needs Ray", hint="pip install 'planner[ray]'"
            ) from exc
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            ray.init(address=address, **init_kwargs)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        remote: Any = self._ray.remote(_call)
        return list(self._ray.get([remote.remote(fn, item) for item in items]))

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()


def _call(fn: Callable[[T], R], item: T) -> R:
    """A Ray task: ``fn(item)`` (any picklable callable, builtins included)."""
    return fn(item)


def make_executor(kind: str = "local", *, address: str | None = None,
                  workers: int | None = None) -> Executor:
    """An executor by name: ``serial``, ``local`` (processes) or ``ray``."""
    if kind == "serial":
        return SerialExecutor()
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(address)
    raise InputError(f"unknown executor {kind!r}", hint=f"choose from {', '.join(EXECUTORS)}")
