r"""Reductions: a problem → smaller problem(s), and answers mapped back the same way.

Modelled on cvxpy's ``Reduction``: :meth:`Reduction.apply` turns a
:class:`~planner.models.problem.Problem` into one or more smaller ones (the *parts* of a
:class:`Reduced`, each knowing where its options and stages sit in the original);
:meth:`Reduced.invert` maps a solution of every part back to a solution ``x`` of the
original, and :meth:`Reduced.map_bound` maps lower bounds of the parts to a lower bound
of the original — only when the reduction is **exact**.

==================  =====  =====  ======================  =============================
reduction           exact  parts  a plan maps back        a lower bound maps back
==================  =====  =====  ======================  =============================
:class:`Dominance`  yes    1      yes (same objective)    yes (same optimum)
:class:`Split`      yes    k      yes (put side by side)  yes (the sum over the parts)
:class:`Restrict`   no     1      yes (fewer choices)     no (the optimum may be higher)
==================  =====  =====  ======================  =============================

The arithmetic lives in :mod:`planner.solvers.decompose` (vectorized; every side
constraint kept); this module says what each transformation means for plans and bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.solvers.decompose import (
    components,
    opt_stage,
    reduce_dominated,
    restrict,
    subset_stages,
)


@dataclass(frozen=True)
class Part:
    """One problem a reduction made: ``options[k]`` / ``stages[k]`` are the indices in the
    original of its option / stage ``k``. ``batched``: a batch of small components
    (:class:`Split`), as opposed to one large component."""

    problem: Problem
    options: IntArray
    stages: IntArray
    batched: bool = False


@dataclass(frozen=True)
class Reduced:
    """What a reduction made of ``original``: its parts, and how answers map back."""

    original: Problem
    parts: tuple[Part, ...]
    exact: bool
    """The optimum of the original is the sum of the parts' optima: lower bounds map back.
    Plans always map back (every reduction here keeps every rule of the original)."""
    components: int = 1
    """Independent components the reduction found (:class:`Split`)."""

    @property
    def problem(self) -> Problem:
        """The reduced problem of a one-part reduction."""
        if len(self.parts) != 1:
            raise ValueError(f"the reduction made {len(self.parts)} problems, not one")
        return self.parts[0].problem

    def invert(self, xs: Sequence[IntArray]) -> IntArray:
        """The original's units per option from one solution per part (0 on the options no
        part kept)."""
        if len(xs) != len(self.parts):
            raise ValueError(f"{len(xs)} solutions for {len(self.parts)} parts")
        x = np.zeros(self.original.n_options, dtype=np.int64)
        for part, xp in zip(self.parts, xs, strict=True):
            x[part.options] = xp
        return x

    def map_bound(self, bounds: Sequence[int]) -> int | None:
        """A lower bound of the original from one lower bound per part (their sum), or None
        when the reduction is not exact (a restriction's bound says nothing of the
        original)."""
        if len(bounds) != len(self.parts):
            raise ValueError(f"{len(bounds)} bounds for {len(self.parts)} parts")
        return sum(bounds) if self.exact else None


class Reduction(Protocol):
    """A problem transformation with a way back (see the module docstring)."""

    exact: bool

    def apply(self, problem: Problem) -> Reduced: ...


def _all_stages(problem: Problem) -> IntArray:
    return np.arange(problem.n_stages, dtype=np.int64)


@dataclass(frozen=True)
class Dominance:
    """Exact: drop the options dominated by a cheaper prefix of options that use no binding
    resource, for stages in no side constraint (:func:`~planner.solvers.decompose.
    reduce_dominated` has the argument). Stages and rules unchanged."""

    exact: bool = True

    def apply(self, problem: Problem) -> Reduced:
        keep = reduce_dominated(problem)
        part = Part(restrict(problem, keep), keep, _all_stages(problem))
        return Reduced(problem, (part,), self.exact)


@dataclass(frozen=True)
class Restrict:
    """A restriction: only options ``keep`` (sorted), optionally with lower upper bounds
    ``ub`` (aligned with ``keep``). Every plan of it is a plan of the original with the same
    objective, but its optimum may be higher, so bounds do not map back."""

    keep: IntArray
    ub: IntArray | None = None
    exact: bool = False

    def apply(self, problem: Problem) -> Reduced:
        part = Part(restrict(problem, self.keep, self.ub), self.keep, _all_stages(problem))
        return Reduced(problem, (part,), self.exact)


@dataclass(frozen=True)
class Split:
    """Exact: independent components (stages linked by a binding resource, an edge, a
    co-location or a budget; a provider or move cap links all), each a problem of its own.
    Components up to ``batch_options`` options are put together in batches of at most that
    many options (``batched`` parts, first, in component order); every larger component is
    a part alone (in component order)."""

    batch_options: int = 0
    exact: bool = True

    def apply(self, problem: Problem) -> Reduced:
        n_comp, comp = components(problem)
        comp_opts = np.bincount(comp[opt_stage(problem)], minlength=n_comp)
        small = comp_opts <= self.batch_options
        groups = [(np.isin(comp, b), True) for b in self._batches(comp_opts, small)]
        groups += [(comp == c, False) for c in np.flatnonzero(~small).tolist()]
        parts = []
        for mask, batched in groups:
            stages = np.flatnonzero(mask).astype(np.int64)
            sub, options = subset_stages(problem, stages)
            parts.append(Part(sub, options, stages, batched))
        return Reduced(problem, tuple(parts), self.exact, components=n_comp)

    def _batches(self, comp_opts: IntArray, small: np.ndarray) -> list[IntArray]:
        """Small components in order, cut into batches of at most ``batch_options``."""
        out: list[IntArray] = []
        cur: list[int] = []
        size = 0
        for c in np.flatnonzero(small).tolist():
            if cur and size + int(comp_opts[c]) > self.batch_options:
                out.append(np.array(cur, dtype=np.int64))
                cur, size = [], 0
            cur.append(c)
            size += int(comp_opts[c])
        if cur:
            out.append(np.array(cur, dtype=np.int64))
        return out
