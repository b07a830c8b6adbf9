"""The solver interface: a placement problem as arrays in, a choice per stage out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from planner.candidates import Candidates
from planner.models.status import SolveStatus

__all__ = ["Backend", "Problem", "Solution", "SolveOptions", "SolveStatus", "build_problem"]


@dataclass(frozen=True)
class Problem:
    """A placement problem as arrays.

    Options of stage ``s`` are ``stage_ptr[s] .. stage_ptr[s+1]-1`` (contiguous).
    Usage is sparse: option ``use_opt[k]`` uses ``use_amt[k]`` of resource
    ``use_res[k]``, whose capacity is ``res_cap[use_res[k]]``. Costs are integer
    micro-dollars; usage and capacity are integer milli-unit-hours.
    """

    n_stages: int
    stage_ptr: NDArray[np.int64]
    opt_cost: NDArray[np.int64]
    use_opt: NDArray[np.int64]
    use_res: NDArray[np.int64]
    use_amt: NDArray[np.int64]
    res_cap: NDArray[np.int64]
    res_names: tuple[str, ...]

    @property
    def n_options(self) -> int:
        return int(self.opt_cost.shape[0])

    def options_of(self, stage: int) -> range:
        return range(int(self.stage_ptr[stage]), int(self.stage_ptr[stage + 1]))

    def trivial_bound(self) -> int:
        """Σ over stages of the cheapest option: a lower bound that ignores capacity."""
        if self.n_options == 0 or self.n_stages == 0:
            return 0
        counts = np.diff(self.stage_ptr)
        if (counts == 0).any():
            return 0
        return int(np.minimum.reduceat(self.opt_cost, self.stage_ptr[:-1]).sum())


def build_problem(cands: Candidates) -> Problem:
    """Turn candidates into arrays (options are already grouped by stage)."""
    ptr = np.zeros(len(cands.by_stage) + 1, dtype=np.int64)
    for s, opts in enumerate(cands.by_stage):
        ptr[s + 1] = ptr[s] + len(opts)
    res_names = tuple(sorted(cands.capacities))
    res_index = {name: i for i, name in enumerate(res_names)}
    use_opt, use_res, use_amt = [], [], []
    for i, opt in enumerate(cands.options):
        for name, amount in opt.usage:
            use_opt.append(i)
            use_res.append(res_index[name])
            use_amt.append(amount)
    return Problem(
        n_stages=len(cands.by_stage),
        stage_ptr=ptr,
        opt_cost=np.array([o.cost_micro for o in cands.options], dtype=np.int64),
        use_opt=np.array(use_opt, dtype=np.int64),
        use_res=np.array(use_res, dtype=np.int64),
        use_amt=np.array(use_amt, dtype=np.int64),
        res_cap=np.array([cands.capacities[n] for n in res_names], dtype=np.int64),
        res_names=res_names,
    )


@dataclass(frozen=True)
class SolveOptions:
    """Backend-independent knobs. ``deterministic`` trades some speed for identical runs."""

    time_limit_s: float = 30.0
    workers: int = 8
    seed: int = 0
    deterministic: bool = True
    hint: NDArray[np.int64] | None = None


@dataclass
class Solution:
    """A backend's answer: the option chosen for each stage (-1 where none)."""

    backend: str
    status: SolveStatus
    choice: NDArray[np.int64]
    objective: int | None
    bound: int | None
    solve_time_s: float
    detail: str = ""
    stats: dict[str, float] = field(default_factory=dict)


class Backend(Protocol):
    """What every solver backend offers."""

    name: str
    proves_optimality: bool

    def solve(self, problem: Problem, options: SolveOptions) -> Solution: ...
