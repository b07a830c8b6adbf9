r"""The exact time-aware model: where *and* when, with CP-SAT intervals.

On top of the placement model of :mod:`planner.solvers.cpsat` (every unit, side
constraints, the per-period capacity as a valid relaxation), for a :class:`Timing`:

Variables
    S_s ∈ [release_s, horizon]     start of stage s (go-live for a to-the-end stage)
    E_s ∈ [0, horizon]             end of stage s (= horizon for a to-the-end stage)
    p_o ∈ {0,1}                    option o holds a unit: x_o ≥ p_o, x_o ≤ ub_o · p_o
    I_o                            optional interval [S_s, S_s + h_o) present iff p_o
                                   ([S_s, horizon) for a to-the-end stage)
    L_s ≥ 0                        hours late (soft deadlines only)
Constraints
    E_s ≥ S_s + h_o  if p_o                               (a batch stage ends after its
                                                          slowest unit)
    cumulative_r({I_o: d_{o,r} · x_o} ∪ outages_r) ≤ K_r  ∀ r (capacity at every instant;
                                                          d_{o,r} units of r per unit)
    S_b ≥ E_a + lag_{ab} + transfer_{ab} · moved_{ab}     ∀ precedence (a, b), where
    moved_{ab} ≥ p_o − Σ_{o' ∈ O_a at J(o)} p_{o'}           ∀ o ∈ O_b (b uses a site a
                                                          does not: the artifact moves)
    E_s ≤ due_s (batch) or S_s ≤ due_s (to the end)       hard deadline, or
    L_s ≥ E_s − due_s (or S_s − due_s)                    soft: costs late_s per hour
Objective
    the placement objective + Σ_s late_s · L_s

Integer hours suffice: with integer durations, windows and lags, any schedule can be
shifted left to one whose starts are integers, at no extra cost. This is the reference
model for small portfolios and for tests; large ones need the decomposition.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing
from planner.solvers.base import Solution, SolveOptions, SolverError, SolveStatus
from planner.solvers.bound import safe_floor
from planner.solvers.cpsat_model import ModelBuilder, configure, validated
from planner.solvers.feasibility import violations
from planner.solvers.schedule_check import schedule_violations

TimeGuard = Callable[[str, int], "cp_model.IntVar | None"]
"""Diagnosis hook (:mod:`planner.solvers.schedule_diagnosis`): the assumption literal of
a time rule, ``("deadline" | "window", stage)``, ``("after", arc)`` or ``("outage", k)``
(indices into ``Timing.precedence`` / ``Timing.outages``); the rule holds only if it does.
None: always in force."""


def _no_time_guard(_kind: str, _index: int) -> None:
    return None


def _when(*lits: cp_model.LinearExprT | None) -> list[cp_model.IntVar]:
    """Enforcement literals, without the constant 1 (placed, no funding) and None."""
    return [v for v in lits if isinstance(v, cp_model.IntVar)]


@dataclass
class Scheduled:
    """A placement and when each stage starts and ends (hours from the horizon start)."""

    solution: Solution
    start: IntArray
    end: IntArray


class ScheduleBuilder:
    """The CP-SAT model of the module docstring.

    Diagnosis hooks (set before :meth:`build`): ``placement.guard`` puts the placement
    rules and the capacity of each resource behind assumption literals (as in
    :class:`~planner.solvers.cpsat_model.ModelBuilder`), ``time_guard`` each window, hard
    deadline, precedence arc and outage."""

    def __init__(self, problem: Problem, timing: Timing) -> None:
        timing.check_shapes(problem)
        self.p, self.t = problem, timing
        self.placement = ModelBuilder(problem)
        self.time_guard: TimeGuard = _no_time_guard
        self.model = self.placement.model
        self.start: list[cp_model.IntVar] = []
        self.end: list[cp_model.IntVar] = []
        self.late: list[tuple[cp_model.IntVar, int]] = []
        self.used: list[cp_model.IntVar] = []
        """p_o: option o holds a unit."""
        self.background: dict[int, list[tuple[int, int, int]]] = {}
        """Fixed load per resource, ``(start, end, amount)``, counted at every instant
        besides the model's stages (set before :meth:`build`): the stages that a
        neighbourhood of :mod:`planner.solvers.schedule_lns` leaves where they are."""

    def build(self) -> cp_model.CpModel:
        p, t, m = self.p, self.t, self.model
        self.placement.build(with_objective=False)
        for s in range(p.n_stages):
            self.start.append(self._start(s))
            self.end.append(m.new_int_var(0, t.horizon, f"E{s}"))
        intervals = self._intervals()
        self._capacity(intervals)
        self._precedence()
        self._deadlines()
        b = self.placement
        reward = (cp_model.LinearExpr.weighted_sum(b.fund, p.group_reward.tolist())
                  if p.group_reward is not None else 0)
        m.minimize(cp_model.LinearExpr.weighted_sum(b.x, p.opt_obj.tolist()) + sum(b.e)
                   - reward + sum(c * v for v, c in self.late))
        return m

    def _start(self, s: int) -> cp_model.IntVar:
        # The window: a stage starts no earlier than its release.
        t, m = self.t, self.model
        last = t.horizon - 1 if t.to_end[s] else t.horizon
        release = int(t.release[s])
        lit = self.time_guard("window", s) if release > 0 else None
        if lit is None:
            return m.new_int_var(release, max(release, last), f"S{s}")
        start = m.new_int_var(0, max(release, last), f"S{s}")
        m.add(start >= release).only_enforce_if(lit)
        return start

    def _intervals(self) -> dict[int, cp_model.IntervalVar]:
        p, t, m, x = self.p, self.t, self.model, self.placement.x
        out = {}
        for s in range(p.n_stages):
            start, end = self.start[s], self.end[s]
            if t.to_end[s]:
                m.add(end == t.horizon)
            for o in p.options_of(s):
                used = m.new_bool_var(f"p{o}")
                self.used.append(used)
                m.add(x[o] >= used)
                m.add(x[o] <= int(p.opt_ub[o]) * used)
                if t.to_end[s]:
                    out[o] = m.new_optional_interval_var(start, t.horizon - start, t.horizon,
                                                         used, f"I{o}")
                else:
                    hours = int(t.opt_hours[o])
                    out[o] = m.new_optional_fixed_size_interval_var(start, hours, used,
                                                                    f"I{o}")
                    m.add(end >= start + hours).only_enforce_if(used)
        return out

    def _capacity(self, intervals: dict[int, cp_model.IntervalVar]) -> None:
        p, t, m, x = self.p, self.t, self.model, self.placement.x
        by_res: dict[int, list[tuple[cp_model.IntervalVar, cp_model.LinearExprT]]] = {}
        for k in range(p.use_opt.size):
            o, r, d = int(p.use_opt[k]), int(p.use_res[k]), int(t.use_now[k])
            if d:
                by_res.setdefault(r, []).append((intervals[o], d * x[o]))
        for k, out in enumerate(t.outages):
            lit = self.time_guard("outage", k)
            name = f"outage{out.res}_{out.start}"
            fixed = (m.new_fixed_size_interval_var(out.start, out.end - out.start, name)
                     if lit is None else m.new_optional_fixed_size_interval_var(
                         out.start, out.end - out.start, lit, name))
            by_res.setdefault(out.res, []).append((fixed, out.amount))
        for r, load in self.background.items():
            if r not in by_res:
                continue  # no stage of the model can use it
            for a, b, amount in load:
                by_res[r].append((m.new_fixed_size_interval_var(a, b - a, f"bg{r}_{a}"),
                                  amount))
        for r, uses in sorted(by_res.items()):
            m.add_cumulative([i for i, _ in uses], [d for _, d in uses], self._cap(r))

    def _cap(self, r: int) -> cp_model.LinearExprT:
        # Capacity at once: K_r, or (diagnosis) any amount once its rule is dropped.
        lit = self.placement.guard(f"capacity:{self.p.res_names[r]}")
        cap = int(self.t.res_now[r])
        if lit is None:
            return cap
        p, ub = self.p, self.p.opt_ub
        most = sum(int(self.t.use_now[k]) * int(ub[p.use_opt[k]])
                   for k in np.flatnonzero(p.use_res == r).tolist())
        most += sum(o.amount for o in self.t.outages if o.res == r)
        extra = self.model.new_int_var(0, max(0, most - cap), f"dropcap{r}")
        self.model.add(extra == 0).only_enforce_if(lit)
        return cap + extra

    def _precedence(self) -> None:
        m, b = self.model, self.placement
        for k, prec in enumerate(self.t.precedence):
            gap = prec.lag + (prec.transfer * self._moved(prec.before, prec.after)
                              if prec.transfer else 0)
            ct = m.add(self.start[prec.after] >= self.end[prec.before] + gap)
            # only when both are placed (a workload may be left out whole)
            lits = _when(b.placed(prec.before), b.placed(prec.after),
                         self.time_guard("after", k))
            if lits:
                ct.only_enforce_if(lits)

    def _moved(self, a: int, b: int) -> cp_model.IntVar:
        # 1 when b uses a site where a holds no unit (the artifact has to move there).
        p, m = self.p, self.model
        moved = m.new_bool_var(f"moved{a}_{b}")
        at_a: dict[int, list[cp_model.IntVar]] = {}
        for o in p.options_of(a):
            at_a.setdefault(int(p.opt_site[o]), []).append(self.used[o])
        for o in p.options_of(b):
            m.add(moved >= self.used[o] - sum(at_a.get(int(p.opt_site[o]), [])))
        return moved

    def _deadlines(self) -> None:
        t, m = self.t, self.model
        for s in range(self.p.n_stages):
            at = self.start[s] if t.to_end[s] else self.end[s]
            due, cost = int(t.due[s]), int(t.late_cost[s])
            if cost == 0:
                ct = m.add(at <= due)
                lits = _when(self.placement.placed(s),
                             self.time_guard("deadline", s) if due < t.horizon else None)
                if lits:
                    ct.only_enforce_if(lits)
                continue
            late = m.new_int_var(0, t.horizon, f"L{s}")
            ct = m.add(late >= at - due)
            if self.placement.fund:  # a stage left out is never late
                ct.only_enforce_if(self.placement.placed(s))
            self.late.append((late, cost))

    def add_hint(self, x: IntArray, start: IntArray) -> None:
        """Hint a complete placement and its schedule (a first solution without search)."""
        self.placement.add_hint(x)
        for s, var in enumerate(self.start):
            self.model.add_hint(var, int(start[s]))

    def read(self, solver: cp_model.CpSolver) -> tuple[IntArray, IntArray]:
        x = self.placement.read(solver)
        start = np.array([solver.value(v) for v in self.start], dtype=np.int64)
        return x, start


_STATUS = {cp_model.OPTIMAL: SolveStatus.OPTIMAL, cp_model.FEASIBLE: SolveStatus.FEASIBLE,
           cp_model.INFEASIBLE: SolveStatus.INFEASIBLE}


def solve_schedule(problem: Problem, timing: Timing, options: SolveOptions,
                   hint: tuple[IntArray, IntArray] | None = None) -> Scheduled:
    """Place and schedule every stage at least cost (objective + late penalties), from the
    placement and starts of ``hint`` when given; the answer passes
    :func:`~planner.solvers.feasibility.violations` and
    :func:`~planner.solvers.schedule_check.schedule_violations` or raises."""
    # Deterministic: the deterministic seconds are those given (left) now, not less the
    # wall time the model takes to build: a forced re-solve's 0.075 became 0.059 in one
    # run and 0.010 on a loaded machine, and the two plans differed.
    options = dataclasses.replace(options, deadline=None, time_limit_s=options.remaining_s()) \
        if options.deterministic else options.started()
    began = time.perf_counter()
    builder = ScheduleBuilder(problem, timing)
    model = builder.build()
    if hint is not None:
        builder.add_hint(*hint)
    validated(model, "schedule")
    solver = cp_model.CpSolver()
    configure(solver, options)
    code = solver.solve(model)
    if code == cp_model.MODEL_INVALID:  # validate() passed: CP-SAT found it later
        raise SolverError("CP-SAT rejects the schedule model (MODEL_INVALID) although it "
                          "validated")
    status = _STATUS.get(code, SolveStatus.UNKNOWN)
    n, zeros = problem.n_stages, np.zeros(problem.n_options, dtype=np.int64)
    if status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        bound = (safe_floor(solver.best_objective_bound)
                 if status is SolveStatus.UNKNOWN and not problem.funding
                 and np.isfinite(solver.best_objective_bound) else None)
        sol = Solution("cpsat-schedule", status, zeros, None, bound,
                       time.perf_counter() - began, solver.status_name(code))
        return Scheduled(sol, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    x, start = builder.read(solver)
    broken = violations(problem, x) + schedule_violations(problem, timing, x, start)
    if broken:
        raise SolverError("the schedule model returned a plan that breaks: " + broken[0])
    objective = timing.cost(problem, x, start)
    bound = objective if status is SolveStatus.OPTIMAL else safe_floor(
        solver.best_objective_bound)
    if status is SolveStatus.OPTIMAL and abs(solver.objective_value - objective) > 0.5:
        raise SolverError(f"CP-SAT's optimum {solver.objective_value:.0f} differs from "
                          f"its schedule's cost {objective}")
    end = timing.ends(problem, x, start)
    sol = Solution("cpsat-schedule", status, x, objective, min(bound, objective),
                   time.perf_counter() - began, solver.status_name(code))
    return Scheduled(sol, start, end)
