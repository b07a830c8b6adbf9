"""Adaptive site-based neighbourhoods of the ``lns`` strategy (:mod:`planner.solvers.lns`).

A neighbourhood frees the stages placed at a few sites — picked with probability in
proportion to the Lagrangian weight of their resources (:func:`site_weights`) — and the
stages whose reduced cost would improve there; every other stage stays fixed at the
incumbent. It grows after a fast proven-optimal sub-solve and shrinks after one that timed
out (the factors are in :class:`~planner.solvers.tuning.LnsTuning`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.solvers.decompose import opt_stage
from planner.solvers.tuning import LnsTuning


@dataclass
class Neighbourhoods:
    """Adaptive site-based neighbourhoods."""

    p: Problem
    weight: np.ndarray
    tuning: LnsTuning
    rng: np.random.Generator
    max_free: int = field(init=False)
    """Stages freed at most (adapts)."""
    sites: int = field(init=False)
    """Sites picked (adapts)."""

    def __post_init__(self) -> None:
        self.max_free = self.tuning.max_free
        self.sites = self.tuning.hood_sites

    def pick(self, x: IntArray, rc: np.ndarray, binds: np.ndarray) -> tuple[IntArray, IntArray]:
        """(options to keep, their upper bounds) for one neighbourhood."""
        p = self.p
        n_sites = self.weight.size
        k = min(self.sites, int(np.count_nonzero(self.weight)))  # sites with options
        prob = self.weight / self.weight.sum()
        chosen = self.rng.choice(n_sites, size=k, replace=False, p=prob)
        at = np.isin(p.opt_site, chosen)
        st = opt_stage(p)
        used = x > 0
        cur_rc = np.bincount(st, weights=rc * x, minlength=p.n_stages) / np.maximum(p.units, 1)
        placed_here = np.zeros(p.n_stages, dtype=np.bool_)
        placed_here[st[used & at & binds]] = True
        gain = np.zeros(p.n_stages)
        better = at & (rc < cur_rc[st] - 1e-6)
        np.maximum.at(gain, st[better], (cur_rc[st] - rc)[better])
        score = np.where(placed_here, np.inf, gain)
        cand = np.flatnonzero(placed_here | (gain > 0))
        if cand.size > self.max_free:
            cand = cand[np.argsort(-score[cand], kind="stable")[: self.max_free]]
        free = np.zeros(p.n_stages, dtype=np.bool_)
        free[cand] = True
        keep = used | (free[st] & (at | ~binds))
        ub = np.where(free[st], p.opt_ub, x)
        idx = np.flatnonzero(keep).astype(np.int64)
        return idx, ub[idx]

    def adapt(self, optimal: bool, seconds: float, limit: float) -> None:
        t = self.tuning
        if optimal and seconds < t.fast_share * limit:
            self.max_free = int(self.max_free * t.grow)
            self.sites = min(self.sites + 1, self.weight.size)
        elif not optimal:
            self.max_free = max(t.min_free, int(self.max_free * t.shrink))
            self.sites = max(t.min_hood_sites, self.sites - 1)


def site_weights(p: Problem, lam: np.ndarray, floor_share: float) -> np.ndarray:
    """Per site: Σ λ_r C_r of its resources (+ a floor so every site can be picked)."""
    n_sites = max(len(p.site_names), int(p.opt_site.max()) + 1 if p.n_options else 1)
    res_site = np.zeros(p.res_cap.size, dtype=np.int64)
    if p.use_opt.size:
        res_site[p.use_res] = p.opt_site[p.use_opt]
    w = np.bincount(res_site, weights=lam * p.res_cap, minlength=n_sites)
    has_opts = np.bincount(p.opt_site, minlength=n_sites) > 0
    floor = floor_share * w.max() if w.max() > 0 else 1.0
    return np.where(has_opts, w + floor, 0.0)
