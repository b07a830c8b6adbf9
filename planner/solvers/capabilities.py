"""What a backend can do, declared on the backend (as cvxpy's solver interfaces declare the
constraints they accept), and the check that a backend can honour a problem.

Every backend carries a :class:`Capabilities`: the features of a
:class:`~planner.models.problem.Problem` it honours (its plans meet them, or it declines
with ``unknown``), whether it proves optimality, whether it proves a lower bound of its own
(beyond the trivial bound every answer gets), whether it returns an unsatisfiable core of
rule groups (the infeasibility diagnosis), and whether it gives the same answer on every
run (with ``deterministic`` solve options). :func:`features` lists what a problem uses;
callers pick a backend by capability and refuse one that lacks a feature
(:func:`refusal`), and a backend asked anyway declines
(:func:`planner.solvers.base.decline`) rather than return a plan that breaks a rule it
does not model.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from planner.models.problem import Problem

__all__ = ["ALL_FEATURES", "SIDE_CONSTRAINTS", "Capabilities", "Feature", "features", "refusal"]


class Feature(StrEnum):
    """A part of a Problem that not every backend models."""

    EDGES = "edges"
    """Pipeline egress edges (a cost that depends on the sites of two stages)."""
    COLOCATION = "colocation"
    SPREAD = "spread"
    """A stage spread over at least ``min_sites`` > 1 sites."""
    BUDGETS = "budgets"
    SHARE_CAP = "share_cap"
    """A cap on any cloud provider's share of compute spend."""
    MOVE_CAP = "move_cap"
    """A cap on the stages that move away from a previous plan."""
    FUNDING = "funding"
    """Workloads that may be left out (partial plans)."""
    GUARDED_OPTIONS = "guarded_options"
    """Options that relaxable rules forbid (``opt_groups``, diagnosis problems only)."""


SIDE_CONSTRAINTS = frozenset({Feature.EDGES, Feature.COLOCATION, Feature.SPREAD,
                              Feature.BUDGETS, Feature.SHARE_CAP, Feature.MOVE_CAP})
ALL_FEATURES = frozenset(Feature)

_CANNOT = {
    Feature.EDGES: "price pipeline egress",
    Feature.COLOCATION: "keep co-located stages together",
    Feature.SPREAD: "spread a stage over several sites",
    Feature.BUDGETS: "keep budgets",
    Feature.SHARE_CAP: "cap a cloud provider's share of spend",
    Feature.MOVE_CAP: "cap the moves from a previous plan",
    Feature.FUNDING: "make partial plans (workloads with value_usd/priority, or workloads "
                     "that cannot be placed)",
    Feature.GUARDED_OPTIONS: "keep options out that relaxable rules forbid (diagnosis "
                             "problems)",
}


@dataclass(frozen=True)
class Capabilities:
    """What one backend can do (see the module docstring)."""

    honours: frozenset[Feature]
    """Features its plans meet (or it declines with ``unknown``)."""
    proves_optimality: bool = False
    """Proves a plan optimal, or the problem infeasible, when time allows."""
    proves_bound: bool = False
    """Reports a proven lower bound of its own (every answer also gets the trivial bound)."""
    unsat_core: bool = False
    """Returns a set of rule groups that admit no plan together (the diagnosis)."""
    deterministic: bool = False
    """The same input and options give the same answer on every run (with
    ``SolveOptions.deterministic`` where the backend has a time-dependent search)."""

    def missing(self, problem: Problem) -> list[Feature]:
        """The features ``problem`` uses that this backend does not honour."""
        return sorted(features(problem) - self.honours)


def features(problem: Problem) -> frozenset[Feature]:
    """The features a problem uses."""
    used = set()
    if problem.edges:
        used.add(Feature.EDGES)
    if problem.colocations:
        used.add(Feature.COLOCATION)
    if problem.min_sites is not None and bool((problem.min_sites > 1).any()):
        used.add(Feature.SPREAD)
    if problem.budgets:
        used.add(Feature.BUDGETS)
    if problem.max_share is not None:
        used.add(Feature.SHARE_CAP)
    if problem.max_moves is not None:
        used.add(Feature.MOVE_CAP)
    if problem.funding:
        used.add(Feature.FUNDING)
    if problem.opt_groups is not None and any(problem.opt_groups):
        used.add(Feature.GUARDED_OPTIONS)
    return frozenset(used)


def refusal(name: str, missing: list[Feature]) -> str:
    """Why backend ``name`` refuses a problem, in words."""
    return f"the {name} solver cannot " + " or ".join(_CANNOT[f] for f in missing)

