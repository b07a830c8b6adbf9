"""Benders subproblems: schedule a fixed placement, component by component.

A component is a set of placed stages linked by a resource whose capacity at once can
bind (the units its placed options hold, plus its outages, exceed it) or by a
precedence arc; stages of different components never interact in time. Each component
is scheduled by CP-SAT with the placement fixed: intervals of known size, cumulative
capacity, windows, precedence, deadlines; least late penalty. One assumption literal
per stage makes an infeasible component name a core: stages that cannot all run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing, placed
from planner.solvers.base import SolveOptions
from planner.solvers.cpsat_model import configure


@dataclass
class SubResult:
    """A component's answer: its stages, and either their starts and least penalty or an
    infeasible core (stages that cannot all be scheduled)."""

    stages: list[int]
    feasible: bool
    start: IntArray
    penalty: int = 0
    core: list[int] = field(default_factory=list)
    timed_out: bool = False


def _binding(problem: Problem, timing: Timing, x: IntArray) -> set[int]:
    """Resources whose capacity at once the placement ``x`` (plus outages) can exceed."""
    peak = np.zeros(len(problem.res_cap), dtype=np.int64)
    np.add.at(peak, problem.use_res, timing.use_now * x[problem.use_opt])
    for out in timing.outages:
        peak[out.res] += out.amount
    return {int(r) for r in np.flatnonzero(peak > timing.res_now)}


def components(problem: Problem, timing: Timing, x: IntArray) -> list[list[int]]:
    """Placed stages grouped by binding resource and precedence (union-find)."""
    parent = list(range(problem.n_stages))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    stage_of = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    first: dict[int, int] = {}
    binding = _binding(problem, timing, x)
    for k in range(problem.use_opt.size):
        o, r = int(problem.use_opt[k]), int(problem.use_res[k])
        if x[o] > 0 and r in binding and timing.use_now[k] > 0:
            s = int(stage_of[o])
            parent[find(s)] = find(first.setdefault(r, s))
    for p in timing.precedence:
        if placed(problem, x, p.before) and placed(problem, x, p.after):
            parent[find(p.after)] = find(p.before)
    groups: dict[int, list[int]] = {}
    for s in range(problem.n_stages):
        if placed(problem, x, s):
            groups.setdefault(find(s), []).append(s)
    return list(groups.values())


def schedule_component(problem: Problem, timing: Timing, x: IntArray, stages: list[int],
                       options: SolveOptions, hint: IntArray | None = None) -> SubResult:
    """Schedule ``stages`` (placed as in ``x``) at least late penalty, or name a core;
    ``hint``: a valid start per stage (of the whole problem) to begin from."""
    m = cp_model.CpModel()
    index = {s: i for i, s in enumerate(stages)}
    on = [m.new_bool_var(f"on{s}") for s in stages]
    start, end, late = [], [], []
    demands: dict[int, list[tuple[cp_model.IntervalVar, int]]] = {}
    rows = _rows(problem, timing, x, stages)
    for i, s in enumerate(stages):
        top = timing.horizon - 1 if timing.to_end[s] else timing.horizon
        release = int(timing.release[s])
        start.append(m.new_int_var(release, max(release, top), f"S{s}"))
        end.append(m.new_int_var(0, timing.horizon, f"E{s}"))
        for o in problem.options_of(s):
            if x[o] <= 0:
                continue
            size = (timing.horizon - start[i]) if timing.to_end[s] else int(timing.opt_hours[o])
            iv = m.new_optional_interval_var(start[i], size, start[i] + size, on[i], f"I{o}")
            m.add(end[i] >= start[i] + size).only_enforce_if(on[i])
            for r, d in rows.get(o, []):
                demands.setdefault(r, []).append((iv, d))
        at = start[i] if timing.to_end[s] else end[i]
        if timing.late_cost[s] == 0:
            m.add(at <= int(timing.due[s])).only_enforce_if(on[i])
        else:
            lv = m.new_int_var(0, timing.horizon, f"L{s}")
            m.add(lv >= at - int(timing.due[s]))
            late.append((lv, int(timing.late_cost[s])))
    for out in timing.outages:
        if out.res in demands:
            fixed = m.new_fixed_size_interval_var(out.start, out.end - out.start, "outage")
            demands[out.res].append((fixed, out.amount))
    for r, uses in sorted(demands.items()):
        m.add_cumulative([iv for iv, _ in uses], [d for _, d in uses], int(timing.res_now[r]))
    for p in timing.precedence:
        if p.before in index and p.after in index:
            a, b = index[p.before], index[p.after]
            m.add(start[b] >= end[a] + timing.gap(problem, x, p)).only_enforce_if([on[a], on[b]])
    m.minimize(sum(c * v for v, c in late))
    if hint is not None:
        for i, s in enumerate(stages):
            m.add_hint(on[i], 1)
            m.add_hint(start[i], int(hint[s]))
    m.add_assumptions(on)
    return _read(m, stages, on, start, options)


Batch = tuple[Problem, Timing, IntArray, list[list[int]], SolveOptions, IntArray | None]
"""One task of an executor: components of a placement, the time limit, the hinted starts."""


def schedule_batch(task: Batch) -> list[SubResult]:
    """Several components, one after the other (one task of an executor)."""
    problem, timing, x, comps, options, hint = task
    return [schedule_component(problem, timing, x, comp, options, hint) for comp in comps]


def _rows(problem: Problem, timing: Timing, x: IntArray,
          stages: list[int]) -> dict[int, list[tuple[int, int]]]:
    """Option → (resource, units held at once) for the placed options of ``stages``."""
    wanted = [o for s in stages for o in problem.options_of(s) if x[o] > 0]
    out: dict[int, list[tuple[int, int]]] = {}
    rows = np.flatnonzero(np.isin(problem.use_opt, wanted) & (timing.use_now > 0))
    for k in rows.tolist():  # (one vectorized pass: a Python loop over every row of a
        o = int(problem.use_opt[k])  # large problem per component took minutes at l)
        out.setdefault(o, []).append((int(problem.use_res[k]),
                                      int(timing.use_now[k]) * int(x[o])))
    return out


def _read(m: cp_model.CpModel, stages: list[int], on: list[cp_model.IntVar],
          start: list[cp_model.IntVar], options: SolveOptions) -> SubResult:
    solver = cp_model.CpSolver()
    configure(solver, options)
    solver.parameters.num_workers = 1  # cores need a single worker
    code = solver.solve(m)
    zeros = np.zeros(len(stages), dtype=np.int64)
    if code == cp_model.INFEASIBLE:
        picked = set(solver.sufficient_assumptions_for_infeasibility())
        core = [s for s, lit in zip(stages, on, strict=True) if lit.index in picked]
        return SubResult(stages, False, zeros, core=core or list(stages))
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return SubResult(stages, False, zeros, timed_out=True)
    values = np.array([solver.value(v) for v in start], dtype=np.int64)
    penalty = round(solver.objective_value) if code == cp_model.OPTIMAL else -1
    if penalty < 0:  # a schedule but no proof of its least penalty: treat as out of time
        return SubResult(stages, True, values, timed_out=True)
    return SubResult(stages, True, values, penalty=penalty)
