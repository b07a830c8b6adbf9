"""The placement LP's prices as the time-aware search's guide.

The placement's LP (or its dual ascent) prices every row of the placement model with
energy cuts (:func:`~planner.solvers.time_cuts.with_time_cuts`): ``λ ≥ 0`` per
resource. At those prices an option's *reduced cost* is its cost plus what it takes of
each priced row, ``rc[o] = obj[o] + Σ_r λ_r · use[o, r]``, and LP duality splits what a
plan ``x`` costs above the LP's bound exactly (on the capacity rows):

    cost(x) − LP  =  Σ_s (Σ_o rc[o] · x[o] − units_s · min_o rc[o])      (each stage)
                   + Σ_r λ_r · (cap_r − use_r(x))                        (each row)
                   + late penalties.

The first sum is what each stage pays above the cheapest option *at the LP's prices*
(its reduced-cost regret), the second the priced capacity the plan leaves idle (holes in
pools the LP fills). Raw regret (cost now minus the cheapest option's cost) counts
every stage that lost a contested cheap pool: at hard m its sum is $2.9 M against a gap
of $94 k, while one stage holds 45 % of the reduced-cost regret (a 4-node gang moved to
the cloud for $42 k). The search draws its pools and orders its stages by these two
sums (:func:`planner.solvers.schedule_lns.neighbourhood`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, Problem, rows_in
from planner.solvers.decompose import opt_stage
from planner.solvers.time_cuts import row_pools

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Prices:
    """Reduced costs per option and the priced rows of the pools (module docstring)."""

    reduced: FloatArray
    """Per option of the problem: its cost plus what it takes of each priced row."""
    least: FloatArray
    """Per stage, its units on its cheapest option at these prices."""
    rows_opt: IntArray
    rows_amt: IntArray
    rows_row: IntArray
    """The usage rows on a priced row of a pool: option (in order), amount, which priced
    row."""
    row_pool: IntArray
    """Per priced row, the resource of the problem it belongs to (a pool's own row or one
    of its energy windows)."""
    row_value: FloatArray
    """Per priced row, its price times its capacity."""
    row_lam: FloatArray

    @classmethod
    def of(cls, problem: Problem, cut: Problem, lam: FloatArray) -> Prices | None:
        """The prices ``lam`` (one per resource of ``cut``, the placement model of
        ``problem`` with energy cuts and the same options), or None when they do not fit
        ``cut`` or price nothing."""
        n = len(cut.res_cap)
        if lam.shape != (n,) or cut.n_options != problem.n_options \
                or not np.isfinite(lam).all() or not (lam > 0).any():
            return None
        lam = np.maximum(lam, 0.0)
        reduced = cut.opt_obj.astype(np.float64)
        np.add.at(reduced, cut.use_opt, lam[cut.use_res] * cut.use_amt)
        pool = row_pools(cut, problem)
        priced = np.flatnonzero((lam > 0) & (pool >= 0))
        number = np.full(n, -1, dtype=np.int64)
        number[priced] = np.arange(priced.size)
        on = number[cut.use_res] >= 0
        least = np.full(problem.n_stages, np.inf)
        np.minimum.at(least, opt_stage(problem), reduced)
        least[~np.isfinite(least)] = 0.0
        return cls(reduced, problem.units * least, cut.use_opt[on], cut.use_amt[on],
                   number[cut.use_res[on]], pool[priced], lam[priced] * cut.res_cap[priced],
                   lam[priced])

    def per_stage(self, problem: Problem, stage: IntArray, x: IntArray
                  ) -> tuple[FloatArray, FloatArray]:
        """Per stage: what its options in ``x`` cost at these prices, and its regret (that
        above its units on its cheapest option at them, ≥ 0)."""
        on = np.flatnonzero(x)
        now = np.bincount(stage[on], weights=self.reduced[on] * x[on],
                          minlength=problem.n_stages).astype(np.float64)
        return now, np.maximum(0.0, now - self.least)

    def idle(self, n_res: int, x: IntArray) -> FloatArray:
        """Per resource of the problem, the priced capacity ``x`` leaves unused on it (its
        own row and its energy windows; ≥ 0)."""
        rows = rows_in(self.rows_opt, np.flatnonzero(x))  # the placed options' rows only
        used = np.bincount(self.rows_row[rows], weights=self.rows_amt[rows]
                           * x[self.rows_opt[rows]], minlength=self.row_value.size)
        value = np.maximum(0.0, self.row_value - self.row_lam * used)
        return np.bincount(self.row_pool, weights=value, minlength=n_res).astype(np.float64)
