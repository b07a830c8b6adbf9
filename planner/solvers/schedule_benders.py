r"""Logic-based Benders decomposition of the time-aware model (Hooker, Operations
Research 2007): place in a master problem, schedule in subproblems, cut what cannot run.

Master
    the placement model of :mod:`planner.solvers.cpsat` (every unit and side rule, the
    per-period capacity: a relaxation of capacity at every instant), plus θ_s ≥ 0 per
    stage, a lower bound on its late penalty; minimize placement objective + Σ θ_s.
Subproblems
    given the master's placement x*, the placed stages are split into *components*:
    stages that share a limited resource or a precedence arc (union-find). Each
    component is a pure scheduling problem (intervals fixed in size, cumulative
    capacity, windows, precedence, deadlines), solved by CP-SAT for its least late
    penalty L_c; batches of components run on the executor (this process, local
    processes or Ray: :mod:`planner.parallel`).
Cuts
    let b_o ⇔ (x_o ≥ x*_o) for the options a stage uses; for a stage with U units, all
    its b_o true means the very placement of x* (the units sum to U).
    * infeasible component, with C the stages of an infeasible core (CP-SAT's
      sufficient assumptions): Σ_{s∈C} Σ_{o used by s} b_o ≤ |{b}| − 1 (no-good);
    * feasible component with L_c > 0: Σ_{s∈c} θ_s ≥ L_c · (Σ b_o − |{b}| + 1).
    Both are valid: they only cut off placements whose scheduling costs at least what the
    subproblem proved for the same placement of those stages.
Bounds
    the master's bound is a valid lower bound (relaxation + valid cuts); every placement
    whose components all schedule is a plan, and the best is the incumbent. The loop stops
    when the bound meets the incumbent (optimal), at the deadline (the incumbent and the
    gap), or when the master is infeasible (no plan, if there is no incumbent).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing
from planner.parallel import Executor, SerialExecutor
from planner.solvers.base import Solution, SolveOptions, SolverError, SolveStatus
from planner.solvers.bound import safe_floor
from planner.solvers.cpsat_model import ModelBuilder, configure, validated
from planner.solvers.feasibility import violations
from planner.solvers.schedule_check import schedule_violations
from planner.solvers.schedule_cpsat import Scheduled
from planner.solvers.schedule_sub import SubResult, components, schedule_batch


@dataclass
class _Master:
    builder: ModelBuilder
    theta: list[cp_model.IntVar]
    at_least: dict[tuple[int, int], cp_model.IntVar]

    def literal(self, o: int, units: int) -> cp_model.IntVar:
        """b ⇔ x_o ≥ units (made once per pair)."""
        key = (o, units)
        if key not in self.at_least:
            m, x = self.builder.model, self.builder.x[o]
            b = m.new_bool_var(f"b{o}_{units}")
            m.add(x >= units).only_enforce_if(b)
            m.add(x <= units - 1).only_enforce_if(~b)
            self.at_least[key] = b
        return self.at_least[key]


def _master(problem: Problem, timing: Timing) -> _Master:
    builder = ModelBuilder(problem)
    m = builder.build(with_objective=False)
    late_max = int(timing.late_cost.max(initial=0)) * timing.horizon
    theta = [m.new_int_var(0, late_max, f"theta{s}") for s in range(problem.n_stages)]
    reward = (cp_model.LinearExpr.weighted_sum(builder.fund, problem.group_reward.tolist())
              if problem.group_reward is not None else 0)
    m.minimize(cp_model.LinearExpr.weighted_sum(builder.x, problem.opt_obj.tolist())
               + sum(builder.e) - reward + sum(theta))
    return _Master(builder, theta, {})


def _cut(master: _Master, problem: Problem, x: IntArray, sub: SubResult) -> None:
    named = sub.stages if sub.feasible else sub.core
    lits = [master.literal(o, int(x[o])) for s in named for o in problem.options_of(s)
            if x[o] > 0]
    m = master.builder.model
    if not sub.feasible:
        m.add(sum(lits) <= len(lits) - 1)
    elif sub.penalty > 0:
        m.add(sum(master.theta[s] for s in sub.stages)
              >= sub.penalty * (sum(lits) - len(lits) + 1))


def solve_benders(problem: Problem, timing: Timing, options: SolveOptions,
                  executor: Executor | None = None) -> Scheduled:
    """Place and schedule by logic-based Benders decomposition (module docstring); the
    subproblems of a round run on ``executor`` (default: this process)."""
    executor = executor or SerialExecutor()
    options = options.started()
    assert options.deadline is not None
    timing.check_shapes(problem)
    began = time.perf_counter()
    master = _master(problem, timing)
    validated(master.builder.model, "Benders master")
    best: tuple[int, IntArray, IntArray] | None = None
    bound: int | None = None
    rounds = cuts = 0
    status = SolveStatus.UNKNOWN
    while not options.deadline.expired():
        rounds += 1
        solver = cp_model.CpSolver()
        configure(solver, options)
        code = solver.solve(master.builder.model)
        if code == cp_model.INFEASIBLE:
            status = SolveStatus.OPTIMAL if best else SolveStatus.INFEASIBLE
            break
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break  # out of time
        if code == cp_model.OPTIMAL:  # integer model: its optimum is exact
            proven: int | None = round(solver.objective_value)
        elif np.isfinite(solver.best_objective_bound) and not problem.funding:
            proven = safe_floor(solver.best_objective_bound)
        else:
            proven = None
        if proven is not None:
            bound = proven if bound is None else max(bound, proven)
        x = master.builder.read(solver)
        subs = schedule_components(executor, problem, timing, x, options)
        if any(s.timed_out for s in subs):
            break
        if all(s.feasible for s in subs):
            start = np.zeros(problem.n_stages, dtype=np.int64)
            for sub in subs:
                start[sub.stages] = sub.start
            value = timing.cost(problem, x, start)
            if best is None or value < best[0]:
                best = (value, x, start)
        new = [s for s in subs if not s.feasible or s.penalty > 0]
        for sub in new:
            _cut(master, problem, x, sub)
        cuts += len(new)
        if best is not None and code == cp_model.OPTIMAL and bound is not None \
                and bound >= best[0]:
            status = SolveStatus.OPTIMAL
            break
    return _answer(problem, timing, best, bound, status, rounds, cuts,
                   time.perf_counter() - began)


def schedule_components(executor: Executor, problem: Problem, timing: Timing, x: IntArray,
                        options: SolveOptions, hint: IntArray | None = None,
                        comps: list[list[int]] | None = None) -> list[SubResult]:
    """Every component of ``x`` (or those of ``comps``) scheduled, from the starts
    ``hint`` when given, in ``options.workers`` batches on the executor (largest
    components first, dealt round-robin, so the batches weigh about the same)."""
    comps = sorted(components(problem, timing, x) if comps is None else comps, key=len,
                   reverse=True)
    k = max(1, min(options.workers, len(comps)))
    batches = [comps[i::k] for i in range(k)]
    tasks = [(problem, timing, x, batch, options, hint) for batch in batches if batch]
    return [sub for done in executor.map(schedule_batch, tasks) for sub in done]


def _answer(problem: Problem, timing: Timing, best: tuple[int, IntArray, IntArray] | None,
            bound: int | None, status: SolveStatus, rounds: int, cuts: int,
            elapsed: float) -> Scheduled:
    n = problem.n_stages
    stats = {"rounds": float(rounds), "cuts": float(cuts)}
    if best is None:
        sol = Solution("benders", status if status is SolveStatus.INFEASIBLE
                       else SolveStatus.UNKNOWN, np.zeros(problem.n_options, dtype=np.int64),
                       None, bound, elapsed, f"{rounds} rounds, {cuts} cuts", stats)
        return Scheduled(sol, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    value, x, start = best
    broken = violations(problem, x) + schedule_violations(problem, timing, x, start)
    if broken:
        raise SolverError("the Benders plan breaks: " + broken[0])
    if status is SolveStatus.OPTIMAL:
        bound = value
    elif status is SolveStatus.UNKNOWN:
        status = SolveStatus.FEASIBLE
    if bound is not None and bound > value:
        raise SolverError(f"the Benders bound {bound} is above its plan's cost {value}")
    end = timing.ends(problem, x, start)
    sol = Solution("benders", status, x, value, bound, elapsed,
                   f"{rounds} rounds, {cuts} cuts", stats)
    return Scheduled(sol, start, end)
