"""CP-SAT backend (OR-Tools): the exact model of :mod:`planner.solvers.cpsat_model`
(its docstring has the math), warm-started from greedy; proves optimality or
infeasibility when time allows, and finds unsatisfiable cores of rule groups
(:mod:`planner.solvers.diagnosis`).
"""

from __future__ import annotations

import time

import numpy as np
from ortools.sat.python import cp_model

from planner.models.problem import IntArray, Problem
from planner.solvers import diagnosis
from planner.solvers.base import (
    ConflictCheck,
    Core,
    Solution,
    SolveOptions,
    SolverError,
    SolveStatus,
    decline,
)
from planner.solvers.bound import safe_floor
from planner.solvers.capabilities import ALL_FEATURES, Capabilities
from planner.solvers.cpsat_model import Guard, ModelBuilder, configure, validated
from planner.solvers.feasibility import finish, violations
from planner.solvers.greedy import greedy_assign

__all__ = ["CpSatBackend", "Guard", "ModelBuilder", "configure", "validated"]

_STATUS = {
    cp_model.OPTIMAL: SolveStatus.OPTIMAL,
    cp_model.FEASIBLE: SolveStatus.FEASIBLE,
    cp_model.INFEASIBLE: SolveStatus.INFEASIBLE,
    cp_model.UNKNOWN: SolveStatus.UNKNOWN,
}



def _start(problem: Problem, options: SolveOptions) -> IntArray | None:
    """The warm start: the caller's hint or the greedy pass; only a complete plan that
    meets every rule is kept (it is also the answer when time runs out)."""
    if options.hint is not None:
        hint = options.hint
    else:
        hint, complete = greedy_assign(problem)
        if not complete:
            return None
    return hint if not violations(problem, hint) else None


class CpSatBackend:
    """Exact backend: proves optimality or infeasibility when time allows; finds
    unsatisfiable cores of rule groups."""

    name = "cpsat"
    capabilities = Capabilities(honours=ALL_FEATURES, proves_optimality=True,
                                proves_bound=True, unsat_core=True, deterministic=True)

    def __init__(self, callback: cp_model.CpSolverSolutionCallback | None = None) -> None:
        self.callback = callback  # benchmarks trace every improving solution

    def find_core(self, problem: Problem, options: SolveOptions) -> Core:
        """A minimal set of rule groups of ``problem`` (built with its pruned options,
        ``opt_groups``) that admit no plan together (:func:`diagnosis.find_core`)."""
        return diagnosis.find_core(problem, options)

    def check_conflict(self, problem: Problem, rules: list[str],
                       options: SolveOptions) -> ConflictCheck:
        """Re-solve an infeasibility claim (:func:`diagnosis.check_conflict`)."""
        return diagnosis.check_conflict(problem, rules, options)

    def solve(self, problem: Problem, options: SolveOptions) -> Solution:
        declined = decline(self.name, self.capabilities, problem)
        if declined is not None:
            return declined
        options = options.started()
        start = time.perf_counter()
        builder = ModelBuilder(problem)
        model = builder.build()
        validated(model)
        hint = _start(problem, options)
        if hint is not None:
            builder.add_hint(hint)
        build_time = time.perf_counter() - start
        solver = cp_model.CpSolver()
        configure(solver, options)
        code = solver.solve(model, self.callback)
        if code == cp_model.MODEL_INVALID:
            raise SolverError("CP-SAT rejects the placement model (MODEL_INVALID) although "
                              "it passed validation")
        sol = self._read(problem, builder, solver, code, hint)
        sol.solve_time_s = time.perf_counter() - start
        sol.stats = {"build_time_s": build_time, "solve_time_s": solver.wall_time,
                     "branches": float(solver.num_branches)}
        return finish(problem, sol)

    def _read(self, problem: Problem, builder: ModelBuilder, solver: cp_model.CpSolver,
              code: cp_model.CpSolverStatus, hint: IntArray | None) -> Solution:
        status = _STATUS.get(code, SolveStatus.UNKNOWN)
        detail = solver.status_name(code)
        zeros = np.zeros(problem.n_options, dtype=np.int64)
        if status is SolveStatus.INFEASIBLE:
            return Solution(self.name, status, zeros, None, None, 0.0, detail)
        bound = (safe_floor(solver.best_objective_bound) if problem.n_options
                 and np.isfinite(solver.best_objective_bound) else None)
        if status is SolveStatus.UNKNOWN:
            if problem.funding:
                # CP-SAT reports 0 as its bound when it stops before any search; valid
                # only for non-negative objectives, and funding rewards make them negative.
                bound = None
            if hint is None:
                return Solution(self.name, status, zeros, None, bound, 0.0, detail)
            return Solution(self.name, SolveStatus.FEASIBLE, hint, problem.objective(hint),
                            bound, 0.0, "time limit reached: the verified greedy start")
        x = builder.read(solver)
        objective = problem.objective(x)
        if status is SolveStatus.FEASIBLE and hint is not None and \
                problem.objective(hint) < objective:
            x, objective = hint, problem.objective(hint)
        if status is SolveStatus.OPTIMAL:
            if abs(solver.objective_value - objective) > 1e-9 * abs(objective) + 1:
                raise SolverError(f"CP-SAT's optimum {solver.objective_value:.0f} differs "
                                  f"from its plan's cost {objective}")
            bound = objective  # proven: no plan is cheaper
        return Solution(self.name, status, x, objective, bound, 0.0, detail)
