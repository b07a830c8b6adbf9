"""When the stages of a :class:`~planner.models.problem.Problem` run: the time-aware data.

A :class:`Problem` says where units may go and what they cost; :class:`Timing` adds
*when*. Time is whole hours from the start of the horizon ``[0, horizon)``:

* a **batch** stage (training, testing) starts at ``start[s]``; each of its units runs
  ``opt_hours[o]`` hours on the option ``o`` it is placed on, and the stage ends when its
  last unit ends: ``end[s] = start[s] + max opt_hours[o]`` over the options it uses;
* a **to-the-end** stage (inference) runs from its start (go-live) to the horizon end:
  ``end[s] = horizon``;
* a stage starts no earlier than ``release[s]``; a batch stage ends by ``due[s]`` and a
  to-the-end stage goes live by ``due[s]`` (``due[s] = horizon``: no deadline). With
  ``late_cost[s] > 0`` the deadline is soft: every hour late costs that many micro-dollars;
  with 0 it is hard;
* precedence ``(a, b, lag, transfer)``: stage ``b`` starts no earlier than ``lag`` hours
  after stage ``a`` ends, and ``transfer`` hours more when ``b`` uses a site ``a`` does not
  (the artifact, e.g. the trained model, has to be copied there first);
* capacity **at every instant**: one unit of option ``o`` holds ``use_now[k]`` units of
  resource ``use_res[k]`` (instances or GPUs) while it runs, for every usage row ``k`` of
  the Problem (``use_opt[k] == o``); at any instant the units held on resource ``r`` plus
  what its outages take stay within ``res_now[r]``. An outage ``(r, start, end, amount)``
  takes ``amount`` units of ``r`` during ``[start, end)`` (maintenance windows).

Intervals are half-open: a unit that ends at ``t`` frees its resources for one that
starts at ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, Problem


@dataclass(frozen=True)
class Precedence:
    """Stage ``after`` starts no earlier than ``lag`` hours after stage ``before`` ends, and
    ``transfer`` hours more when ``after`` uses a site that ``before`` does not."""

    before: int
    after: int
    lag: int = 0
    transfer: int = 0

    @property
    def most(self) -> int:
        """The longest the gap can be (the transfer counted): what a heuristic that may
        still move either stage to another site has to leave."""
        return self.lag + self.transfer


@dataclass(frozen=True)
class Outage:
    """``amount`` units of resource ``res`` are unavailable during ``[start, end)``."""

    res: int
    start: int
    end: int
    amount: int


@dataclass(frozen=True)
class Timing:
    """The time-aware data of a Problem (see the module docstring)."""

    horizon: int
    opt_hours: IntArray
    release: IntArray
    due: IntArray
    late_cost: IntArray
    to_end: NDArray[np.bool_]
    use_now: IntArray
    res_now: IntArray
    precedence: tuple[Precedence, ...] = ()
    outages: tuple[Outage, ...] = ()

    def check_shapes(self, problem: Problem) -> None:
        """Raise ``ValueError`` when the arrays do not match ``problem``."""
        n_s, n_o, n_r = problem.n_stages, problem.n_options, len(problem.res_cap)
        shapes = {"opt_hours": (self.opt_hours, n_o), "release": (self.release, n_s),
                  "due": (self.due, n_s), "late_cost": (self.late_cost, n_s),
                  "to_end": (self.to_end, n_s), "use_now": (self.use_now, problem.use_opt.size),
                  "res_now": (self.res_now, n_r)}
        for name, (arr, n) in shapes.items():
            if arr.shape != (n,):
                raise ValueError(f"Timing.{name} has shape {arr.shape}, expected ({n},)")
        if self.horizon <= 0:
            raise ValueError("Timing.horizon must be positive")
        if (self.opt_hours < 0).any() or (self.use_now < 0).any() or (self.late_cost < 0).any():
            raise ValueError("Timing hours, usage and late costs must be non-negative")
        for p in self.precedence:
            if not (0 <= p.before < n_s and 0 <= p.after < n_s) or p.before == p.after:
                raise ValueError(f"precedence {p} names no pair of distinct stages")
            if p.transfer < 0:
                raise ValueError(f"precedence {p} has a negative transfer")
        for out in self.outages:
            if not 0 <= out.res < n_r or out.start >= out.end or out.amount < 0:
                raise ValueError(f"outage {out} is not a resource over a non-empty window")
        for out in self.outages:  # outages at once never take more than there is
            down = sum(o.amount for o in self.outages
                       if o.res == out.res and o.start <= out.start < o.end)
            if down > int(self.res_now[out.res]):
                raise ValueError(f"outages take {down} units of resource {out.res} at hour "
                                 f"{out.start}, more than its {int(self.res_now[out.res])}")

    def gap(self, problem: Problem, x: IntArray, p: Precedence) -> int:
        """Hours stage ``p.after`` waits after ``p.before`` ends, placed as ``x``: the lag,
        plus the transfer when ``p.after`` uses a site ``p.before`` does not."""
        if p.transfer == 0:
            return p.lag
        moved = not problem.sites_used(x, p.after) <= problem.sites_used(x, p.before)
        return p.lag + (p.transfer if moved else 0)

    def stage_end(self, problem: Problem, x: IntArray, start: IntArray, s: int) -> int:
        """When stage ``s`` ends, placed as ``x`` and started at ``start[s]``."""
        if self.to_end[s]:
            return self.horizon
        used = [int(self.opt_hours[o]) for o in problem.options_of(s) if x[o] > 0]
        return int(start[s]) + max(used, default=0)

    def lateness(self, problem: Problem, x: IntArray, start: IntArray, s: int) -> int:
        """Hours stage ``s`` is late: past its deadline at its end (batch) or go-live."""
        at = int(start[s]) if self.to_end[s] else self.stage_end(problem, x, start, s)
        return max(0, at - int(self.due[s]))

    def run_hours(self, problem: Problem, x: IntArray) -> IntArray:
        """Per stage, the hours its slowest unit runs placed as ``x`` (0 when placed
        nowhere; a batch stage's end is its start plus these)."""
        stage = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
        used = np.flatnonzero(x > 0)
        hours = np.zeros(problem.n_stages, dtype=np.int64)
        np.maximum.at(hours, stage[used], self.opt_hours[used])
        return hours

    def ends(self, problem: Problem, x: IntArray, start: IntArray) -> IntArray:
        """Per stage, :meth:`stage_end` (0 for a stage placed nowhere), over arrays."""
        is_placed = problem.placed_stages(x)
        end = np.where(self.to_end, self.horizon, start + self.run_hours(problem, x))
        return np.where(is_placed, end, 0).astype(np.int64)

    def late_costs(self, problem: Problem, x: IntArray, start: IntArray) -> IntArray:
        """Per stage, the micro-dollars of late penalty it pays placed as ``x`` and started
        at ``start`` (0 for a stage placed nowhere): :meth:`lateness` times its late
        cost, over arrays (a loop over 20,000 stages and their options took a second)."""
        is_placed = problem.placed_stages(x)
        at = np.where(self.to_end, start, start + self.run_hours(problem, x))
        late = np.maximum(0, at - self.due) * self.late_cost
        return np.where(is_placed, late, 0).astype(np.int64)

    def late_penalty(self, problem: Problem, x: IntArray, start: IntArray) -> int:
        """Micro-dollars of late penalties of the placed stages."""
        return int(self.late_costs(problem, x, start).sum())

    def cost(self, problem: Problem, x: IntArray, start: IntArray) -> int:
        """The objective of the plan ``x`` started at ``start``: the placement's objective
        plus its late penalties (micro-dollars)."""
        return problem.objective(x) + self.late_penalty(problem, x, start)


def placed(problem: Problem, x: IntArray, s: int) -> bool:
    """Whether stage ``s`` has any unit placed in ``x`` (funding may leave it out)."""
    r = problem.options_of(s)
    return bool(x[r.start:r.stop].any())
