"""Capacity-aware fill: place stages one after the other, each on its options in order of
a cost vector, within the capacity left (the rounding step of the ``lns`` and ``lp``
strategies). With ``rescue``, a stage that finds no capacity left on any option gets room
made for it by moving units of the stages placed before it
(:class:`~planner.solvers.repair.Room`, the greedy pass's ejection chains) instead of
failing the whole fill."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, Problem
from planner.solvers.repair import Room

FloatArray = NDArray[np.float64]


class FlatUsage:
    """The usage rows of each option, ``(resource, amount)``, read from flat lists when
    asked (a list per option costs gigabytes at 22 M options)."""

    def __init__(self, ptr: list[int], res: list[int], amt: list[int]) -> None:
        self.ptr, self.res, self.amt = ptr, res, amt

    def __getitem__(self, o: int) -> list[tuple[int, int]]:
        a, b = self.ptr[o], self.ptr[o + 1]
        return list(zip(self.res[a:b], self.amt[a:b], strict=True))


def fill(problem: Problem, x: IntArray, stages: list[int], rc: FloatArray,
         rescue: bool = False) -> IntArray | None:
    """``x`` with every stage of ``stages`` (in that order; their units in ``x`` must be 0)
    filled with its options in order of reduced cost ``rc`` within the capacity the rest
    of ``x`` leaves; None when a stage does not fit (with ``rescue``: when no room can be
    made for it either, see the module docstring)."""
    p = problem
    x = x.copy()
    uorder = np.argsort(p.use_opt, kind="stable")
    uptr = np.searchsorted(p.use_opt[uorder], np.arange(p.n_options + 1)).tolist()
    ures = p.use_res[uorder].tolist()
    uamt = p.use_amt[uorder].tolist()
    used = np.bincount(p.use_res, weights=p.use_amt * x[p.use_opt], minlength=p.res_cap.size)
    remaining = (p.res_cap - used.astype(np.int64)).tolist()
    ub = p.opt_ub.tolist()
    room: Room | None = None
    for s in stages:
        r = p.options_of(s)
        need = int(p.units[s])
        for o in (r.start + np.argsort(rc[r.start:r.stop], kind="stable")).tolist():
            k = min(need, ub[o])
            for j in range(uptr[o], uptr[o + 1]):
                k = min(k, remaining[ures[j]] // uamt[j])
            if k <= 0:
                continue
            x[o] += k
            need -= k
            for j in range(uptr[o], uptr[o + 1]):
                remaining[ures[j]] -= k * uamt[j]
            if need == 0:
                break
        if need and rescue:
            room = room or Room(p, FlatUsage(uptr, ures, uamt))
            need = _rescued(p, room, x, remaining, s, need)
        if need:
            return None
    return x


def _rescued(problem: Problem, room: Room, x: IntArray, remaining: list[int], s: int,
             need: int) -> int:
    """Units of stage ``s`` still without an option after ``room`` made room for them
    one at a time (its options by objective; ``x`` and ``remaining`` updated)."""
    r = problem.options_of(s)
    while need and not room.exhausted():
        blocked = [(int(problem.opt_obj[o]), o) for o in r if x[o] < problem.opt_ub[o]]
        o = room.make_room(x, remaining, s, blocked) if blocked else -1
        if o < 0:
            break
        x[o] += 1
        for res, amt in room.usage[o]:
            remaining[res] -= amt
        need -= 1
    return need
