"""The time-aware side of the harness: the planner's default path and monolithic CP-SAT
with intervals, on the same portfolio at the same wall-clock budget.

Three "solvers" (each in its own child process, like every other, :mod:`benchmarks.run`):

``schedule``
    the planner's default solve path on the arrays: candidates (large-portfolio mode),
    problem, :func:`~planner.compile.timing.build_timing`, and
    :func:`planner.solvers.schedule_plan.place_and_schedule` with the backend ``auto``
    picks (exactly what :func:`planner.api.plan_world` calls), whose answer is checked by
    :func:`~planner.solvers.feasibility.violations` and
    :func:`~planner.solvers.schedule_check.schedule_violations` (it raises otherwise);
    plan building and the plan verifier are not part of it (see ``plan``);
``plan``
    the planner's default path end to end: :func:`planner.api.plan_world` with
    ``solver="auto"`` and ``explain=False`` (large-portfolio mode), whose time limit is
    wall-clock for the whole call (candidates, timing, placement, scheduling and repair,
    plan building); it verifies its plan (:func:`planner.verify.check.verify`) and the
    record says so. Objective and bound are the plan's own (``plan.solver``).
``cpsat-schedule``
    the exact time-aware CP-SAT model (:class:`planner.solvers.schedule_cpsat.ScheduleBuilder`:
    optional intervals per option, cumulative pools, windows, precedence, late penalties)
    on the whole portfolio, traced through a solution callback; its answer is checked by
    :func:`planner.solvers.feasibility.violations` and
    :func:`planner.solvers.schedule_check.schedule_violations` (the array-level checks;
    plan building for it is not measured).

All get the same budget: the time limit is wall-clock from the start of the child process
(as ``planner plan --time-limit`` counts it; portfolio generation included), so every
child ends within about the same wall time. ``BENCH_AS_LIMIT_GIB`` caps a child's address
space (the monolithic model at l on a shared machine).
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any

from ortools.sat.python import cp_model

TIMED_SOLVERS = ("schedule", "plan", "cpsat-schedule")


def _process_age() -> float:
    """Seconds since this process started (Linux ``/proc``; 0 elsewhere)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        up = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, up - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def _limit_memory() -> None:
    """``BENCH_AS_LIMIT_GIB``: cap this child's address space (a monolithic model that
    outgrows a shared machine fails alone instead of starving the others)."""
    gib = os.environ.get("BENCH_AS_LIMIT_GIB")
    if gib:
        limit = int(float(gib) * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


class _Recorder(cp_model.CpSolverSolutionCallback):
    """(seconds since ``start``, objective, best bound) of every improving solution."""

    def __init__(self, start: float, trace: list[list[Any]]) -> None:
        super().__init__()
        self.start, self.trace = start, trace

    def on_solution_callback(self) -> None:
        self.trace.append([round(time.perf_counter() - self.start, 3),
                           round(self.objective_value), round(self.best_objective_bound)])


def _arrays(portfolio: Any, catalogs: Any) -> tuple[Any, Any, Any, Any]:
    from planner.compile.arrays import build_problem
    from planner.compile.candidates import generate
    from planner.compile.resolve import build_world
    from planner.compile.timing import build_timing

    world = build_world(portfolio, catalogs)
    cands = generate(portfolio, world, keep_pruned_options=False)
    problem = build_problem(cands, world)
    return world, cands, problem, build_timing(portfolio, cands, problem, world.gpu_quotas)


def _monolithic(rec: dict[str, Any], portfolio: Any, catalogs: Any, deadline: Any,
                workers: int, seed: int) -> None:
    import numpy as np

    from planner.solvers.base import SolveOptions
    from planner.solvers.cpsat_model import configure
    from planner.solvers.feasibility import violations
    from planner.solvers.schedule_check import schedule_violations
    from planner.solvers.schedule_cpsat import ScheduleBuilder

    t = time.perf_counter()
    world, _cands, problem, timing = _arrays(portfolio, catalogs)
    rec.update(stages=problem.n_stages, options=problem.n_options,
               reduced_options=problem.n_options, sites=len(world.sites),
               problem_s=round(time.perf_counter() - t, 3), backend="cpsat-schedule")
    start = time.perf_counter()
    builder = ScheduleBuilder(problem, timing)
    model = builder.build()
    rec["model_build_s"] = round(time.perf_counter() - start, 3)
    solver = cp_model.CpSolver()
    configure(solver, SolveOptions(workers=workers, seed=seed, deadline=deadline))
    trace: list[list[Any]] = []
    code = solver.solve(model, _Recorder(start, trace))
    rec["solve_s"] = round(time.perf_counter() - start, 3)
    rec["status"] = solver.status_name(code).lower()
    rec["trace"] = trace
    rec["first_feasible_s"] = trace[0][0] if trace else None
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        rec["objective_micro"] = None
        rec["own_bound_micro"] = (int(solver.best_objective_bound)
                                  if np.isfinite(solver.best_objective_bound) else None)
        rec["verified"] = False
        return
    x, starts = builder.read(solver)
    broken = violations(problem, x) + schedule_violations(problem, timing, x, starts)
    rec["violations"] = len(broken)
    rec["verified"] = not broken
    late = timing.late_penalty(problem, x, starts)
    rec["objective_micro"] = problem.objective(x) + late
    rec["own_bound_micro"] = min(int(solver.best_objective_bound), rec["objective_micro"])
    rec["cost_usd"] = problem.real_cost(x, set(range(problem.n_stages))) / 1e6
    rec["late_penalty_usd"] = late / 1e6


def _schedule(rec: dict[str, Any], portfolio: Any, catalogs: Any, deadline: Any,
              workers: int, seed: int) -> None:
    from planner.solvers import AUTO, choose_backend, get_backend
    from planner.solvers.base import SolveOptions
    from planner.solvers.schedule_plan import place_and_schedule

    t = time.perf_counter()
    world, _cands, problem, timing = _arrays(portfolio, catalogs)
    name = choose_backend(AUTO, problem.n_options, problem.funding)
    rec.update(stages=problem.n_stages, options=problem.n_options,
               reduced_options=problem.n_options, sites=len(world.sites),
               problem_s=round(time.perf_counter() - t, 3), backend=name)
    start = time.perf_counter()
    options = SolveOptions(time_limit_s=deadline.remaining(), workers=workers, seed=seed,
                           deadline=deadline)
    done = place_and_schedule(problem, timing, get_backend(name), options)
    sol = done.solution
    rec["solve_s"] = round(time.perf_counter() - start, 3)
    rec.update(status=sol.status.value, detail=sol.detail,
               stats={k: float(v) for k, v in sol.stats.items()},
               objective_micro=sol.objective, own_bound_micro=sol.bound)
    rec["trace"] = [[rec["solve_s"], sol.objective, sol.bound]]
    rec["first_feasible_s"] = rec["solve_s"] if sol.objective is not None else None
    # place_and_schedule checks its answer (violations + schedule_violations) or raises
    rec["verified"] = sol.objective is not None
    rec["violations"] = 0
    if sol.objective is not None:
        rec["cost_usd"] = problem.real_cost(sol.x, set(range(problem.n_stages))) / 1e6
        rec["late_penalty_usd"] = timing.late_penalty(problem, sol.x, done.start) / 1e6


def _default_path(rec: dict[str, Any], portfolio: Any, catalogs: Any, deadline: Any,
                  workers: int, seed: int, executor: str, address: str | None) -> None:
    from planner import api
    from planner.compile.resolve import build_world
    from planner.verify.check import verify

    world = build_world(portfolio, catalogs)
    start = time.perf_counter()
    plan = api.plan_world(portfolio, world, solver="auto",
                          time_limit_s=max(0.01, deadline.remaining()), workers=workers,
                          seed=seed, explain=False, executor=executor, address=address,
                          deadline=deadline)
    rec["solve_s"] = round(time.perf_counter() - start, 3)
    rep = plan.solver
    rec.update(stages=sum(len(w.stages) for w in portfolio.workloads), sites=len(world.sites),
               backend=rep.backend, status=rep.status.value, detail=rep.detail,
               model_build_s=rep.build_time_s or 0.0)
    obj = None if rep.objective_usd is None else round(rep.objective_usd * 1_000_000)
    bound = None if rep.bound_usd is None else round(rep.bound_usd * 1_000_000)
    rec["objective_micro"], rec["own_bound_micro"] = obj, bound
    rec["trace"] = [[rec["solve_s"], obj, bound]]
    rec["first_feasible_s"] = rec["solve_s"] if obj is not None else None
    broken = verify(portfolio, world, plan) if plan.feasible else []
    rec["violations"] = len(broken)
    rec["verified"] = bool(plan.feasible and not broken)
    rec["cost_usd"] = float(plan.totals.total_usd) if plan.feasible else None
    rec["schedule"] = bool(getattr(plan, "schedule", None))


def run_timed_one(size: str, solver: str, time_limit: float, seed: int, workers: int,
                  executor: str, address: str | None, family: str = "timed",
                  solver_seed: int | None = None) -> dict[str, Any]:
    """One record of the time-aware comparison (module docstring): the portfolio of
    ``seed``, the solver seeded with ``solver_seed`` (default ``seed``)."""
    from benchmarks.generate import generate_portfolio
    from benchmarks.run import _peak_rss_mib
    from planner import api
    from planner.solvers.options import Deadline

    wall = time.perf_counter()
    _limit_memory()
    solver_seed = seed if solver_seed is None else solver_seed
    rec: dict[str, Any] = {"size": size, "solver": solver, "seed": seed, "family": family,
                           "solver_seed": solver_seed, "time_limit_s": time_limit,
                           "load_start": _load(), "rss_mib": {}}
    t = time.perf_counter()
    portfolio = generate_portfolio(size, seed, family=family)
    rec["gen_s"] = round(time.perf_counter() - t, 3)
    catalogs = api.load_catalogs(Path(__file__).resolve().parent.parent / "catalogs")
    # The budget is wall-clock from the start of the child process (as `planner plan
    # --time-limit` counts it), minus a second to exit and report.
    age = _process_age() if os.environ.get("BENCH_CHILD") else 0.0
    deadline = Deadline.after(time_limit - age - 1.0)
    if solver == "plan":
        _default_path(rec, portfolio, catalogs, deadline, workers, solver_seed, executor,
                      address)
    elif solver == "schedule":
        _schedule(rec, portfolio, catalogs, deadline, workers, solver_seed)
    else:
        _monolithic(rec, portfolio, catalogs, deadline, workers, solver_seed)
    rec["wall_s"] = round(time.perf_counter() - wall, 3)
    rec["load_end"] = _load()
    rec["peak_rss_mib"] = _peak_rss_mib()
    return rec
