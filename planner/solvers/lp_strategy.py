r"""The LP-guided strategy (backend ``lp``): bound by the LP, round it, improve.

1. **Exact reduction** — drop dominated options
   (:func:`~planner.solvers.decompose.reduce_dominated`; the optimum is unchanged).
2. **Greedy** on the whole problem (:func:`~planner.solvers.greedy.greedy_assign`): a
   plan to fall back on, so the strategy never ends worse than greedy (not when placing
   again from :attr:`LpBackend.warm` multipliers: the caller has its first plan). Where
   the bound comes from dual ascent, greedy runs after it, on the reduced problem: the
   ascent's bound depends on the seconds it gets.
3. **Bound** — the LP relaxation with every linear side constraint, by GLOP
   (:mod:`planner.solvers.lp_model`) up to ``lp_max_options`` options after the
   reduction. Above, the same bound through its dual by smoothed ascent
   (:mod:`planner.solvers.lp_dual`; the simplex is too slow there: 202 s for the 1.7 M
   options of hard l), then the exact LP on the options its reduced costs leave near
   their stage's best
   (:func:`polish`, a reduction by reduced cost: the LP's optimal support lies there when
   the multipliers are near optimal). Above ``polish_max_options`` (hard xl) that LP does
   not fit the simplex, and the ascent runs on a sample of the stages with the same share
   of every capacity (:func:`~planner.solvers.lp_dual.sampled_ascent`), whose prices are
   the whole problem's. Either way the bound is a Lagrangian value
   evaluated exactly over every option, so it is valid whatever the LP solver's
   tolerances, time limit or restriction.
4. **Round** (:mod:`planner.solvers.lp_round`) — stages in decreasing order of their LP
   cost (once with the fractional ones first, once without), each on the option of least
   reduced cost that still fits (the LP's own options first among ties); with side
   constraints the LP does not model, CP-SAT repairs the rounding on the LP's options.
   The start is the cheapest that meets every rule of: the roundings, the repair,
   greedy, and the ``lns`` strategy's capacity-aware fills at the LP's reduced costs
   (:func:`repair_starts`; at realistic m they took the plan from 0.12 % to 0.087 %).
   Where there are multipliers but no LP solution (above ``polish_max_options``), the
   fills in order of what each stage loses without its best option come first
   (:func:`~planner.solvers.lp_round.regret_fill`).
5. **Improve** — up to ``exact_options`` options, CP-SAT on the whole (reduced) problem
   with the start as hint (its proven bound may beat the LP's); above, LP-guided
   large-neighbourhood search (:mod:`planner.solvers.lp_lns`); up to ``polish_options``,
   once the search stalls or has had ``lns_share`` of the time, CP-SAT on the whole
   reduced problem from its plan for the time left (it closes what the neighbourhoods
   cannot reach on small problems).

Every phase reads the one wall-clock deadline; the answer goes through
:func:`~planner.solvers.feasibility.finish` (every rule, objective, bound ≤ objective).
The bound reported is the best of the LP bound, CP-SAT's proven bound and the trivial
bound. Partial plans (funding) are not supported: use ``cpsat`` or ``greedy``.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.solvers.base import Deadline, Solution, SolveOptions, SolveStatus, decline
from planner.solvers.bound import lagrangian_bound
from planner.solvers.capabilities import SIDE_CONSTRAINTS, Capabilities
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.decompose import constrained_stages, opt_stage, reduce_dominated, restrict
from planner.solvers.feasibility import finish, violations
from planner.solvers.greedy import greedy_assign, greedy_start
from planner.solvers.lns import reduced_cost_fill
from planner.solvers.lp_dual import DualResult, applies, dual_ascent, sampled_ascent
from planner.solvers.lp_lns import LnsSettings, improve
from planner.solvers.lp_model import (
    FloatArray,
    LpResult,
    dual_bound,
    lp_rows,
    solve_lp,
    unsolved,
)
from planner.solvers.lp_round import lp_fill, regret_fill, repair


@dataclass(frozen=True)
class LpConfig:
    """Knobs of the strategy (tuned on the hard family, 2 cores)."""

    lp_max_options: int = 400_000
    """The simplex (GLOP) up to this many options after reduction; above, dual ascent
    (:func:`_large_lp`). Some large LPs the simplex solves in seconds (the timed family at
    l: 4.4 s alone), others not (the hard family at l: 202 s); dual ascent ends within
    0.01–0.2 % of either in 5–20 s, and its rounding is as good (timed l: 0.45 % above
    the LP's bound against 0.51 % from the simplex's, 40 s for the placement)."""
    lp_share: float = 0.5
    """At most this share of the time left goes to the bound."""
    ascent_share: float = 0.6
    """Of the bound's time, at most this share for dual ascent (the rest: the polish)."""
    polish_max_options: int = 4_000_000
    """Above this many options (after reduction) no polish is tried and dual ascent (on a
    sample, ``sample_options``) gets the bound's whole time, and the plan is rounded from
    its multipliers alone (:func:`~planner.solvers.lp_round.regret_fill` first): at hard xl
    (22 M options) the restriction never fits the simplex (the polish gave up in 0.5 s;
    with a window of 0.2 % of the median cost it still keeps 7.2 M options, and GLOP gave
    nothing in 30 s)."""
    sample_options: int = 2_000_000
    """Above ``polish_max_options``, the multipliers come from dual ascent on a sample of
    the stages with about this many options (:func:`~planner.solvers.lp_dual.sampled_ascent`;
    hard xl: $519.5 M from a 10 % sample in 15 s against $474.8 M from the whole problem
    in 40 s)."""
    polish_window: float = 0.05
    """Options kept for the polished LP: reduced cost within this × the median objective."""
    exact_options: int = 3_000
    """CP-SAT on the whole reduced problem up to this many options; LNS above."""
    polish_options: int = 40_000
    """Up to this many options (reduced), exact CP-SAT takes over from the LNS once it
    stalls (``stall`` neighbourhoods in a row without improvement)."""
    stall: int = 8
    repair_starts: bool = True
    """Also start from the ``lns`` strategy's fills (:func:`repair_starts`)."""
    lns_share: float = 1.0
    """Up to ``polish_options``: at most this share of the time left for the LNS (1.0: the
    LNS until it stalls; 0.5 measured worse at hard s: 0.12 % vs 0.08 % in 28 s, better at
    realistic s: 341,220 vs 341,315 USD, on the loaded 2-core machine)."""
    greedy_full_options: int = 1_000_000
    """Greedy on the unreduced problem up to this many options (on the reduced above). It
    runs before the LP, in the placement's time: with the energy cuts, greedy and its check
    take 8.5 s on the whole of realistic l (2.36 M options) against 1.8 s on the reduced
    problem (0.67 M; a plan 0.3 % dearer), and hard l 10.2 s against 4.6 s. With 5 M,
    realistic l's 60 s left the LP 2–6 s and a bound 7 % below the LP's ($5.81 M): the
    plan 8.8 % above it against 0.75 % with 1 M, whose placement is also cheaper."""
    lns: LnsSettings = field(default_factory=LnsSettings)


def lp_bound_of(problem: Problem, deadline: Deadline, config: LpConfig,
                warm: FloatArray | None = None) -> LpResult:
    """The LP result (module docstring, step 3) within ``deadline``. ``warm``: capacity
    multipliers of a problem with the same rows (the same placement with less room), from
    which dual ascent starts at once where the simplex would be too slow."""
    t0 = time.perf_counter()
    if problem.n_options > config.lp_max_options and applies(problem):
        usable = warm is not None and warm.size == problem.res_cap.size
        lp = _large_lp(problem, deadline, config, warm if usable else None, t0)
    else:
        lp = solve_lp(problem, deadline.remaining())
        if lp.status != "optimal" and applies(problem) and deadline.remaining() > 0.5:
            dual = dual_ascent(problem, deadline.within(
                config.ascent_share * deadline.remaining()), lp.lam)
            lp = _polished_or(problem, _better(lp, dual, t0), deadline, config)
    if lp.bound is not None:
        return lp
    lag = lagrangian_bound(problem, iterations=200, time_limit_s=deadline.remaining())
    return LpResult(np.zeros(problem.n_options), lag.lam, lag.reduced, lag.bound,
                    float(lag.bound or 0), time.perf_counter() - t0, "lagrangian")


def _large_lp(problem: Problem, deadline: Deadline, config: LpConfig,
              warm: FloatArray | None, t0: float) -> LpResult:
    """Above ``lp_max_options``: dual ascent (from ``warm`` multipliers when given), then
    the polish (up to ``polish_max_options``; above, the ascent has the time). GLOP in a
    thread beside the ascent was tried until the ascent was scaled by capacity: it slowed
    the ascent to 60 % of its evaluations and never finished at hard l (202 s); the ascent
    alone ends within 0.01–0.2 % of the LP in seconds there, at timed l and at realistic
    l, and its rounding is as good as the simplex's or better."""
    polishes = problem.n_options <= config.polish_max_options
    if polishes or warm is not None:
        dual = dual_ascent(problem, deadline.within(
            (config.ascent_share if polishes else 1.0) * deadline.remaining()), warm)
    else:
        dual = sampled_ascent(problem, deadline, config.sample_options)
    lp = _better(unsolved(problem, "skipped: warm start" if warm is not None
                          else "too large for the simplex"), dual, t0)
    return _polished_or(problem, lp, deadline, config) if polishes else lp


def _better(lp: LpResult, dual: DualResult, t0: float) -> LpResult:
    """Dual ascent's answer as an LP result when its bound beats ``lp``'s."""
    if (dual.bound or 0) <= (lp.bound or 0):
        return lp
    return LpResult(dual.x, dual.lam, dual.reduced, dual.bound, float(dual.bound or 0),
                    time.perf_counter() - t0, "dual ascent", dual.earlier)


def _polished_or(problem: Problem, lp: LpResult, deadline: Deadline, config: LpConfig
                 ) -> LpResult:
    """:func:`polish` of ``lp`` when it gives a bound at least as good, else ``lp``."""
    polished = polish(problem, lp, deadline, config.polish_window, config.lp_max_options)
    if polished is not None and (polished.bound or 0) >= (lp.bound or 0):
        return polished
    return lp


def polish(problem: Problem, approx: LpResult, deadline: Deadline, window: float,
           max_options: int) -> LpResult | None:
    """The exact LP on the options whose reduced cost at the approximate multipliers is
    within ``window`` × the median objective of their stage's best (plus each stage's
    cheapest option on no limited resource, so it stays feasible): near the optimal
    multipliers these hold the LP's optimal support. Its capacity duals give a bound over
    *every* option (:func:`~planner.solvers.lp_model.dual_bound`, valid for any
    multipliers), its solution guides the rounding. None when GLOP gives nothing or the
    restriction keeps more than ``max_options`` options (too slow for the simplex)."""
    p = problem
    st = opt_stage(p)
    rc = approx.reduced
    best = np.full(p.n_stages, np.inf)
    np.minimum.at(best, st, rc)
    scale = float(np.median(np.abs(p.opt_obj))) or 1.0
    mask = rc <= best[st] + window * scale
    loose = np.ones(p.n_options, dtype=np.bool_)
    loose[p.use_opt] = False
    lo = np.flatnonzero(loose)
    if lo.size:  # each stage's cheapest option on no limited resource
        lo = lo[np.lexsort((p.opt_obj[lo], st[lo]))]
        mask[lo[np.r_[True, st[lo][1:] != st[lo][:-1]]]] = True
    idx = np.flatnonzero(mask).astype(np.int64)
    if idx.size > max_options:
        return None
    sub = solve_lp(restrict(p, idx), deadline.remaining())
    if sub.bound is None:
        return None
    rows = lp_rows(p)
    lam = np.zeros(rows.b.size)
    lam[: sub.lam.size] = sub.lam
    bound, reduced = dual_bound(p, rows, lam)
    x = np.zeros(p.n_options)
    x[idx] = sub.x
    return LpResult(x, sub.lam, reduced, bound, sub.value, sub.seconds,
                    "polished " + sub.status)


Start = tuple[Callable[[], "IntArray | None"], float]
"""A start plan to be made when asked, and the seconds it is expected to take."""
FILL_S_PER_OPTION = 7e-7
"""Seconds per option (of the reduced problem) of an LP rounding
(:func:`~planner.solvers.lp_round.lp_fill`): 12–16 s at hard xl's 22.2 M options."""
GREEDY_S_PER_OPTION = 3e-6
"""Seconds per option of a greedy pass or a capacity-aware fill: greedy 57 s, the fills
by regret 40–66 s at hard xl; greedy 4.6 s at hard l's 1.58 M."""


def repair_starts(problem: Problem, rc: np.ndarray, scarcity: IntArray,
                  by_cost: Callable[[], bool] = lambda: True) -> list[Start]:
    """The ``lns`` strategy's capacity-aware fills at the LP's reduced costs, each to be
    made when asked: by regret, and with the scarcest stages (fewest options before the
    reduction) first, by reduced cost and (when ``by_cost()`` says so; a greedy pass of its
    own when greedy's plan is not at hand) by plain cost
    (:func:`~planner.solvers.lns.reduced_cost_fill`)."""
    def scarce() -> list[int]:
        return np.lexsort((np.arange(problem.n_stages), scarcity)).tolist()

    took = GREEDY_S_PER_OPTION * problem.n_options
    return [(lambda: reduced_cost_fill(problem, rc), took),
            (lambda: reduced_cost_fill(problem, rc, scarce()), took),
            (lambda: reduced_cost_fill(problem, problem.opt_obj.astype(np.float64), scarce())
             if by_cost() else None, took)]


def _close(objective: int, bound: int, target: float | None) -> bool:
    """Whether the plan is within the caller's target gap of the bound."""
    return target is not None and objective - bound <= target * abs(objective)


def _best(problem: Problem, plans: list[IntArray | None]) -> IntArray | None:
    """The cheapest plan that breaks no rule (checked cheapest first: a check takes 0.7 s
    at hard l)."""
    for x in sorted((x for x in plans if x is not None), key=problem.objective):
        if not violations(problem, x):
            return x
    return None


def _best_in_time(problem: Problem, starts: list[Start],
                  deadline: Deadline | None) -> IntArray | None:
    """The cheapest plan that breaks no rule among ``starts``, made in order; once one made
    so far fits and the next would end past ``deadline`` (None: every start is made), no
    further start that takes time is made, but one that takes none (greedy's plan, made
    before the LP) still is: with no time left, the LP's fill was returned and greedy's cheaper plan
    never looked at (hard, 1,000 stages, 5 s: 16 % above it). Each takes seconds to a
    minute at 22 M options (hard xl: the LP fills 12–16 s, greedy 57 s, the fills by
    regret 40–66 s, where the placement had 121 s in all and took 210 s when they were
    all made)."""
    plans: list[IntArray | None] = []
    done = False  # a plan that fits is in hand and time is up: only free starts from now
    for make, seconds in starts:
        if not done and deadline is not None and plans \
                and deadline.remaining() < max(seconds, 1e-3):
            done = _best(problem, plans) is not None
            if not done:
                plans.clear()  # every plan so far breaks a rule: not checked again
        if done and seconds > 0:
            continue  # a start made already (greedy's plan, seconds 0) is still taken
        plans.append(make())
    return _best(problem, plans)


class LpBackend:
    """Bound by the LP, round it, improve (see the module docstring)."""

    name = "lp"
    capabilities = Capabilities(honours=SIDE_CONSTRAINTS, proves_bound=True)

    def __init__(self, config: LpConfig | None = None) -> None:
        self.config = config or LpConfig()
        self.trace: list[tuple[float, int | None, int | None]] = []
        """(seconds, objective of the reduced problem's plan, bound) at each new plan."""
        self.greedy: IntArray | None = None
        """Greedy's plan of the last solve, when it made one (the decomposed time-aware
        path schedules it too when the backend's own schedule costs more than it)."""
        self.duals: FloatArray | None = None
        """The capacity multipliers of the last solve's LP where its simplex did not finish
        (one per resource: a warm start)."""
        self.prices: FloatArray | None = None
        """The capacity multipliers of the last solve's LP or dual ascent, whatever its
        status (one per resource; the time-aware search's guide:
        :mod:`planner.solvers.schedule_prices`)."""
        self.warm: FloatArray | None = None
        """Multipliers the next solve's LP starts from, above ``lp_max_options`` (the
        decomposed schedule path sets them to place the same problem again with less
        room, :data:`planner.solvers.schedule_plan.HEADROOM`)."""

    def solve(self, problem: Problem, options: SolveOptions) -> Solution:
        options = options.started()
        assert options.deadline is not None
        deadline = options.deadline
        start = time.perf_counter()
        declined = decline(self.name, self.capabilities, problem)
        if declined is not None:
            return declined
        zeros = np.zeros(problem.n_options, dtype=np.int64)
        if (np.diff(problem.stage_ptr) == 0).any():
            return Solution(self.name, SolveStatus.INFEASIBLE, zeros, None, None,
                            time.perf_counter() - start, "a stage has no feasible option")
        x, bound, stats = self._solve(problem, options, deadline)
        elapsed = time.perf_counter() - start
        if x is None:
            return finish(problem, Solution(self.name, SolveStatus.UNKNOWN, zeros, None, bound,
                                            elapsed, "no complete plan found in time", stats))
        objective = problem.objective(x)
        sol = finish(problem, Solution(self.name, SolveStatus.FEASIBLE, x, objective, bound,
                                       elapsed, "", stats))
        assert sol.bound is not None
        gap = (objective - sol.bound) / objective if objective else 0.0
        sol.detail = f"lp: gap {gap:.4%}" + (
            "; start: greedy's pass repaired (no rounding fitted)"
            if stats.get("greedy_repaired") else "")
        return sol

    def _solve(self, problem: Problem, options: SolveOptions, deadline: Deadline
               ) -> tuple[IntArray | None, int | None, dict[str, float]]:
        cfg = self.config
        t0 = time.perf_counter()
        keep = reduce_dominated(problem)
        # Greedy before the LP, whose reduced problem then holds greedy's plan too; after
        # it where the bound comes from dual ascent, on the reduced problem: the ascent's
        # bound depends on its seconds (hard l: 1.3 % below the LP in 4 s, 0.28 % in 8 s,
        # 0.16 % in 12 s), and greedy took 7-10 s of the placement's ~40 s before it.
        ascent_first = self.warm is None and keep.size > cfg.lp_max_options \
            and applies(problem)
        x_g = None if self.warm is not None or ascent_first else self._greedy(problem, keep)
        self.greedy = x_g
        if x_g is not None:
            keep = np.union1d(keep, np.flatnonzero(x_g)).astype(np.int64)
        red = restrict(problem, keep)
        stats: dict[str, float] = {"reduced_options": float(red.n_options),
                                   "greedy_s": time.perf_counter() - t0}
        lp = lp_bound_of(red, deadline.within(cfg.lp_share * deadline.remaining()), cfg,
                         self.warm)
        # for a warm start only where the simplex did not finish (where it does, as at
        # timed l, its plan is better than dual ascent's: 0.3 % against 2.4 %)
        self.prices = lp.lam[:red.res_cap.size].copy() \
            if lp.lam.size >= red.res_cap.size else None
        self.duals = self.prices if lp.status != "optimal" else None
        stats.update(bound_s=time.perf_counter() - t0, bound_lp=float(lp.status == "optimal"))
        greedy_plan: list[IntArray | None] = [None if x_g is None else x_g[keep]]

        def greedy_after() -> IntArray | None:  # where the ascent went first
            g0 = time.perf_counter()
            x_red, complete = greedy_assign(red)
            stats["greedy_s"] = time.perf_counter() - g0
            greedy_plan[0] = x_red if complete and not violations(red, x_red) else None
            if greedy_plan[0] is not None:
                self.greedy = _lift(problem.n_options, keep, greedy_plan[0])
            return greedy_plan[0]

        fill = FILL_S_PER_OPTION * red.n_options
        starts: list[Start] = [
            (lambda: lp_fill(red, lp.x, lp.reduced), fill),
            (lambda: lp_fill(red, lp.x, lp.reduced, False), fill),
            (greedy_after, GREEDY_S_PER_OPTION * red.n_options) if ascent_first
            else (lambda: greedy_plan[0], 0.0)]
        starts += [(functools.partial(lp_fill, red, lp.x, rc, False), fill)
                   for rc in lp.guides]
        if red.n_options > cfg.polish_max_options:  # multipliers only: no LP solution
            starts = [(functools.partial(regret_fill, red, rc), fill)
                      for rc in (*lp.guides, lp.reduced)] + starts
        if cfg.repair_starts and not constrained_stages(red).any():
            starts += repair_starts(red, lp.reduced, np.diff(problem.stage_ptr),
                                    by_cost=lambda: greedy_plan[0] is None)
        if constrained_stages(red).any():
            starts.append((lambda: repair(red, lp.x, lp.reduced, options,
                                          deadline.within(0.3 * deadline.remaining())),
                           fill))  # a fill, then CP-SAT: not free (only greedy's plan is)
        x = _best_in_time(red, starts, None if options.deterministic else deadline)
        if x is None:  # neither greedy nor a rounding fits: repair greedy's pass
            repaired = greedy_start(red, options.until(deadline.within(
                0.5 * deadline.remaining())))
            stats["greedy_repaired"] = float(repaired.ok)
            x = repaired.x if repaired.ok else None
        stats["first_feasible_s"] = time.perf_counter() - t0
        bound = lp.bound

        def report(objective: int | None) -> None:
            self.trace.append((time.perf_counter() - t0, objective, bound))

        report(None if x is None else red.objective(x))
        if x is None or red.n_options <= cfg.exact_options:
            x, bound = self._exact(red, x, bound, options, deadline)
        elif bound is not None:
            polish_exact = red.n_options <= cfg.polish_options
            lns = dataclasses.replace(cfg.lns, stall=cfg.stall if polish_exact else None,
                                      target_gap=max(cfg.lns.target_gap,
                                                     options.target_gap or 0.0))
            until = deadline.within(cfg.lns_share * deadline.remaining()) if polish_exact \
                else deadline
            x, more = improve(red, x, bound, lp.reduced, lp.lam, lp.x, options, until,
                              lns, report)
            stats.update(more)
            if more.get("proven"):
                bound = red.objective(x)  # CP-SAT proved the whole problem optimal
            elif polish_exact and deadline.remaining() > 1.0 and not _close(
                    red.objective(x), bound, options.target_gap):
                x, bound = self._exact(red, x, bound, options, deadline)
                report(None if x is None else red.objective(x))
        return (None if x is None else _lift(problem.n_options, keep, x)), bound, stats

    def _greedy(self, problem: Problem, keep: IntArray) -> IntArray | None:
        """Greedy's plan (None when it gets stuck or breaks a rule), on the whole problem
        up to ``greedy_full_options`` options and on the reduced one (``keep``) above.
        Not when placing again from :attr:`warm` multipliers: the caller has a plan to
        fall back on (hard l: greedy took 11 of the second placement's 22 s)."""
        full = problem.n_options <= self.config.greedy_full_options
        x0, complete = greedy_assign(problem if full else restrict(problem, keep))
        if not full:
            x0 = _lift(problem.n_options, keep, x0)
        return x0 if complete and not violations(problem, x0) else None

    @staticmethod
    def _exact(red: Problem, x: IntArray | None, bound: int | None, options: SolveOptions,
               deadline: Deadline) -> tuple[IntArray | None, int]:
        """CP-SAT on the whole reduced problem from ``x`` until the deadline: the better
        plan and the better bound."""
        sol = CpSatBackend().solve(red, SolveOptions(
            time_limit_s=deadline.remaining(), workers=options.workers, seed=options.seed,
            deterministic=options.deterministic, hint=x, deadline=deadline))
        x = _best(red, [x, sol.x if sol.objective is not None else None])
        return x, max(b for b in (bound, sol.bound, red.trivial_bound()) if b is not None)


def _lift(n: int, keep: IntArray, x: IntArray) -> IntArray:
    out = np.zeros(n, dtype=np.int64)
    out[keep] = x
    return out
