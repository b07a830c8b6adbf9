"""Why a cheaper runner-up is not in the plan: the rules that block it.

The question, for a stage ``s`` of an incumbent assignment ``x`` (units per option) and an
option ``o`` of ``s`` the plan does not use: what if one unit of ``s`` moved from its chosen
option ``src`` to ``o``, everything else unchanged? That *swap* is

    x'_o = x_o + 1,   x'_src = x_src − 1,   x'_q = x_q for every other option q.

It is checked against the model of :class:`~planner.solvers.cpsat.ModelBuilder` built with
one assumption literal ("guard") per side-constraint group: every capacity resource,
co-location, spread, budget, provider-concentration cap and the move cap. Every ``x`` is
fixed (variable domains), so each group either holds or is broken by the swap: CP-SAT
(one worker, fixed seed, deterministic time limit) returns an infeasible subset of the
assumptions, each member is confirmed alone, the confirmed ones are dropped, and the check
repeats until the remaining groups admit the swap. The result is every rule group the swap
breaks: the smallest set of rules that would have to be relaxed to allow it.

Pipeline egress is a cost, not a rule: when no rule blocks the swap, the answer is an
empty list and the cost difference (real cost, pipeline egress and migration included) —
the runner-up loses on total cost, or the plan is not optimal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from planner.models.problem import IntArray, PEdge, Problem
from planner.solvers.base import Deadline
from planner.solvers.cpsat import ModelBuilder
from planner.solvers.swap_model import Totals, edge_cost, swap_problem

__all__ = ["INVENTORY", "Blockers", "SwapChecker", "edges_by_stage", "find_blockers",
           "swap_delta"]

INVENTORY = "inventory"
"""Pseudo-rule: the option holds fewer units at once than the swap needs."""


@dataclass(frozen=True)
class Blockers:
    """What keeps one unit of a stage off an option.

    ``rules``: sorted rule-group names the swap breaks (``capacity:<resource>``,
    ``colocation:<stage>``, ``spread:<stage>``, ``budget:<name>``,
    ``concentration:<provider>``, ``moves``); empty when no rule blocks it.
    ``cost_delta`` / ``objective_delta``: change of the plan's real cost / objective
    (micro-dollars, pipeline egress included) if the swap were made.
    ``decided``: False when the time budget ran out before the answer (``rules`` is then
    what was found so far).
    """

    rules: list[str]
    cost_delta: int
    objective_delta: int
    decided: bool = True


def edges_by_stage(problem: Problem) -> dict[int, list[PEdge]]:
    """The pipeline edges touching each stage."""
    out: dict[int, list[PEdge]] = defaultdict(list)
    for e in problem.edges:
        out[e.a].append(e)
        if e.b != e.a:
            out[e.b].append(e)
    return out


def _stage_of(problem: Problem, option: int) -> int:
    return int(np.searchsorted(problem.stage_ptr, option, side="right")) - 1


def _default_source(problem: Problem, x: IntArray, option: int) -> int:
    """The used option of the forced option's stage with the lowest objective per unit."""
    stage = _stage_of(problem, option)
    used = [o for o in problem.options_of(stage) if x[o] > 0 and o != option]
    if not used:
        raise ValueError(f"stage {stage} places no unit to move to option {option}")
    return min(used, key=lambda o: (int(problem.opt_obj[o]), o))


def swap_delta(problem: Problem, x: IntArray, option: int, source: int,
               edges: list[PEdge] | None = None) -> tuple[int, int]:
    """Change of the plan's real cost and objective (micro-dollars, pipeline egress
    included) when one unit moves from ``source`` to ``option``.

    ``edges``: the pipeline edges touching the stage (default: found in ``problem``)."""
    stage = _stage_of(problem, option)
    if edges is None:
        edges = [e for e in problem.edges if stage in (e.a, e.b)]
    change = {source: int(x[source]) - 1, option: int(x[option]) + 1}
    egress = sum(edge_cost(problem, x, e, change) - edge_cost(problem, x, e, {}) for e in edges)
    cost = int(problem.opt_cost[option] - problem.opt_cost[source]) + egress
    objective = int(problem.opt_obj[option] - problem.opt_obj[source]) + egress
    return cost, objective


class SwapChecker:
    """Checks swaps against one incumbent: totals of the incumbent are computed once; each
    check solves a small model (:mod:`planner.solvers.swap_model`) of the swapped stage,
    the stages tied to it, and the rest of the plan folded into constants."""

    def __init__(self, problem: Problem, x: IntArray, *, seed: int = 0,
                 deadline: Deadline | None = None) -> None:
        self.problem = problem
        self.deadline = deadline
        """Wall-clock cut-off (None in deterministic mode): past it, checks stay undecided."""
        self.x = np.asarray(x, dtype=np.int64)
        self.seed = seed
        self.edges = edges_by_stage(problem)
        self.totals = Totals.of(problem, self.x)
        self.spent_s = 0.0
        """Deterministic seconds all checks of this incumbent have used so far."""

    def check(self, option: int, time_budget_s: float, source: int | None = None) -> Blockers:
        """The rule groups that block moving one unit to ``option`` (from ``source``, by
        default the cheapest used option of its stage), within ``time_budget_s``
        deterministic seconds."""
        p = self.problem
        source = _default_source(p, self.x, option) if source is None else source
        stage = _stage_of(p, option)
        cost, objective = swap_delta(p, self.x, option, source, self.edges.get(stage, []))
        if self.x[option] + 1 > p.opt_ub[option]:
            return Blockers([INVENTORY], cost, objective)
        sub, fixed = swap_problem(p, self.x, self.totals, stage, source, option)
        builder, literals = _guarded(sub)
        for var, value in zip(builder.x, fixed.tolist(), strict=True):
            domain = var.proto.domain
            domain[0] = value
            domain[1] = value
        rules, decided = self._broken(builder.model, literals, time_budget_s)
        return Blockers(rules, cost, objective, decided)

    def _solve(self, model: cp_model.CpModel, literals: dict[str, cp_model.IntVar],
               names: list[str], budget: list[float]
               ) -> tuple[cp_model.CpSolverStatus, list[str]]:
        """Solve under the assumptions ``names``; the status and the core (if infeasible)."""
        wall = max(budget[0], 0.0) * 10 + 1.0
        if self.deadline is not None:
            wall = min(wall, self.deadline.remaining())
            if wall <= 0:
                return cp_model.UNKNOWN, []
        model.clear_assumptions()
        model.add_assumptions([literals[n] for n in names])
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.num_workers = 1
        params.random_seed = self.seed
        params.max_deterministic_time = max(budget[0], 0.0)
        params.max_time_in_seconds = wall
        code = solver.solve(model)
        used = solver.response_proto.deterministic_time
        budget[0] -= used
        self.spent_s += used
        if code != cp_model.INFEASIBLE:
            return code, []
        index = {literals[n].index: n for n in names}
        return code, sorted(index[i] for i in solver.sufficient_assumptions_for_infeasibility()
                            if i in index)

    def _broken(self, model: cp_model.CpModel, literals: dict[str, cp_model.IntVar],
                time_budget_s: float) -> tuple[list[str], bool]:
        budget = [time_budget_s]
        enforced = sorted(literals)
        broken: list[str] = []
        while budget[0] > 0:
            code, core = self._solve(model, literals, enforced, budget)
            if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                return sorted(broken), True
            if code != cp_model.INFEASIBLE:
                break
            if not core:  # infeasible whatever the rules: a hard fact (should not happen)
                return sorted(broken), True
            found = []
            for name in core:  # every x is fixed: a group is broken iff it fails alone
                alone, _ = self._solve(model, literals, [name], budget)
                if alone == cp_model.INFEASIBLE:
                    found.append(name)
                elif alone not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                    return sorted(broken), False
            broken.extend(found or core)
            enforced = [n for n in enforced if n not in broken]
        return sorted(broken), False


def _guarded(problem: Problem) -> tuple[ModelBuilder, dict[str, cp_model.IntVar]]:
    """The feasibility model with one assumption literal per side-rule group."""
    builder = ModelBuilder(problem)
    literals: dict[str, cp_model.IntVar] = {}

    def guard(name: str) -> cp_model.IntVar:
        if name not in literals:
            literals[name] = builder.model.new_bool_var(f"rule[{name}]")
        return literals[name]

    builder.guard = guard
    builder.build(with_objective=False)
    return builder, literals


def find_blockers(problem: Problem, x: IntArray, option: int, time_budget_s: float,
                  source: int | None = None) -> Blockers:
    """The rule groups that block one unit of ``option``'s stage from moving to ``option``
    with the rest of the incumbent ``x`` unchanged (see the module docstring); an empty list
    and the cost difference when no rule blocks it. ``time_budget_s`` counts CP-SAT's
    deterministic seconds, so the answer does not depend on the machine's load."""
    return SwapChecker(problem, x).check(option, time_budget_s, source)
