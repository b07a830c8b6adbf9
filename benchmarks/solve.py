"""Run one solver with a cost-vs-time trace: any registered backend, or ``auto``.

``cpsat`` (monolithic CP-SAT) is traced through a solution callback; ``lns`` (and any
backend with a ``trace`` attribute, filled while it solves) reports its own trace; other
backends give one point (their answer). ``auto`` is resolved as the planner resolves it
(:func:`planner.solvers.choose_backend`), then traced like the backend it chose."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from ortools.sat.python import cp_model

from planner.models.problem import Problem
from planner.solvers import AUTO, choose_backend, get_backend
from planner.solvers.base import Solution, SolveOptions
from planner.solvers.lns import LnsBackend, LnsConfig

Trace = list[tuple[float, int | None, int | None]]


class _Recorder(cp_model.CpSolverSolutionCallback):
    """Every improving CP-SAT solution: (seconds since start, objective, best bound — never
    below ``floor``, the problem's trivial bound)."""

    def __init__(self, start: float, trace: Trace, floor: int) -> None:
        super().__init__()
        self.start = start
        self.trace = trace
        self.floor = floor

    def on_solution_callback(self) -> None:
        self.trace.append((time.perf_counter() - self.start, round(self.objective_value),
                           max(self.floor, round(self.best_objective_bound))))


def cpsat_traced(problem: Problem, options: SolveOptions) -> tuple[Solution, Trace]:
    """The monolithic CP-SAT baseline exactly as the ``cpsat`` backend runs it (it is that
    backend), with a solution callback for the trace."""
    from planner.solvers.cpsat import CpSatBackend

    start = time.perf_counter()
    trace: Trace = []
    sol = CpSatBackend(callback=_Recorder(start, trace, problem.trivial_bound())).solve(
        problem, options)
    trace.append((time.perf_counter() - start, sol.objective, sol.bound))
    return sol, trace


def solve_traced(name: str, problem: Problem, options: SolveOptions, *, executor: str = "local",
                 address: str | None = None, progress: bool = False) -> tuple[Solution, Trace]:
    """Solve with backend ``name`` (or ``auto``) and return its (time, objective, bound)
    trace; the solution's ``backend`` names the backend that solved."""
    if name == AUTO:
        name = choose_backend(AUTO, problem.n_options, problem.funding)
    if name == "cpsat":
        return cpsat_traced(problem, options)
    if name == "lns":
        show = _progress_bar(options.time_limit_s) if progress else None
        lns = LnsBackend(LnsConfig(executor=executor, address=address), progress=show)
        try:
            sol = lns.solve(problem, options)
        finally:
            if show is not None:
                show(-1.0, None, None)
        return sol, lns.trace
    backend = get_backend(name, executor=executor, address=address)
    sol = backend.solve(problem, options)
    trace: Trace = list(getattr(backend, "trace", None) or [])  # lp: each new plan
    return sol, [*trace, (sol.solve_time_s, sol.objective, sol.bound)]


def _progress_bar(limit: float) -> Callable[[float, int | None, int | None], None]:
    """A rich progress bar on stderr: time used of the limit, current cost and gap."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[bold]lns[/]"), BarColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=Console(file=sys.stderr))
    task = bar.add_task("starting", total=limit)
    bar.start()

    def update(t: float, obj: int | None, bound: int | None) -> None:
        if t < 0:
            bar.stop()
            return
        gap = f"gap {(obj - bound) / obj:.3%}" if obj and bound is not None else "no bound yet"
        cost = f"${obj / 1e6:,.0f}" if obj is not None else "no plan yet"
        bar.update(task, completed=min(t, limit), description=f"{cost}  {gap}")

    return update
