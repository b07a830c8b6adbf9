"""Large-neighbourhood search on the exact time-aware model: improve a valid schedule.

The decomposed path (:mod:`planner.solvers.schedule_plan`) places every stage with
capacity counted per period and then makes the placement run at every instant by list
scheduling and repair, one stage at a time: stages that found no room when the list
reached them go to expensive options (often the cloud), and the pools they left keep
holes that no single move can use. Here CP-SAT decides a few hundred stages *together*,
with the exact model of :mod:`planner.solvers.schedule_cpsat` on a restriction:

* **pools** — a few capacity-limited resources (or the options on none), drawn by what
  the stages gain there: a stage's *regret* is what its options cost now above its
  cheapest option plus the late penalty it pays — at the placement LP's prices when
  the search has them and no precedence links stages (reduced costs,
  :mod:`planner.solvers.schedule_prices`; :func:`improve` says why) — and
  the first pool is drawn with the regret of the stages that have a cheaper option on
  it (any option, for a late stage), plus, with prices, the priced capacity the plan
  leaves idle on it;
  each next one is *related* to those drawn (Shaw's related removal): a limited pool
  where the stages that hold them or would gain there have options, drawn by how many,
  so that a holder can move to a pool of the same neighbourhood and leave its room to a
  stage that gains (:func:`_pools`);
* **movers** — the stages with regret that have an option on the pools (the most to
  gain first, at most :attr:`LnsSettings.max_free`), and the stages that hold the pools
  now, and their neighbours (precedence, egress, co-location): each keeps its options
  now, its options that use only the drawn pools, and its cheapest option that uses no
  limited pool (so a holder can make room, and a predecessor can leave its successor a
  wider window: timed m, 120 s, four pairs of runs side by side, 7.3–8.0 % above the
  bound against 7.9–9.1 % with the neighbours' options fixed);
* **in a window** — where stages have windows of their own, up to half of the
  neighbourhoods narrow the movers to a time window
  around where the first of them may run: the holders running in it now and the stages
  that may run in it (a pool over a quarter holds a hundred stages; fewer free ones let
  CP-SAT prove more sub-problems in their time);
* **shifters** — the movers' neighbours that are not movers themselves (the neighbours'
  neighbours): options fixed, start free;
* every other stage keeps its options *and* its start.

The sub-model holds only the stages that may change and their neighbours (precedence,
egress, co-location), the neighbours fixed; every other stage on a resource they may use
enters as fixed load on that resource (at every instant, and in the period's capacity),
not as variables. With a rule over many stages (budgets, share caps, move caps, funding)
it holds them all as variables. Every rule of the exact model holds on it (windows,
precedence, capacity at every instant, every placement rule), so its plan is a plan of
the whole problem; the incumbent is the hint, and only a cheaper plan is kept. The
neighbourhood grows while CP-SAT proves its sub-problems optimal and shrinks when they
time out.

With two workers, two neighbourhoods run at once (threads: CP-SAT releases the GIL). The
second is drawn *apart* from the first: none of its pools or resources, no stage in the
first's sub-model, next to a stage the first may change or on a resource it may use.
Then neither answer can touch what the other's sub-model assumed, so each is applied to
the plan as it is when it comes back, with the same gain.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from planner.models.problem import IntArray, Problem, runs
from planner.models.timing import Timing, placed
from planner.solvers.base import SolveOptions
from planner.solvers.cpsat_model import configure
from planner.solvers.decompose import opt_stage, restrict, subset_stages
from planner.solvers.schedule_cpsat import ScheduleBuilder
from planner.solvers.schedule_prices import Prices

UNLIMITED_WEIGHT = 0.1
"""The options on no limited resource are drawn as a pool with this share of their regret
(a late stage weighs on every pool it has an option on, and moving it to the cloud is
what the repair already tried). 60 s from the same plans: timed m 17.4 % and 10.8 % above
the bound with 0.1, 17.6–21.6 % with 1 (three runs), 15.3 % with 0; hard m 1.39 % and
1.62 % with 0.1, 1.28–1.58 % with 1: better at timed m, no worse at hard m."""


@dataclass(frozen=True)
class LnsSettings:
    """Knobs of the search (measured on the timed and hard families, 2 cores)."""

    max_free: int = 60
    """Movers per neighbourhood at the start (adapted between 20 and 2,000)."""
    pools: int = 2
    """Limited resources drawn per neighbourhood at the start (adapted: one more after a
    neighbourhood proved optimal fast, one less after a time-out)."""
    sub_time_s: float = 1.5
    """CP-SAT's time per neighbourhood (60 s from the same repaired plans: timed m 17.6 %
    and 19.7 % above the bound with 1.5 s, 16.8 % and 24.3 % with 3 s, 19.4 % with 1 s;
    hard m 1.28 % and 1.50 % with 1.5 s, 1.47 %, 1.62 % and 1.75 % with 3 s; with two
    lanes, timed m 14.1 % and 11.9 % with 1.5 s, 15.4 % and 16.0 % with 2.5 s)."""
    window_share: float = 0.5
    """Share of the neighbourhoods drawn in a time window (:func:`_windowed`), times the
    share of batch stages with a window of their own (an earliest start or a deadline):
    where stages may run anywhere in the horizon, a window only cuts what a
    neighbourhood may change. 60 s from the same repaired timed m plan (72 % of its
    batch stages have a window), four seeds: 8.5 %, 9.6 %, 10.3 % and 11.7 % above the
    bound with half of them in a window, 10.4 %, 11.2 %, 10.5 % and 11.9 % with none
    (more neighbourhoods solved: 130–140 against 116–137); 11.1 % with all of them. On
    the undated realistic l portfolio, half in a window: 0.78 % and 0.75 % end to end,
    none: 0.45 % and 0.60 % (its search solves 15–20 neighbourhoods)."""
    stall: int | None = None
    """Stop after this many neighbourhoods in a row without a gain (None: search until
    the deadline)."""


@dataclass
class Incumbent:
    """A valid schedule and what it costs (objective + late penalties)."""

    x: IntArray
    start: IntArray
    value: int
    tried: int = 0
    """Neighbourhoods solved."""
    gains: int = 0
    """Neighbourhoods that found a cheaper plan."""
    scores: _Scores | None = field(default=None, repr=False, compare=False)
    """What it offers the neighbourhoods, once computed."""


class _Index:
    """What the neighbourhoods read, computed once."""

    def __init__(self, problem: Problem, timing: Timing, prices: Prices | None = None
                 ) -> None:
        self.st = opt_stage(problem)
        self.prices = prices
        """The placement LP's prices, when there are some (:func:`_scores`)."""
        limited = timing.use_now > 0
        self.limited_opt = np.zeros(problem.n_options, dtype=np.bool_)
        self.limited_opt[problem.use_opt[limited]] = True
        # Pools: the limited resources, and one more for the options on none of them.
        self.n_pools = len(problem.res_cap) + 1
        unlimited = np.flatnonzero(~self.limited_opt)
        self.rows_opt = np.concatenate([problem.use_opt[limited], unlimited])
        self.rows_res = np.concatenate([problem.use_res[limited],
                                        np.full(unlimited.size, self.n_pools - 1)])
        self.rows_st = self.st[self.rows_opt].astype(_POS)
        self.rows_cost = (problem.opt_obj.astype(np.float64) if prices is None
                          else prices.reduced)[self.rows_opt]
        """Per row, its option's cost (reduced at the prices, when there are some)."""
        self.by_pool, self.pool_ptr = _grouped(self.rows_res, self.n_pools)
        """The rows of pool ``p`` are ``by_pool[pool_ptr[p]:pool_ptr[p + 1]]``."""
        self.is_pool = np.diff(self.pool_ptr)[:-1] > 0
        """Per resource, whether it holds capacity at once (a pool a draw may pick)."""
        self.opt_rows = np.bincount(self.rows_opt, minlength=problem.n_options).astype(_POS)
        """Per option, its rows (an option is on the drawn pools when all of them are)."""
        self.stage_ptr = _starts(self.rows_st[:int(limited.sum())], problem.n_stages)
        """The limited rows of stage ``s`` are ``stage_ptr[s]:stage_ptr[s + 1]`` (they come
        first, in option order, so in stage order)."""
        self.by_res, self.res_ptr = _grouped(problem.use_res, len(problem.res_cap))
        """The usage rows of resource ``r`` are ``by_res[res_ptr[r]:res_ptr[r + 1]]``."""
        self.cheapest = _cheapest(problem, self.st, np.ones(problem.n_options, np.bool_))
        self.cheapest_free = _cheapest(problem, self.st, ~self.limited_opt)
        self.neighbours: dict[int, set[int]] = {}
        for p in timing.precedence:
            self.neighbours.setdefault(p.before, set()).add(p.after)
            self.neighbours.setdefault(p.after, set()).add(p.before)
        for e in problem.edges:
            self.neighbours.setdefault(e.a, set()).add(e.b)
            self.neighbours.setdefault(e.b, set()).add(e.a)
        for c in problem.colocations:
            self.neighbours.setdefault(c.a, set()).add(c.b)
            self.neighbours.setdefault(c.b, set()).add(c.a)
        pairs = np.array([(a, b) for a, bs in self.neighbours.items() for b in bs],
                         dtype=np.int64).reshape(-1, 2)
        self.pair_a, self.pair_b = pairs[:, 0], pairs[:, 1]
        """Every neighbour relation (both directions) as two arrays."""
        self.whole = bool(problem.budgets) or problem.max_share is not None \
            or problem.max_moves is not None or problem.opt_groups is not None \
            or problem.group_reward is not None
        """Rules over many stages: the sub-model keeps every stage (fixed ones fixed)."""


def _cheapest(problem: Problem, st: IntArray, allowed: np.ndarray) -> IntArray:
    """Per stage, its cheapest allowed option (-1: none)."""
    out = np.full(problem.n_stages, -1, dtype=np.int64)
    idx = np.flatnonzero(allowed)
    if idx.size == 0:
        return out
    order = idx[np.lexsort((idx, problem.opt_obj[idx], st[idx]))]
    first = np.r_[True, st[order][1:] != st[order][:-1]]
    out[st[order][first]] = order[first]
    return out


_POS = np.int32
"""Positions and counts the index keeps (half the memory of int64: at hard xl its arrays
have tens of millions of rows; none reaches 2³¹)."""
PosArray = NDArray[np.int32]


def _starts(sorted_keys: IntArray, n: int) -> IntArray:
    """Where each key ``0..n-1`` starts in ``sorted_keys`` (and its end: ``n + 1`` entries)."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(sorted_keys, minlength=n), out=ptr[1:])
    return ptr


def _grouped(keys: IntArray, n: int) -> tuple[PosArray | IntArray, IntArray]:
    """The positions of ``keys`` (each in ``0..n-1``) grouped by key, in order within a
    key, and where each key's group starts (:func:`_starts`). A stable sort of 16-bit keys
    is a radix sort: 2.7x faster than of 64-bit ones at 4 M rows."""
    small = keys.astype(np.int16) if n < np.iinfo(np.int16).max else keys
    order = np.argsort(small, kind="stable")
    if keys.size < np.iinfo(_POS).max:
        order = order.astype(_POS)
    return order, _starts(keys[order], n)


def _segments(ptr: IntArray, keys: IntArray) -> IntArray:
    """The positions ``ptr[k] .. ptr[k + 1] - 1`` of every key ``k``, concatenated: the
    draws read only the rows of a few pools, stages or options this way, not every row
    (at hard l, whole-array masks made each draw take 0.27 s while a lane waited)."""
    lo = ptr[keys]
    return runs(lo, ptr[keys + 1] - lo)


def regret(problem: Problem, index: _Index, now: np.ndarray, late: IntArray) -> np.ndarray:
    """Per stage: its cost now (``now``, per stage) and late penalty (``late``) minus its
    units on its cheapest option (≥ 0)."""
    cheapest = index.cheapest
    floor = np.zeros(problem.n_stages)
    floor[cheapest >= 0] = (problem.opt_obj[cheapest[cheapest >= 0]]
                            * problem.units[cheapest >= 0])
    return np.maximum(0.0, now - floor) + late


@dataclass(frozen=True)
class Hood:
    """A neighbourhood: the options kept and their upper bounds, the stages whose option
    or start may change (``free``), the stages of its sub-model, the limited resources
    its free stages may use, and the pools it was drawn from."""

    kept: IntArray
    ub: IntArray
    free: set[int]
    stages: IntArray
    resources: IntArray
    pools: IntArray
    full: bool
    """Whether the stages that would gain were more than the size asked (so that a quick
    proof says the size may grow)."""
    movers: int
    """Stages whose option may change."""

    def apart(self, other: Hood) -> bool:
        """Whether the two sub-problems cannot interact, so that both answers hold
        together: neither may change a stage the other's sub-model holds (its
        precedence, egress and co-location neighbours and every stage on a resource it
        may use are there), and they may use no limited resource in common."""
        return not (self.free & set(other.stages.tolist())) \
            and not (other.free & set(self.stages.tolist())) \
            and np.intersect1d(self.resources, other.resources).size == 0


@dataclass(frozen=True)
class _Scores:
    """What a plan offers the neighbourhoods (computed once per plan): each stage's
    regret, the rows of a cheaper option (or of a late stage), each pool's weight, and
    which stages are placed."""

    gain: np.ndarray
    better: np.ndarray
    weight: np.ndarray
    placed: np.ndarray
    near: np.ndarray
    """The pool rows of the options placed now or cheaper than their stage's now (or of a
    late stage): whom a drawn pool relates to (:func:`_pools`)."""
    rows: IntArray
    """The usage rows of the options placed now (:meth:`Problem.placed_rows`)."""


def _scores(problem: Problem, timing: Timing, index: _Index, inc: Incumbent) -> _Scores:
    """What the plan offers: by the placement LP's prices when there are some (each
    stage's reduced-cost regret, each pool's weight with the priced capacity the plan
    leaves idle on it: :mod:`planner.solvers.schedule_prices`), by costs otherwise."""
    x = inc.x
    late_now = timing.late_costs(problem, x, inc.start)
    late = late_now > 0
    prices = index.prices
    on = np.flatnonzero(x)
    if prices is None:
        cur = np.bincount(index.st[on], weights=(problem.opt_obj[on] * x[on]).astype(
            np.float64), minlength=problem.n_stages)
        gain = regret(problem, index, cur, late_now)
        per_unit = cur / np.maximum(problem.units, 1)
    else:
        now, gain = prices.per_stage(problem, index.st, x)
        gain = gain + late_now
        per_unit = now / np.maximum(problem.units, 1)
    # Rows of limited options cheaper per unit than their stage's options now, or of a
    # late stage (it may run earlier elsewhere).
    rows_st = index.rows_st
    better = (index.rows_cost < per_unit[rows_st] - 1e-6) | late[rows_st]
    weight = np.bincount(index.rows_res[better], weights=gain[rows_st[better]],
                         minlength=index.n_pools).astype(np.float64)
    weight[-1] *= UNLIMITED_WEIGHT
    if prices is not None:
        weight[:-1] += np.where(index.is_pool, prices.idle(index.n_pools - 1, x), 0.0)
    placed = np.zeros(problem.n_stages, dtype=np.bool_)
    placed[index.st[on]] = True
    return _Scores(gain, better, weight, placed, better | (x[index.rows_opt] > 0),
                   problem.placed_rows(x))


def neighbourhood(problem: Problem, timing: Timing, index: _Index, inc: Incumbent,
                  size: int, pools: int, rng: np.random.Generator,
                  away: tuple[Hood, ...] = (), window: bool = False) -> Hood | None:
    """The neighbourhood the module docstring describes, or None when no stage can gain.
    With ``away``, one that cannot interact with those (:meth:`Hood.apart`): none of
    their pools or resources is drawn, no stage is freed that is in their sub-models,
    neighbours a stage they may change, or is on a resource they may use, nor one whose
    neighbour is such a stage, and no freed stage may move onto a resource they may use
    (one it uses per period only, not at once, is in no pool). With ``window``, only the
    stages of a time window may change (:func:`_windowed`)."""
    x = inc.x
    if inc.scores is None:
        inc.scores = _scores(problem, timing, index, inc)
    gain, rows_st, better = inc.scores.gain, index.rows_st, inc.scores.better
    weight = inc.scores.weight.copy()
    blocked = _blocked(problem, index, inc.scores.rows, away) if away else None
    allowed = np.ones(index.n_pools, dtype=np.bool_)
    for hood in away:
        allowed[hood.pools] = False
        allowed[hood.resources] = False
    weight[~allowed] = 0.0
    if weight.sum() <= 0:
        return None
    drawn = _pools(index, inc.scores, weight, allowed, pools, rng)
    rows = index.by_pool[_segments(index.pool_ptr, drawn)]
    # Options that use only the drawn pools: all their rows are there.
    opts, count = np.unique(index.rows_opt[rows], return_counts=True)
    on_pools = opts[count == index.opt_rows[opts]]
    # The stages that hold the drawn limited pools now (the unlimited ones make no room).
    holders = np.unique(index.st[on_pools[(x[on_pools] > 0) & index.limited_opt[on_pools]]])
    wants = np.unique(rows_st[rows[better[rows]]])
    wants = wants[np.argsort(-gain[wants] * rng.uniform(0.5, 1.5, wants.size),
                             kind="stable")]
    if window and wants.size:
        wants, holders = _windowed(problem, timing, inc, wants, holders, rng)
    full = wants.size > size
    wants = wants[:size]
    movers = np.union1d(holders, wants)
    near = index.pair_b[np.isin(index.pair_a, movers)]
    movers = np.union1d(movers, near[inc.scores.placed[near]])  # funding may leave some out
    if blocked is not None:
        movers = movers[~blocked[movers]]
        if movers.size == 0:
            return None
    keep = x > 0
    mover = np.zeros(problem.n_stages, dtype=np.bool_)
    mover[movers] = True
    keep[on_pools[mover[index.st[on_pools]]]] = True
    free_opt = index.cheapest_free[movers]
    keep[free_opt[free_opt >= 0]] = True
    if away:  # no move onto a resource theirs may use (per period too: not a pool then)
        taken = np.unique(np.concatenate([hood.resources for hood in away]))
        on_taken = problem.use_opt[index.by_res[_segments(index.res_ptr, taken)]]
        keep[on_taken] &= x[on_taken] > 0
    kept = np.flatnonzero(keep)
    ub = np.where(mover[index.st[kept]], problem.opt_ub[kept], x[kept])
    shifters = set(movers.tolist())
    for s in movers.tolist():
        shifters |= index.neighbours.get(s, set())
    stages, resources = _model_stages(problem, index, inc.scores.rows, kept, shifters)
    return Hood(kept, ub, shifters, stages, resources, drawn, full, int(movers.size))


def _pools(index: _Index, scores: _Scores, weight: np.ndarray,
           allowed: np.ndarray, pools: int, rng: np.random.Generator) -> IntArray:
    """The pools of a neighbourhood: the first drawn by ``weight``; each next one among the
    limited pools where the stages that hold or would gain on those drawn so far have
    options (so a holder can move there and leave its room to a stage that gains),
    drawn by how many such options it has. Measured against pools drawn each by
    ``weight`` alone, end to end, one run after the other: hard s (28 s) 1.45 %, 1.47 %
    and 1.17 % above the bound against 1.53 %, 2.39 % and 1.39 %; timed m (116 s) 6.61 %
    and 6.80 % against 7.32 % and 7.79 % (6.02 % earlier that hour); hard m 0.70–0.87 %
    against 0.79 % and 0.88 %; hard l 1.45 % against 1.37 %."""
    drawn = [int(rng.choice(index.n_pools, p=weight / weight.sum()))]
    while len(drawn) < pools:
        rows = index.by_pool[_segments(index.pool_ptr, np.array(drawn, dtype=np.int64))]
        near = np.unique(index.rows_st[rows[scores.near[rows]]])
        rel = np.bincount(index.rows_res[_segments(index.stage_ptr, near)],
                          minlength=index.n_pools).astype(np.float64)
        rel[~allowed] = 0.0
        rel[drawn] = 0.0
        if rel.sum() <= 0:
            rest = weight.copy()
            rest[drawn] = 0.0
            if rest.sum() <= 0:
                break
            rel = rest
        drawn.append(int(rng.choice(index.n_pools, p=rel / rel.sum())))
    return np.array(drawn, dtype=np.int64)


WINDOW_FRACTION = 8
"""A time window is the horizon over this (timed: 273 h of a 2,184 h quarter)."""


def _windowed(problem: Problem, timing: Timing, inc: Incumbent, wants: IntArray,
              holders: IntArray, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """The stages that would gain and the holders, narrowed to a time window ``[a, b)``:
    around a random hour where the first stage that would gain may run, the horizon over
    :data:`WINDOW_FRACTION` wide; the holders that run in it now and the stages that may
    run in it. Every stage of the pools stays
    in the sub-model (fixed when outside), so fewer stages are free and CP-SAT proves
    more sub-problems in their time: a whole pool over a quarter holds a hundred
    stages."""
    h = timing.horizon
    due = np.where(timing.late_cost > 0, h, timing.due)
    top = int(wants[0])
    lo, hi = int(timing.release[top]), int(due[top])
    centre = int(rng.integers(lo, max(lo + 1, hi)))
    width = h // WINDOW_FRACTION
    a, b = centre - width // 2, centre + width // 2
    ends = np.where(timing.to_end, h, inc.start + timing.run_hours(problem, inc.x))
    holders = holders[(inc.start[holders] < b) & (ends[holders] > a)]
    wants = wants[(timing.release[wants] < b) & (due[wants] > a)]
    return wants, holders


def _blocked(problem: Problem, index: _Index, rows: IntArray, away: tuple[Hood, ...]
             ) -> np.ndarray:
    """Per stage, whether freeing it could make a neighbourhood interact with ``away``:
    it is in their sub-models, neighbours a stage they may change or runs on a resource
    they may use, or one of its neighbours is such a stage (it would be freed too).
    ``rows``: the usage rows the plan places (:attr:`_Scores.rows`)."""
    near = np.zeros(problem.n_stages, dtype=np.bool_)
    free = np.zeros(problem.n_stages, dtype=np.bool_)
    taken = np.zeros(len(problem.res_cap), dtype=np.bool_)
    for hood in away:
        near[hood.stages] = True
        free[list(hood.free)] = True
        taken[hood.resources] = True
    a, b = index.pair_a, index.pair_b
    near[b[free[a]]] = True
    near[index.st[problem.use_opt[rows[taken[problem.use_res[rows]]]]]] = True
    blocked = near.copy()
    blocked[a[near[b]]] = True
    return blocked


def _model_stages(problem: Problem, index: _Index, rows: IntArray, kept: IntArray,
                  shifters: set[int]) -> tuple[IntArray, IntArray]:
    """The stages the sub-model needs: those that may change, their neighbours (precedence,
    egress, co-location), and every placed stage on a resource an option of theirs may
    use (capacity counts them); all stages when a rule spans many. Also the limited
    resources the options of the stages that may change use. ``rows``: the usage rows
    the plan places (:attr:`_Scores.rows`)."""
    free = np.zeros(problem.n_stages, dtype=np.bool_)
    free[list(shifters)] = True
    mine = kept[free[index.st[kept]]]
    res = np.unique(problem.use_res[problem.rows_of(mine)])
    if index.whole:
        return np.arange(problem.n_stages), res
    need = free.copy()
    need[index.pair_b[free[index.pair_a]]] = True
    on_res = np.zeros(len(problem.res_cap), dtype=np.bool_)
    on_res[res] = True
    need[index.st[problem.use_opt[rows[on_res[problem.use_res[rows]]]]]] = True
    return np.flatnonzero(need), res


def _solve(problem: Problem, timing: Timing, index: _Index, inc: Incumbent, hood: Hood,
           options: SolveOptions) -> tuple[Incumbent | None, bool, float]:
    """(the cheaper plan or None, whether CP-SAT proved the neighbourhood optimal, the
    seconds it took: deterministic seconds in deterministic mode)."""
    kept, shifters = hood.kept, hood.free
    stages, held = _split(problem, index, hood)
    restricted = restrict(problem, kept, hood.ub)
    sub, picked = subset_stages(restricted, stages)
    opts = kept[picked]
    load, per_period = _load(problem, timing, index.st, inc, held)
    sub = dataclasses.replace(sub, res_cap=sub.res_cap - per_period)
    builder = ScheduleBuilder(sub, subset_timing(timing, stages, opts, problem))
    builder.background = load
    model = builder.build()
    for i, s in enumerate(stages.tolist()):
        if s not in shifters and placed(problem, inc.x, s):
            model.add(builder.start[i] == int(inc.start[s]))
            model.add(builder.end[i] == timing.stage_end(problem, inc.x, inc.start, s))
    builder.add_hint(inc.x[opts], inc.start[stages])
    solver = cp_model.CpSolver()
    configure(solver, options)
    code = solver.solve(model)
    spent = solver.response_proto.deterministic_time if options.deterministic \
        else solver.wall_time
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, False, spent
    sx, sub_start = builder.read(solver)
    x = inc.x.copy()
    x[_of_stages(problem, stages)[index.st]] = 0
    x[opts] = sx
    start = inc.start.copy()
    start[stages] = sub_start
    value = timing.cost(problem, x, start)
    better = Incumbent(x, start, value) if value < inc.value else None
    return better, code == cp_model.OPTIMAL, spent


def _of_stages(problem: Problem, stages: IntArray) -> np.ndarray:
    """Per stage, whether it is one of ``stages`` (a mask: ``np.isin`` over every option
    took 2.7 s of a 41 s search at hard l)."""
    mask = np.zeros(problem.n_stages, dtype=np.bool_)
    mask[stages] = True
    return mask


def _split(problem: Problem, index: _Index, hood: Hood) -> tuple[IntArray, IntArray]:
    """The sub-model's stages as (modelled, held): the stages that may change and their
    neighbours are modelled (the neighbours fixed); the others only hold capacity where
    they run now, so they enter as fixed load (:func:`_load`) instead of variables (at
    timed l, ~7,000 stages per sub-model of which a few hundred may change: building
    them took a third of the search's time). With a rule over many stages, all are
    modelled."""
    stages = hood.stages
    if index.whole:
        return stages, stages[:0]
    near = np.zeros(problem.n_stages, dtype=np.bool_)
    near[list(hood.free)] = True
    near[index.pair_b[near[index.pair_a]]] = True
    return stages[near[stages]], stages[~near[stages]]


def _load(problem: Problem, timing: Timing, st: IntArray, inc: Incumbent, held: IntArray
          ) -> tuple[dict[int, list[tuple[int, int, int]]], IntArray]:
    """What the stages ``held`` take where they run now: per resource, their runs
    ``(start, end, amount)`` at every instant, and the per-period amount (the placement
    model's capacity, which the sub-model's rows then lack)."""
    per_period = np.zeros(len(problem.res_cap), dtype=np.int64)
    if held.size == 0:
        return {}, per_period
    mine = np.zeros(problem.n_stages, dtype=np.bool_)
    mine[held] = True
    rows = problem.placed_rows(inc.x) if inc.scores is None else inc.scores.rows
    rows = rows[mine[st[problem.use_opt[rows]]]]
    opt = problem.use_opt[rows]
    units = inc.x[opt]
    np.add.at(per_period, problem.use_res[rows], problem.use_amt[rows] * units)
    now = timing.use_now[rows] * units
    on = now > 0
    opt, res, now = opt[on], problem.use_res[rows][on], now[on]
    s = st[opt]
    a = inc.start[s]
    b = np.where(timing.to_end[s], timing.horizon, a + timing.opt_hours[opt])
    load: dict[int, list[tuple[int, int, int]]] = {}
    order = np.argsort(res, kind="stable")
    cuts = np.flatnonzero(np.diff(res[order])) + 1
    for group in np.split(order, cuts):
        if group.size:
            load[int(res[group[0]])] = list(zip(a[group].tolist(), b[group].tolist(),
                                                now[group].tolist(), strict=True))
    return load, per_period


def subset_timing(timing: Timing, stages: IntArray, opts: IntArray,
                  problem: Problem) -> Timing:
    """``timing`` for the stages ``stages`` and options ``opts`` of ``problem`` (as
    :func:`~planner.solvers.decompose.subset_stages` of a restriction renumbers them):
    precedence between two of the stages, every outage."""
    new = np.full(problem.n_stages, -1, dtype=np.int64)
    new[stages] = np.arange(stages.size)
    mask = np.zeros(problem.n_options, dtype=np.bool_)
    mask[opts] = True
    prec = tuple(dataclasses.replace(p, before=int(new[p.before]), after=int(new[p.after]))
                 for p in timing.precedence if new[p.before] >= 0 and new[p.after] >= 0)
    return dataclasses.replace(
        timing, opt_hours=timing.opt_hours[opts], release=timing.release[stages],
        due=timing.due[stages], late_cost=timing.late_cost[stages],
        to_end=timing.to_end[stages], use_now=timing.use_now[mask[problem.use_opt]],
        precedence=prec)


PRICES_WITH_PRECEDENCE = False
"""Whether the LP's prices guide the search where precedence links stages. They do not:
there the stages with most regret at the prices are gangs that fill a pool for days, whose
pool's holders are linked to stages on other pools, so neighbourhoods drawn to them rarely
gain, while the costs spread the search over the many small gains the timed family has
(timed l, 600 s, one run each the same hour: 19.99 % above the bound with prices, 18.71 %
with half the neighbourhoods drawn by them, 17.46 % with costs). Without precedence (the
hard family) the prices find the stages that hold the gap: hard s 1.56–1.76 % against
1.96–2.46 % (three runs each), and with half the neighbourhoods 1.96–3.31 %."""



def guided_by_prices(timing: Timing) -> bool:
    """Whether the search takes the LP's prices for ``timing``
    (:data:`PRICES_WITH_PRECEDENCE`)."""
    return PRICES_WITH_PRECEDENCE or not timing.precedence


LANES = 2
"""Neighbourhoods solved at once when there are that many workers, each CP-SAT with all
the workers (one worker each did worse: its sub-problems time out more often). 60 s on 2
cores from the same repaired plans, above the bound: timed m 11.9 %, 12.1 % and 15.5 %
with two lanes, 10.6–18.2 % (four runs) with one; hard s 1.31 % and 1.81 % against
1.68 % and 1.94 %; hard m 1.22 % and 1.33 % against 1.32 % and 1.46 %."""
DRAWS = 3
"""Draws for a neighbourhood apart from those running before the lane waits."""

REPORT_EVERY_S = 15.0
"""Seconds between progress reports of a long search."""

Report = Callable[[int, int, int], None]
"""Progress: (value of the plan, neighbourhoods solved, neighbourhoods that gained)."""


def improve(problem: Problem, timing: Timing, x: IntArray, start: IntArray,
            options: SolveOptions, settings: LnsSettings | None = None,
            report: Report | None = None, prices: Prices | None = None) -> Incumbent:
    """The module docstring's search from the valid schedule ``(x, start)`` until the
    deadline (or a stall); the answer is never worse than the start.

    With two workers or more (and no rule over many stages), :data:`LANES`
    neighbourhoods are solved at once: each new one is drawn so
    that it cannot interact with those still running (:meth:`Hood.apart`), so every
    answer still holds on the plan the others changed meanwhile and is applied to it.
    In deterministic mode one neighbourhood at a time gets deterministic time and the
    search stops when their sum reaches the time that was left, so the same input gives
    the same plan."""
    settings = settings or LnsSettings()
    options = options.started()
    assert options.deadline is not None
    index = _Index(problem, timing, prices if guided_by_prices(timing) else None)
    rng = np.random.default_rng(options.seed)
    inc = Incumbent(x.copy(), start.copy(),
                    timing.cost(problem, x, start))
    lanes = 1 if index.whole or options.deterministic else min(LANES, options.workers)
    window_share = settings.window_share * _dated_share(timing)
    size, pools, idle, tried, gains = settings.max_free, settings.pools, 0, 0, 0
    budget = options.remaining_s() - 1.0  # deterministic seconds in deterministic mode
    reported = time.monotonic()
    running: dict[Future[tuple[Incumbent | None, bool, float]], tuple[Hood, Incumbent]] = {}
    with ThreadPoolExecutor(lanes) as pool:
        while True:
            stalled = settings.stall is not None and idle >= settings.stall
            while len(running) < lanes and budget > 0 and not stalled:
                hood = _draw(problem, timing, index, inc, size, pools, rng,
                             tuple(h for h, _ in running.values()),
                             bool(rng.random() < window_share))
                if hood is None:
                    break
                limit = min(settings.sub_time_s, budget + 0.5)
                sub = dataclasses.replace(options, time_limit_s=limit, deadline=None) \
                    if options.deterministic else options.until(options.deadline.within(limit))
                future = pool.submit(_solve, problem, timing, index, inc, hood, sub)
                running[future] = (hood, inc)
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                hood, base = running.pop(future)
                found, proved, spent = future.result()
                budget = budget - spent if options.deterministic \
                    else options.remaining_s() - 1.0
                tried += 1
                better = None if found is None \
                    else _applied(problem, timing, index, inc, base, hood, found)
                idle = 0 if better is not None else idle + 1
                if better is not None:
                    inc, gains = better, gains + 1
                if proved and spent < settings.sub_time_s / 2 and hood.full:
                    size, pools = min(2000, int(size * 1.3) + 1), min(index.n_pools, pools + 1)
                elif not proved:
                    size, pools = max(20, int(size / 1.3)), max(1, pools - 1)
            if report is not None and time.monotonic() - reported >= REPORT_EVERY_S:
                report(inc.value, tried, gains)
                reported = time.monotonic()
    inc.tried, inc.gains = tried, gains
    return inc


def _dated_share(timing: Timing) -> float:
    """The share of batch stages with an earliest start or a deadline of their own."""
    batch = ~timing.to_end
    dated = batch & ((timing.release > 0) | (timing.due < timing.horizon))
    return float(dated.sum() / batch.sum()) if batch.any() else 0.0


def _draw(problem: Problem, timing: Timing, index: _Index, inc: Incumbent, size: int,
          pools: int, rng: np.random.Generator, running: tuple[Hood, ...],
          window: bool = False) -> Hood | None:
    """A neighbourhood that cannot interact with those ``running`` and frees at least half
    as many stages as the size asked or the smallest running one (a few draws; a tiny one
    next to a large one is not worth a lane: at timed m they took the run from 12 % to
    24–29 % above the bound)."""
    least = min([size, *(other.movers for other in running)]) // 2
    for _ in range(DRAWS if running else 1):
        hood = neighbourhood(problem, timing, index, inc, size, pools, rng, running, window)
        if hood is None or not all(hood.apart(other) for other in running):
            continue
        if not running or hood.movers >= least:
            return hood
    return None


def _applied(problem: Problem, timing: Timing, index: _Index, inc: Incumbent, base: Incumbent,
             hood: Hood, found: Incumbent) -> Incumbent | None:
    """``inc`` with the stages of ``hood``'s sub-model as ``found`` has them, if cheaper.
    ``found`` answers the plan ``base`` the neighbourhood was drawn from; the neighbourhoods
    solved since then changed none of those stages nor any resource they use, so the
    answer holds on ``inc`` and gains the same there (costs and late penalties are per
    stage; an egress edge joins neighbours, which are in the sub-model)."""
    if base is inc:
        return found
    mine = _of_stages(problem, hood.stages)[index.st]
    x, start = inc.x.copy(), inc.start.copy()
    x[mine] = found.x[mine]
    start[hood.stages] = found.start[hood.stages]
    value = timing.cost(problem, x, start)
    return Incumbent(x, start, value) if value < inc.value else None
