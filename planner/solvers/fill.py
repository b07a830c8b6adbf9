"""Capacity-aware fill: place stages one after the other, each on its options in order of
a cost vector, within the capacity left (the rounding step of the ``lns`` and ``lp``
strategies)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, Problem

FloatArray = NDArray[np.float64]


def fill(problem: Problem, x: IntArray, stages: list[int], rc: FloatArray) -> IntArray | None:
    """``x`` with every stage of ``stages`` (in that order; their units in ``x`` must be 0)
    filled with its options in order of reduced cost ``rc`` within the capacity the rest
    of ``x`` leaves; None when a stage does not fit."""
    p = problem
    x = x.copy()
    uorder = np.argsort(p.use_opt, kind="stable")
    uptr = np.searchsorted(p.use_opt[uorder], np.arange(p.n_options + 1)).tolist()
    ures = p.use_res[uorder].tolist()
    uamt = p.use_amt[uorder].tolist()
    used = np.bincount(p.use_res, weights=p.use_amt * x[p.use_opt], minlength=p.res_cap.size)
    remaining = (p.res_cap - used.astype(np.int64)).tolist()
    ub = p.opt_ub.tolist()
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
        if need:
            return None
    return x
