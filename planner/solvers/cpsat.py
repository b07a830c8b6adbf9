r"""CP-SAT backend (OR-Tools).

The model
---------
Sets
    S             stages;  O_s options of stage s (site × offer × purchase), disjoint
    R             limited resources: (site, offer) instance-hours and (site, GPU model)
                  GPU-hours per planning period
Data
    c_o ∈ ℤ≥0     cost of option o in micro-dollars (compute + data egress)
    u_{o,r} ∈ ℤ≥0 usage of resource r by option o, milli-unit-hours (rounded up)
    C_r ∈ ℤ≥0     capacity of resource r, milli-unit-hours (rounded down)
Variables
    x_o ∈ {0,1}   stage of o runs on option o
Constraints
    Σ_{o∈O_s} x_o = 1                 ∀ s ∈ S      (each stage placed exactly once)
    Σ_o u_{o,r} x_o ≤ C_r             ∀ r ∈ R      (capacity per resource)
Objective
    min Σ_o c_o x_o

Every coefficient is an integer (money in micro-dollars, usage in
milli-unit-hours), so CP-SAT solves the exact model. The greedy solution is
given as a hint (warm start). Rules that prune single options (residency,
certification, hardware, concurrency) are applied before the model is built.
"""

from __future__ import annotations

import time

import numpy as np
from ortools.sat.python import cp_model

from planner.solvers.base import Problem, Solution, SolveOptions, SolveStatus
from planner.solvers.greedy import greedy_choice

_STATUS = {
    cp_model.OPTIMAL: SolveStatus.OPTIMAL,
    cp_model.FEASIBLE: SolveStatus.FEASIBLE,
    cp_model.INFEASIBLE: SolveStatus.INFEASIBLE,
    cp_model.MODEL_INVALID: SolveStatus.UNKNOWN,
    cp_model.UNKNOWN: SolveStatus.UNKNOWN,
}


def build_model(problem: Problem) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
    """The CP-SAT model of the docstring above: variables, constraints, objective."""
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{o}") for o in range(problem.n_options)]
    # Each stage is placed exactly once.
    for s in range(problem.n_stages):
        model.add_exactly_one(x[o] for o in problem.options_of(s))
    # Capacity: usage of every limited resource stays within its capacity.
    if problem.use_res.size:
        order = np.argsort(problem.use_res, kind="stable")
        res_sorted = problem.use_res[order]
        starts = np.flatnonzero(np.r_[True, res_sorted[1:] != res_sorted[:-1]])
        ends = np.r_[starts[1:], res_sorted.size]
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            idx = order[a:b]
            r = int(res_sorted[a])
            amounts = problem.use_amt[idx]
            if int(amounts.sum()) <= int(problem.res_cap[r]):
                continue  # can never bind
            model.add(
                cp_model.LinearExpr.weighted_sum(
                    [x[o] for o in problem.use_opt[idx].tolist()], amounts.tolist()
                )
                <= int(problem.res_cap[r])
            )
    # Objective: total cost in micro-dollars.
    model.minimize(cp_model.LinearExpr.weighted_sum(x, problem.opt_cost.tolist()))
    return model, x


class CpSatBackend:
    """Exact backend: proves optimality or infeasibility when time allows."""

    name = "cpsat"
    proves_optimality = True

    def solve(self, problem: Problem, options: SolveOptions) -> Solution:
        start = time.perf_counter()
        model, x = build_model(problem)
        hint = options.hint if options.hint is not None else greedy_choice(problem)
        chosen = {int(o) for o in hint.tolist() if o >= 0}
        for o, var in enumerate(x):
            model.add_hint(var, o in chosen)
        build_time = time.perf_counter() - start

        solver = cp_model.CpSolver()
        params = solver.parameters
        params.num_workers = options.workers
        params.random_seed = options.seed
        if options.deterministic:
            # Deterministic parallel search; the limit counts deterministic time so
            # the same input stops at the same point on any machine load.
            params.interleave_search = True
            params.max_deterministic_time = options.time_limit_s
            params.max_time_in_seconds = options.time_limit_s * 10
        else:
            params.max_time_in_seconds = options.time_limit_s
        code = solver.solve(model)
        status = _STATUS.get(code, SolveStatus.UNKNOWN)
        elapsed = time.perf_counter() - start
        choice = np.full(problem.n_stages, -1, dtype=np.int64)
        objective = bound = None
        if status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            for s in range(problem.n_stages):
                for o in problem.options_of(s):
                    if solver.boolean_value(x[o]):
                        choice[s] = o
                        break
            objective = round(solver.objective_value)
            bound = round(solver.best_objective_bound)
        elif status is SolveStatus.UNKNOWN:
            bound = round(solver.best_objective_bound) if problem.n_options else None
        return Solution(
            self.name,
            status,
            choice,
            objective,
            bound,
            elapsed,
            detail=solver.status_name(code),
            stats={
                "build_time_s": build_time,
                "solve_time_s": solver.wall_time,
                "branches": float(solver.num_branches),
            },
        )
