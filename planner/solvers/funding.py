"""Funding: which workloads a partial plan places, as rewards on a :class:`Problem`.

A workload is all-or-nothing: every stage placed, or none. Placing workload ``w`` earns a
reward ``R_w`` (integer micro-dollars) subtracted from the objective, so every backend
minimizes ``cost − Σ_{funded w} R_w`` (:meth:`Problem.objective`):

* ``value_usd`` given: ``R_w`` = the value, so the plan maximizes Σ value − cost;
* no value: ``R_w = M``, where ``M`` = 1 + the largest objective cost + Σ values exceeds
  everything else the plan could gain: such a workload is *required whenever it can be
  placed*, and dropping it never pays;
* priorities: every level above the lowest adds ``L_k`` to the reward of each of its
  workloads, with ``L_k`` above all that the lower levels and the costs could weigh
  together. The funding is then lexicographic: the most workloads of the highest
  priority first, then of the next level, …; then value − cost (without values: cost).

Without values and priorities every workload has reward ``M``: the plan places as many
workloads as fit, then at least cost. Rewards are exact integers below
:data:`planner.solvers.magnitude.LIMIT` (else :class:`~planner.errors.InputError`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from planner.errors import InputError
from planner.models.problem import IntArray, Problem
from planner.money import to_micro
from planner.solvers.magnitude import LIMIT, stage_peak


@dataclass(frozen=True)
class Claim:
    """What a workload brings to the funding decision."""

    name: str
    value_usd: Decimal | None = None
    priority: int = 0


def cost_ceiling(problem: Problem) -> int:
    """An upper bound on the objective cost of any plan (every stage at its dearest
    option, every pipeline edge at its dearest pair)."""
    edges = sum(max(e.cost.values(), default=0) * max(1, len(
        {j for (_, j) in e.cost})) for e in problem.edges)
    return stage_peak(problem, problem.opt_obj) + edges


def rewards(problem: Problem, claims: Sequence[Claim]) -> IntArray:
    """The reward of each workload (see the module docstring)."""
    values = [to_micro(c.value_usd) if c.value_usd is not None else None for c in claims]
    ceiling = cost_ceiling(problem) + sum(v for v in values if v is not None) + 1
    base = [v if v is not None else ceiling for v in values]
    out = list(base)
    levels = sorted({c.priority for c in claims})
    below = sum(b for b, c in zip(base, claims, strict=True) if c.priority == levels[0]) \
        if levels else 0
    for level in levels[1:]:
        lift = ceiling + below + 1
        mine = [i for i, c in enumerate(claims) if c.priority == level]
        for i in mine:
            out[i] += lift
        below += sum(out[i] for i in mine)
    if sum(out) >= LIMIT:
        if any(v is not None for v in values) or len(levels) > 1:
            raise InputError(
                f"the funding weights of {len(levels)} priority levels reach {sum(out):.3g} "
                f"micro-USD, more than the solver's 64-bit integers hold",
                hint="use fewer distinct `priority` values, or fewer workloads per portfolio")
        raise InputError(
            f"choosing which of {len(claims)} workloads fit needs funding weights of "
            f"{sum(out):.3g} micro-USD, more than the solver's 64-bit integers hold (a "
            "partial plan is needed because some workload cannot be placed at all, or "
            "not every workload fits)",
            hint="plan the workloads that can run with --all-or-nothing (in Python "
                 "all_or_nothing=True; `planner validate` names the stages without "
                 "options), or split the portfolio")
    return np.array(out, dtype=np.int64)


def with_funding(problem: Problem, stage_group: Sequence[int], names: Sequence[str],
                 reward: IntArray) -> Problem:
    """The problem with workloads that may be left out (all-or-nothing each)."""
    return dataclasses.replace(problem, stage_group=np.array(stage_group, dtype=np.int64),
                               group_reward=np.asarray(reward, dtype=np.int64),
                               group_names=tuple(names))


def forcing(problem: Problem, group: int) -> Problem:
    """The problem with workload ``group`` forced in whenever it can be placed: its reward
    exceeds everything all other workloads and costs could weigh together."""
    assert problem.group_reward is not None
    reward = problem.group_reward.copy()
    reward[group] = int(reward.sum()) + cost_ceiling(problem) + 1
    if int(reward.sum()) >= LIMIT:
        raise InputError("forcing a workload in exceeds the solver's 64-bit integers",
                         hint="use fewer distinct `priority` values")
    return dataclasses.replace(problem, group_reward=reward)


def group_stages(problem: Problem) -> list[list[int]]:
    """The stages of each workload (funding only)."""
    assert problem.stage_group is not None and problem.group_reward is not None
    out: list[list[int]] = [[] for _ in range(int(problem.group_reward.size))]
    for s, g in enumerate(problem.stage_group.tolist()):
        out[g].append(s)
    return out


def real_objective(problem: Problem, x: IntArray) -> int:
    """The objective cost of ``x`` without the rewards (what the plan reports)."""
    return problem.objective(x) + problem.reward(x)
