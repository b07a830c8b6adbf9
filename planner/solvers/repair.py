"""Make room for a stuck unit: a capacity-aware ejection chain for the greedy pass.

When the greedy pass (:mod:`planner.solvers.greedy_pass`) meets a unit of stage ``s``
whose every admissible option is out of capacity, :meth:`Room.make_room` frees capacity
for one of them by moving units of *other* stages to their cheapest option that still
fits:

* for each blocked option ``o`` of ``s`` (cheapest first, at most :data:`TRIES`), the
  deficit of every resource ``o`` needs is covered by moves, one unit at a time: among the
  placed units using a resource in deficit, the one whose cheapest alternative adds the
  least objective per share of the deficit it frees; an alternative may not use a
  resource in deficit nor eat into what ``o`` needs (so every move frees and no move
  blocks ``o``);
* the option whose room costs least (its own objective plus the moves') is taken and its
  moves applied.

Only stages whose sites no side rule reads (no pipeline edge, co-location or spread) and
that belong to no budget are moved, and with a move cap no unit moves onto an option that
moves its stage from the previous plan; the provider share cap is left to the shared check
on the finished plan (:func:`planner.solvers.feasibility.violations`), like every rule of
the greedy pass. The work is counted (alternatives looked at, at most ``budget``), not
timed, so the same problem always gives the same plan.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, Problem

TRIES = 8
"""Blocked options of a stuck unit the repair tries to make room for."""
MAX_MOVES = 64
"""Moves one unit's room may take."""
WORK = 2_000_000
"""Alternatives the repair may look at over a whole greedy pass."""


class Usage(Protocol):
    """The usage rows ``(resource, amount)`` of each option, by option index."""

    def __getitem__(self, o: int, /) -> list[tuple[int, int]]: ...


Left = IntArray | list[int]
"""Capacity left per resource."""


def movable_stages(problem: Problem) -> NDArray[np.bool_]:
    """Stages whose units the repair may move: in no edge, co-location, spread or budget."""
    ok = np.ones(problem.n_stages, dtype=np.bool_)
    fixed = problem.needs_site_vars()
    for b in problem.budgets:
        fixed |= set(b.stages.tolist())
    if fixed:
        ok[np.fromiter(fixed, dtype=np.int64)] = False
    return ok


class Room:
    """The ejection-chain repair over one greedy pass (see the module docstring)."""

    def __init__(self, problem: Problem, usage: Usage, budget: int = WORK) -> None:
        self.p = problem
        self.usage = usage
        self.budget = budget
        self.work = 0
        self.moved = 0
        self.stage_of = np.repeat(np.arange(problem.n_stages, dtype=np.int64),
                                  np.diff(problem.stage_ptr))
        self.movable = movable_stages(problem)
        order = np.argsort(problem.use_res, kind="stable")
        self.res_opt = problem.use_opt[order]
        self.res_ptr = np.zeros(problem.res_cap.size + 1, dtype=np.int64)
        self.res_ptr[1:] = np.cumsum(np.bincount(problem.use_res, minlength=problem.res_cap.size))

    def exhausted(self) -> bool:
        return self.work >= self.budget

    def make_room(self, x: IntArray, remaining: Left, s: int,
                  blocked: list[tuple[int, int]]) -> int:
        """Free capacity for the cheapest-to-free of ``blocked`` ((cost, option) of stage
        ``s``, admissible but out of capacity), apply its moves to ``x`` and ``remaining``
        and return it; -1 when none can be freed within the budget."""
        best: tuple[int, int, list[tuple[int, int]]] | None = None
        for cost, o in sorted(blocked)[:TRIES]:
            plan = self._plan(x, remaining, s, o)
            if plan is not None and (best is None or cost + plan[0] < best[0]):
                best = (cost + plan[0], o, plan[1])
        if best is None:
            return -1
        for q, q2 in best[2]:
            self._move(x, remaining, q, q2)
        self.moved += len(best[2])
        return best[1]

    def _move(self, x: IntArray, remaining: Left, q: int, q2: int) -> None:
        x[q] -= 1
        x[q2] += 1
        for r, a in self.usage[q]:
            remaining[r] += a
        for r, a in self.usage[q2]:
            remaining[r] -= a

    def _plan(self, x: IntArray, remaining: Left, s: int, o: int
              ) -> tuple[int, list[tuple[int, int]]] | None:
        """The moves that make ``o`` fit and their added objective, without applying them."""
        over: dict[int, int] = {}  # resource → change of remaining
        dx: dict[int, int] = {}  # option → change of units
        need = self.usage[o]
        reserve = dict(need)
        moves: list[tuple[int, int]] = []
        added = 0
        while True:
            deficit = {r: a - (int(remaining[r]) + over.get(r, 0)) for r, a in need
                       if int(remaining[r]) + over.get(r, 0) < a}
            if not deficit:
                return added, moves
            if len(moves) >= MAX_MOVES:
                return None
            pick = self._best_move(x, remaining, s, deficit, reserve, over, dx)
            if pick is None:
                return None
            delta, q, q2 = pick
            dx[q] = dx.get(q, 0) - 1
            dx[q2] = dx.get(q2, 0) + 1
            for r, a in self.usage[q]:
                over[r] = over.get(r, 0) + a
            for r, a in self.usage[q2]:
                over[r] = over.get(r, 0) - a
            moves.append((q, q2))
            added += delta

    def _best_move(self, x: IntArray, remaining: Left, s: int, deficit: dict[int, int],
                   reserve: dict[int, int], over: dict[int, int], dx: dict[int, int]
                   ) -> tuple[int, int, int] | None:
        """(added objective, from, to) of the placed unit that frees the deficit at the
        least added objective per share freed; None when no unit can move."""
        best: tuple[float, int, int, int] | None = None
        seen: set[int] = set()
        for r in sorted(deficit):
            opts = self.res_opt[self.res_ptr[r]:self.res_ptr[r + 1]]
            for q in opts[x[opts] > 0].tolist():
                t = int(self.stage_of[q])
                if q in seen or t == s or not self.movable[t] or x[q] + dx.get(q, 0) <= 0:
                    continue
                seen.add(q)
                alt = self._alternative(x, remaining, t, q, deficit, reserve, over, dx)
                if alt is None:
                    continue
                q2, delta = alt
                freed = max(min(a, deficit[rr]) / deficit[rr] for rr, a in self.usage[q]
                            if rr in deficit)
                key = (delta / freed, delta, q, q2)
                if best is None or key < best:
                    best = key
                if self.exhausted():
                    return None
        return None if best is None else (best[1], best[2], best[3])

    def _alternative(self, x: IntArray, remaining: Left, t: int, q: int,
                     deficit: dict[int, int], reserve: dict[int, int], over: dict[int, int],
                     dx: dict[int, int]) -> tuple[int, int] | None:
        """The cheapest other option of stage ``t`` one unit from ``q`` can move to."""
        p = self.p
        best = -1
        for q2 in p.options_of(t):
            self.work += 1
            if q2 == q or x[q2] + dx.get(q2, 0) >= p.opt_ub[q2]:
                continue
            if p.max_moves is not None and p.opt_moved[q2]:
                continue
            if best >= 0 and p.opt_obj[q2] >= p.opt_obj[best]:
                continue
            if all(r not in deficit and int(remaining[r]) + over.get(r, 0)
                   - reserve.get(r, 0) >= a for r, a in self.usage[q2]):
                best = q2
        if best < 0:
            return None
        return best, int(p.opt_obj[best]) - int(p.opt_obj[q])
