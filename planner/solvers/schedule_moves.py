"""The moves a stage may make while list scheduling repairs a placement.

A stage that cannot run as placed tries its other options, cheapest first, that keep
every placement rule (:func:`~planner.solvers.feasibility.violations`). The rule that a
move breaks most often is capacity per period, and checking it is a sum over every
option that uses the pool: at hard xl (31 M options) a pool has hundreds of thousands of
them, and that sum took 63 % of a list-scheduling pass. :class:`StageMoves` keeps each
pool's use per period instead, computed once from the placed options and updated by
:meth:`StageMoves.move`, the one way the repair changes a placement; a check then reads
only the moving stage's own usage rows.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing
from planner.solvers.feasibility import colocation_broken, violations

MOVES_PER_STAGE = 200
"""Other options a stuck stage tries (cheapest first) before the greedy gives up."""


def period_use(problem: Problem, x: IntArray) -> IntArray:
    """Use per period of every resource by the placement ``x``."""
    rows = problem.placed_rows(x)
    use = np.zeros(len(problem.res_cap), dtype=np.int64)
    np.add.at(use, problem.use_res[rows], problem.use_amt[rows] * x[problem.use_opt[rows]])
    return use


class StageMoves:
    """The :data:`~planner.solvers.schedule_shift.Moves` of the repair: called with
    (stage, x, the hours it has), the options it may move to, cheapest first, at most
    :data:`MOVES_PER_STAGE`; :meth:`move` makes one. The use per period it checks is that
    of the last array it was called with, kept up to date by :meth:`move` (a new array,
    such as each pass's copy, starts a new count)."""

    def __init__(self, problem: Problem, timing: Timing) -> None:
        self.problem = problem
        self.timing = timing
        self.global_rules = bool(problem.budgets) or problem.max_share is not None \
            or problem.max_moves is not None or problem.opt_groups is not None
        self.colocs = list(problem.colocations)
        self._of: weakref.ref[IntArray] | None = None
        self._use = np.zeros(0, dtype=np.int64)

    def _current(self, x: IntArray) -> IntArray:
        """The use per period of ``x`` (computed when ``x`` is not the array it follows)."""
        if self._of is None or self._of() is not x:
            self._of = weakref.ref(x)
            self._use = period_use(self.problem, x)
        return self._use

    def _rows(self, o: int) -> tuple[IntArray, IntArray]:
        """Resources and amounts per unit of option ``o``."""
        p = self.problem
        a, b = np.searchsorted(p.use_opt, [o, o + 1])
        return p.use_res[a:b], p.use_amt[a:b]

    def _stage_use(self, s: int, x: IntArray) -> dict[int, int]:
        """Resource → use per period of stage ``s`` as ``x`` places it."""
        r = self.problem.options_of(s)
        out: dict[int, int] = {}
        for o in np.flatnonzero(x[r.start:r.stop]).tolist():
            res, amt = self._rows(r.start + o)
            units = int(x[r.start + o])
            for k, a in zip(res.tolist(), amt.tolist(), strict=True):
                out[k] = out.get(k, 0) + a * units
        return out

    def _per_period_ok(self, s: int, o: int, units: int, x: IntArray) -> bool:
        """Whether every pool option ``o`` uses keeps its capacity per period when stage
        ``s`` moves all its ``units`` there."""
        use = self._current(x)
        own = self._stage_use(s, x)
        res, amt = self._rows(o)
        for k, a in zip(res.tolist(), amt.tolist(), strict=True):
            if int(use[k]) - own.get(k, 0) + a * units > int(self.problem.res_cap[k]):
                return False
        return True

    def _keeps_rules(self, s: int, o: int, units: int, x: IntArray) -> bool:
        """The rules a move of stage ``s`` onto ``o`` can break."""
        p = self.problem
        need = int(p.min_sites[s]) if p.min_sites is not None else 1
        if need > 1:
            return False  # all units on one option: one site
        if not self.global_rules:
            if not self._per_period_ok(s, o, units, x):
                return False
            if not any(s in (c.a, c.b) for c in self.colocs):
                return True
        r = p.options_of(s)
        kept = x[r.start:r.stop].copy()
        x[r.start:r.stop] = 0
        x[o] = units
        try:
            if self.global_rules:
                return not violations(p, x)
            return not any(s in (c.a, c.b) and colocation_broken(p, c, x)
                           for c in self.colocs)
        finally:
            x[r.start:r.stop] = kept

    def __call__(self, s: int, x: IntArray, room: int) -> Iterator[int]:
        p, timing = self.problem, self.timing
        r = p.options_of(s)
        here = x[r.start:r.stop]
        units = int(here.sum())
        ok = (p.opt_ub[r.start:r.stop] >= units) & (here != units)
        if not timing.to_end[s]:
            ok &= timing.opt_hours[r.start:r.stop] <= room
        cand = np.flatnonzero(ok)
        cand = cand[np.lexsort((cand, p.opt_obj[r.start:r.stop][cand]))] + r.start
        tried = 0
        for o in cand.tolist():
            if self._keeps_rules(s, o, units, x):
                yield o
                tried += 1
                if tried >= MOVES_PER_STAGE:
                    return

    def move(self, x: IntArray, s: int, o: int) -> None:
        """All units of stage ``s`` onto option ``o``, in ``x`` (and in the use per period
        when ``x`` is the array followed)."""
        r = self.problem.options_of(s)
        follows = self._of is not None and self._of() is x
        before = self._stage_use(s, x) if follows else {}
        units = int(x[r.start:r.stop].sum())
        x[r.start:r.stop] = 0
        x[o] = units
        if follows:
            for k, a in before.items():
                self._use[k] -= a
            for k, a in self._stage_use(s, x).items():
                self._use[k] += a
