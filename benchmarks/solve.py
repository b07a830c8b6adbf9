"""Run one solver with a cost-vs-time trace: greedy, monolithic CP-SAT, or the strategy."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from ortools.sat.python import cp_model

from planner.solvers import get_backend
from planner.solvers.base import Problem, Solution, SolveOptions, SolveStatus
from planner.solvers.lns import LnsBackend, LnsConfig

Trace = list[tuple[float, int | None, int | None]]


class _Recorder(cp_model.CpSolverSolutionCallback):
    """Every improving CP-SAT solution: (seconds since start, objective, best bound)."""

    def __init__(self, start: float, trace: Trace) -> None:
        super().__init__()
        self.start = start
        self.trace = trace

    def on_solution_callback(self) -> None:
        self.trace.append((time.perf_counter() - self.start, round(self.objective_value),
                           round(self.best_objective_bound)))


def cpsat_traced(problem: Problem, options: SolveOptions) -> tuple[Solution, Trace]:
    """The monolithic CP-SAT baseline exactly as the ``cpsat`` backend runs it (same model
    builder, same greedy hint, same parameters), with a solution callback for the trace."""
    from planner.solvers import cpsat
    from planner.solvers.greedy import greedy_assign

    start = time.perf_counter()
    trace: Trace = []
    builder = cpsat.ModelBuilder(problem)
    model = builder.build()
    hint, complete = greedy_assign(problem)
    if complete:
        for o, var in enumerate(builder.x):
            model.add_hint(var, int(hint[o]))
    build_time = time.perf_counter() - start
    solver = cp_model.CpSolver()
    cpsat.configure(solver, options)
    code = solver.solve(model, _Recorder(start, trace))
    status = cpsat._STATUS.get(code, SolveStatus.UNKNOWN)
    x = builder.read(solver) if status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE) else None
    objective = round(solver.objective_value) if x is not None else None
    bound = round(solver.best_objective_bound) if problem.n_options else None
    if x is None:
        import numpy as np

        x = np.zeros(problem.n_options, dtype=np.int64)
    elapsed = time.perf_counter() - start
    trace.append((elapsed, objective, bound))
    return Solution("cpsat", status, x, objective, bound, elapsed, solver.status_name(code),
                    {"build_time_s": build_time}), trace


def solve_traced(name: str, problem: Problem, options: SolveOptions, *, executor: str = "local",
                 address: str | None = None, progress: bool = False) -> tuple[Solution, Trace]:
    """Solve with backend ``name`` and return its (time, objective, bound) trace."""
    if name == "cpsat":
        return cpsat_traced(problem, options)
    if name == "lns":
        show = _progress_bar(options.time_limit_s) if progress else None
        backend = LnsBackend(LnsConfig(executor=executor, address=address), progress=show)
        try:
            sol = backend.solve(problem, options)
        finally:
            if show is not None:
                show(-1.0, None, None)
        return sol, backend.trace
    sol = get_backend(name).solve(problem, options)
    return sol, [(sol.solve_time_s, sol.objective, sol.bound)]


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
