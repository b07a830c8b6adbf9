"""Place and schedule: the time-aware solve every plan goes through.

* **Exact** (the ``cpsat`` backend: portfolios up to
  :data:`~planner.solvers.tuning.AUTO_EXACT_OPTIONS` options under ``auto``, partial plans
  among them): the CP-SAT
  model with optional intervals of :mod:`planner.solvers.schedule_cpsat`, warm-started
  from greedy's placement scheduled and searched (:func:`_exact`).
* **Decomposed** (every other backend): the backend places every stage with capacity
  counted per period and the energy cuts of :mod:`planner.solvers.time_cuts`, a
  relaxation of capacity at every instant, so its bound stays a valid lower bound (late
  penalties are never negative). List scheduling
  (:mod:`planner.solvers.schedule_shift`) fits the placement to the pools; when a stage
  cannot run as placed, :func:`planner.solvers.schedule_repair.repair` moves it (and, in
  later rounds, the stages holding its pools) to the cheapest option that runs in time.
  When the placement cannot run as placed and was quick, CP-SAT names the sets of runs
  that no schedule fits on one of its pools (:mod:`planner.solvers.pool_cores`, one round
  of logic-based Benders decomposition): they become cuts, and the LP with them the
  bound. When scheduling costs much, a second placement (with those cuts) that leaves
  room in the pools for packing (:mod:`planner.solvers.pool_room`: what each pool, packed
  alone, cannot fit of the first placement's runs; :data:`HEADROOM` where runs are
  linked by precedence) is scheduled too.
  With late penalties, CP-SAT per component (:mod:`planner.solvers.schedule_sub`, on the
  executor, from the list's starts) looks for a schedule that pays less in each small
  component with a late stage.

The time the decomposition leaves goes to large-neighbourhood search on the exact model
(:mod:`planner.solvers.schedule_lns`: a few hundred stages decided together, the rest
fixed); up to :data:`POLISH_MAX_OPTIONS` options, once that search stalls, to the exact
model itself, started from its plan. The placement gets :data:`PLACEMENT_SHARE` of the
time left; scheduling, repair and the search the rest. Every answer passes
:func:`~planner.solvers.feasibility.violations` and
:func:`~planner.solvers.schedule_check.schedule_violations` or raises.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing
from planner.parallel import Executor, SerialExecutor
from planner.solvers.base import Backend, Deadline, Solution, SolveOptions, SolverError, SolveStatus
from planner.solvers.decompose import reduce_dominated, restrict
from planner.solvers.feasibility import violations
from planner.solvers.greedy import GreedyBackend
from planner.solvers.lp_model import solve_lp
from planner.solvers.lp_strategy import LpBackend
from planner.solvers.pool_cores import pool_cores, with_cores
from planner.solvers.pool_room import headroom
from planner.solvers.schedule_benders import schedule_components
from planner.solvers.schedule_check import schedule_violations
from planner.solvers.schedule_cpsat import Scheduled, solve_schedule
from planner.solvers.schedule_lns import LnsSettings, guided_by_prices, improve
from planner.solvers.schedule_prices import Prices
from planner.solvers.schedule_repair import one_pass, repair
from planner.solvers.schedule_shift import left_shift, list_schedule
from planner.solvers.schedule_sub import SubResult, components
from planner.solvers.time_cuts import POINTS_PER_POOL, with_headroom, with_time_cuts

Say = Callable[[str], None]
"""A progress line for the user (``planner plan`` prints it on stderr)."""

FINISH_S_PER_STAGE = 2e-4
"""Seconds per stage kept after the solve (timed l, 20,000 stages: the solve ended 1.1 s
past a 600 s deadline without it; left shift and checks take 0.2 s at 5,000 stages; at
hard l on a machine 35 % slower, 1e-4 kept 2 s and the solve ended 1.4 s past its
deadline)."""
PLACEMENT_SHARE = 0.35
"""Share of the time left that the placement backend gets in the decomposed path (at
most: it stops at :data:`PLACEMENT_GAP`). At hard l (120 s) the first placement is as good
after 40 s as after 70 s ($52.79 M against $52.77 M), and the time is worth more to the
placement with headroom and the search (4.6 % above the bound in the end against 5.7 %);
with 0.25, dual ascent has too little (bound $49.7 M against $50.5 M: 6.1 %). The same
hour with 0.35 against 0.6: hard s 1.48 % against 1.85 %, hard m 0.86 % against 1.10 %,
realistic l 0.71 % against 1.10 %, timed m 9.03 % (9.08 % in the last table)."""
PLACEMENT_GAP = 0.006
"""The placement stops improving within this gap of its bound: scheduling moves stages
anyway, and the search on the exact model does more with the time (hard m, 60 s: the
placement at 0.1 % and 2.96 % above the bound in the end; at 0.25 % with half the time
and 2.1–2.4 %. Later, with 0.3 %: 0.79–0.93 % in the end, the LP's rounding and 4–7 s of
the placement's own search for each of the two placements; with 0.6 %, where rounding the
LP ends it, 0.58 % and 0.65 %, and 0.66–0.67 % with 1 %)."""
RESCHEDULE_MAX_STAGES = 1_000
"""CP-SAT per component cuts late penalties only in components up to this many stages (at
timed m, all 51 late stages are in one component of 4,170 stages: a single worker found
nothing better in 12 s; the search on the exact model that follows does better)."""
RESCHEDULE_SHARE = 0.1
"""Share of the time left for CP-SAT per component to cut late penalties of the scheduled
placement (timed m: given all of it, it left no time for the search on the exact model,
which cuts late penalties too)."""
HEADROOM = 0.94
"""When scheduling the placement costs more than :data:`HEADROOM_TRIGGER`, a second
placement counts only this share of every pool that holds capacity at once and holds
runs linked by precedence, and of each other pool what packing it alone fits of the
first placement's runs (:func:`~planner.solvers.pool_room.headroom`,
:func:`~planner.solvers.time_cuts.with_headroom`; the LP backend starts from the first
one's multipliers where its simplex did not finish), and the first placement's bound
stays (the second's is no bound). One pass of the repair tells what the first costs to
schedule. When the first placement came within its share of the time and that pass costs
at most :data:`HEADROOM_ALONE` more, both are scheduled (and repaired) and the cheaper
kept; otherwise only the second is scheduled (the first if the second finds no
schedule). The first placement fills the cheap pools to the last node-hour, more than any
schedule packs, and the repair then pushes out whichever stages the list reaches last to
their next option; the second chooses by cost which stages leave. Scheduled and
repaired, before the search: hard m (20 s per placement) 3.4 % above the bound against
0.8 %; hard s (10 s) 4.4 % against 3.0 %; timed m 26.2 % against 25.4 %; hard l (40 s
each, cold) 10.3 % against 4.9 % (0.97: 2.6 % at hard m; 0.90: like 0.94). At every
size: up to 50,000 options there was no second placement (hard s with the uniform share:
2.67 % and 2.73 % above the bound in the end, 1.75–2.22 % without), but with the headroom
measured pool by pool, hard s (25,326 options, 30 s) ends 0.52–1.48 % above the bound in
nine runs (median 0.89 %) against 1.47–2.72 % in four runs alternating with them (1.24–
2.19 %, median 1.65 %, in eight before); timed s (23,775) still proves its optimum or
ends within 0.11 %, its bound lifted by the Benders cuts that come with this path."""
HEADROOM_SHARE = 0.3
"""Share of the time left for the placement with :data:`HEADROOM`. With dual ascent scaled
by capacity (warm from the first placement's multipliers, it converges in seconds) 0.3
leaves the search on the exact model ~30 s instead of ~20 s at hard l: 2.18 % and 2.30 %
above the bound against 2.40 % and 2.46 % with 0.5 (0.2: 2.24 %); hard m 0.81 % both
times against 0.79 % and 0.80 %; timed m 8.06 % against 8.53 %. (With the ascent
unscaled, hard l needed the time: 6.4–6.7 % with 24–35 s for it, 10.1 % with 18 s.)"""
HEADROOM_TIME = 2.0
"""The placement with :data:`HEADROOM` gets at most this many times the seconds the first
placement took (timed l: given half the time left, it took the search's time, and the plan
ended at 20.0 % above the bound against 17.9 %)."""
HEADROOM_TRIGGER = 0.01
"""The placement with :data:`HEADROOM` is tried when scheduling the first placement (its
repair; when there is no time for two repairs, one pass of it) costs more than this share
of the schedule (at realistic l the repair moves a few hundred stages for 0.4 %)."""
HEADROOM_ALONE = 0.05
"""When one pass of the repair costs more than this share over the first placement, only the
placement with :data:`HEADROOM` is scheduled (the first's repair is kept for when it
finds no schedule): repaired in full, the first never won where this happens (timed m
$5.44 M against $5.37 M, timed l $24.51 M against $23.86 M, hard m $13.16 M against
$12.98 M; its one pass +28 %, +45 % and no schedule), and its repair took 4 s of hard
m's 60 and 18 s of timed l's 600 before the search. Realistic l's one pass costs 0.9 %
more than its placement: both are repaired there, as before."""
START_SHARE = 0.2
"""Share of the time left for the greedy start of the exact path."""
START_GRACE_S = 0.5
"""Seconds the exact path's start may take to repair the greedy placement into a schedule
even when the time limit is spent (a limit shorter than the command's start-up): a plan
a moment late is worth more than none (quarter-deadlines with ``--time-limit 1`` ended
with no plan, exit 7; its repair takes milliseconds)."""
CORES_SHARE = 0.05
"""Logic-based Benders cuts (:func:`_with_cores`) when the placement took at most this
share of the time left, in at most this share (timed m: the placement 1.3 s of 114; one
round 2 s of cores and 1 s of LP lifts the bound by 0.56 %; hard s's placement takes
8 s of 28, and there the cores lift no bound: its LP moves the runs to equivalent
options; at timed l, 137 cores in 6 s lift none either)."""
CORES_MAX_OPTIONS = 500_000
"""No Benders cuts above this many options: at timed l (1.38 M options) 137 sets took 4 s,
lifted the bound by 0.003 %, and the placement with :data:`HEADROOM` scheduled at
$23.86 M (twice) against $23.56–23.79 M without them (four runs); at timed m (182 k
options) they lift the bound by 0.56 % and that schedule costs $5.37 M against $5.43 M."""
POLISH_MAX_OPTIONS = 50_000
"""Up to this many options, the decomposed path spends the time its search leaves in the
exact model (started from its plan): measured at 23,775 options (timed s), where it
proves the optimum in 48 s while the decomposition stops 2.8 % above the bound."""
LNS_STALL = 20
"""Up to :data:`POLISH_MAX_OPTIONS` options, the search stops after this many
neighbourhoods in a row without a gain, and the exact model gets the time left."""


def _points(problem: Problem) -> int:
    """Windows per pool of the energy cuts: a few up to :data:`POLISH_MAX_OPTIONS`
    options, only the whole horizon and its last hour above (measured at 1.4 M options:
    the windows tripled the LP's rows, and it stopped 2.9 % from its bound instead of
    0.2 %)."""
    return POINTS_PER_POOL if problem.n_options <= POLISH_MAX_OPTIONS else 0


def _empty(solution: Solution, n: int) -> Scheduled:
    zeros = np.zeros(n, dtype=np.int64)
    return Scheduled(solution, zeros, zeros.copy())


def place_and_schedule(problem: Problem, timing: Timing, backend: Backend,
                       options: SolveOptions, executor: Executor | None = None,
                       progress: Say | None = None) -> Scheduled:
    """Where and when every stage runs, at least cost (module docstring), every stage as
    early as its placement allows (:func:`~planner.solvers.schedule_shift.left_shift`).
    The solve ends :data:`FINISH_S_PER_STAGE` per stage before the deadline, for the left
    shift, the checks and the pass of list scheduling that was running."""
    options = options.started()
    assert options.deadline is not None
    reserve = FINISH_S_PER_STAGE * problem.n_stages
    done = _solve(problem, timing, backend, options.until(options.deadline.earlier(reserve)),
                  executor, progress or _silent)
    if done.solution.objective is None:
        return done
    x = done.solution.x
    start = left_shift(problem, timing, x, done.start)
    return finish(problem, timing, done.solution, x, start, "")


def _silent(_message: str) -> None:
    return None


def _usd(micro: int | None) -> str:
    return "–" if micro is None else f"${micro / 1e6:,.0f}"


def _solve(problem: Problem, timing: Timing, backend: Backend, options: SolveOptions,
           executor: Executor | None, say: Say) -> Scheduled:
    options = options.started()
    assert options.deadline is not None
    executor = executor or SerialExecutor()
    if backend.name == "cpsat":
        return _exact(problem, timing, options, executor)
    share = options.deadline.within(options.remaining_s() * PLACEMENT_SHARE)
    cut = with_time_cuts(problem, timing, _points(problem))
    took = time.perf_counter()
    placement = backend.solve(cut, dataclasses.replace(
        options.until(share), target_gap=PLACEMENT_GAP))
    took = time.perf_counter() - took
    prices = _prices(problem, timing, cut, backend)
    say(f"placement ({backend.name}): {_usd(placement.objective)}, bound "
        f"{_usd(placement.bound)}; scheduling it ({options.remaining_s():.0f}s left)")
    done: Scheduled | None = None
    if placement.objective is not None and options.remaining_s() > 1.0 \
            and list_schedule(problem, timing, placement.x) is None:
        cut, placement = _with_cores(problem, timing, cut, placement, options, took, say)
        quick = one_pass(problem, timing, placement.x)
        value = None if quick is None else timing.cost(problem, *quick)
        if not share.expired() and not _costly(placement, value, HEADROOM_ALONE):
            # time for both, and the first may compete: the cheaper schedule is kept
            done = _decomposed(problem, timing, placement, options, executor)
            if _costly(placement, done.solution.objective):
                done = _roomier(problem, timing, cut, backend, placement, done, options,
                                executor, say, took)
        elif _costly(placement, value):  # the first is repaired only if the second fails
            done = _roomier(problem, timing, cut, backend, placement, None, options,
                            executor, say, took)
    if done is None:
        done = _decomposed(problem, timing, placement, options, executor)
    if done.solution.objective is None and placement.objective is not None \
            and backend.name != "greedy" and options.remaining_s() > 1.0:
        done = _greedy_instead(problem, timing, cut, placement, done, options, executor)
    done = _greedy_floor(problem, timing, backend, done, options, executor)
    small = problem.n_options <= POLISH_MAX_OPTIONS
    if done.solution.objective is None or options.remaining_s() < 1.0:
        return done
    say(f"schedule: {_usd(done.solution.objective)}; searching neighbourhoods of the exact "
        f"model ({options.remaining_s():.0f}s left)")
    done = _searched(problem, timing, done, options, LNS_STALL if small else None, say,
                     prices)
    if not small or options.remaining_s() < 1.0:
        return done
    return _polished(problem, timing, done, options)


def _prices(problem: Problem, timing: Timing, cut: Problem, backend: Backend
            ) -> Prices | None:
    """The prices of the first placement's LP, which guide the search (measured from the
    same repaired plans, 44 s of search: hard m $12.822–12.833 M in four runs against
    $12.836–12.867 M by costs alone, hard s $2.706–2.716 M against $2.716–2.752 M in 19 s),
    or None for a backend without them, or where the search would not take them (not
    computed: a pass over every usage row)."""
    if not isinstance(backend, LpBackend) or backend.prices is None \
            or not guided_by_prices(timing):
        return None
    return Prices.of(problem, cut, backend.prices)


def _with_cores(problem: Problem, timing: Timing, cut: Problem, placement: Solution,
                options: SolveOptions, took: float, say: Say) -> tuple[Problem, Solution]:
    """One round of logic-based Benders decomposition, when the placement took at most
    :data:`CORES_SHARE` of the time left (up to :data:`CORES_MAX_OPTIONS`): the sets of
    runs that no schedule fits on one of its pools
    (:func:`~planner.solvers.pool_cores.pool_cores`) join ``cut`` as cuts,
    and the LP of the cut with them gives the bound where it is higher (the cuts are
    valid, so it is a bound); the placement with :data:`HEADROOM` then avoids them."""
    assert options.deadline is not None
    if took > CORES_SHARE * options.remaining_s() or problem.n_options > CORES_MAX_OPTIONS:
        return cut, placement
    budget = options.until(options.deadline.within(options.remaining_s() * CORES_SHARE))
    cores = pool_cores(problem, timing, placement.x, budget)
    if not cores:
        return cut, placement
    cut = with_cores(cut, cores)
    lp = solve_lp(restrict(cut, reduce_dominated(cut)), max(0.1, budget.remaining_s()))
    before = placement.bound
    if lp.bound is not None and (before is None or lp.bound > before):
        placement = dataclasses.replace(placement, bound=lp.bound)  # of the problem: the
        # placement itself breaks the cuts, and may cost less
    sets = "1 set" if len(cores) == 1 else f"{len(cores)} sets"
    say(f"{sets} of runs that no schedule fits on one pool cut from the placement; bound "
        f"{_usd(before)} → {_usd(placement.bound)}")
    return cut, placement


def _costly(placement: Solution, value: int | None, share: float | None = None) -> bool:
    """Whether a schedule of ``placement`` costing ``value`` (None: no schedule) costs more
    than ``share`` (None: :data:`HEADROOM_TRIGGER`) of it over the placement."""
    if placement.objective is None or value is None:
        return True
    limit = HEADROOM_TRIGGER if share is None else share
    return value - placement.objective > limit * value


def _roomier(problem: Problem, timing: Timing, cut: Problem, backend: Backend,
             placement: Solution, done: Scheduled | None, options: SolveOptions,
             executor: Executor, say: Say, took: float) -> Scheduled | None:
    """The placement again with :data:`HEADROOM` (the LP backend starts from the first
    placement's multipliers; at most :data:`HEADROOM_TIME` × ``took`` seconds),
    scheduled; the cheaper of it and ``done``, with the first placement's bound (the
    second's is not a bound). None when neither is a schedule."""
    assert options.deadline is not None
    room = headroom(problem, timing, placement.x, HEADROOM)
    roomy = with_headroom(cut, problem, timing, room)
    if isinstance(backend, LpBackend):
        backend.warm = backend.duals
    try:
        second = backend.solve(roomy, dataclasses.replace(options.until(
            options.deadline.within(min(options.remaining_s() * HEADROOM_SHARE,
                                        HEADROOM_TIME * took))), target_gap=PLACEMENT_GAP))
    finally:
        if isinstance(backend, LpBackend):
            backend.warm = None
    if second.objective is None:
        return done
    second = dataclasses.replace(
        second, bound=placement.bound,
        detail=f"placed again with {_left(problem, timing, room)} left for packing")
    other = _decomposed(problem, timing, second, options, executor)
    value = other.solution.objective
    before = None if done is None else done.solution.objective
    say(f"placed again with {_left(problem, timing, room)} left for packing: scheduled "
        f"{_usd(value)} against {_usd(before)} ({options.remaining_s():.0f}s left)")
    if value is None or (before is not None and value >= before):
        return done
    return other


def _left(problem: Problem, timing: Timing, room: np.ndarray) -> str:
    """The room a second placement leaves, in words."""
    pools = np.flatnonzero(timing.res_now > 0)
    less = pools[room[pools] < 1.0]
    if not less.size:
        return "no room"
    share = 1.0 - float(room[less].mean())
    return f"{share:.0%} of {less.size} of {pools.size} pools (on average)"


def _greedy_instead(problem: Problem, timing: Timing, cut: Problem, placement: Solution,
                    failed: Scheduled, options: SolveOptions,
                    executor: Executor) -> Scheduled:
    """When the backend's placement cannot be scheduled, the greedy placement (which
    leaves pools less full) scheduled and repaired in the time left; the backend's bound
    stays when it is the better one (both are valid)."""
    greedy = GreedyBackend().solve(cut, options)
    if greedy.objective is None:
        return failed
    bounds = [b for b in (placement.bound, greedy.bound) if b is not None]
    greedy = dataclasses.replace(
        greedy, bound=max(bounds) if bounds else None,
        detail=f"the {placement.backend} placement could not be scheduled; greedy's instead")
    return _decomposed(problem, timing, greedy, options, executor)


FLOOR_SHARE = 0.2
"""Share of the time left for scheduling greedy's placement when the backend's schedule
costs more than it (:func:`_greedy_floor`)."""


def _greedy_floor(problem: Problem, timing: Timing, backend: Backend, done: Scheduled,
                  options: SolveOptions, executor: Executor) -> Scheduled:
    """``done``, or greedy's placement scheduled and repaired when that costs less: the
    LP backend made greedy's plan among its starts and placed by placement cost, and with
    little time its schedule ended above greedy's (hard, 1,000 and 5,000 stages, 5–20 s:
    11–13 %). Tried only when ``done`` costs more than greedy's placement, which its
    schedule rarely undercuts (it costs nothing at the sizes the benchmarks time)."""
    x = getattr(backend, "greedy", None)
    value = done.solution.objective
    if x is None or value is None or value <= problem.objective(x) or options.expired():
        return done
    share = options.until(options.deadline.within(options.remaining_s() * FLOOR_SHARE)) \
        if options.deadline is not None else options
    placed = dataclasses.replace(done.solution, backend="greedy", x=x,
                                 objective=problem.objective(x), detail="")
    alt = _decomposed(problem, timing, placed, share, executor)
    cost = alt.solution.objective
    if cost is None or cost >= value:
        return done
    sol = dataclasses.replace(alt.solution, backend=done.solution.backend,
                              bound=done.solution.bound, detail="; ".join(d for d in (
                                  alt.solution.detail, "greedy's placement, scheduled, costs "
                                  f"less than the {done.solution.backend} placement's") if d))
    return Scheduled(sol, alt.start, alt.end)


def _searched(problem: Problem, timing: Timing, done: Scheduled, options: SolveOptions,
              stall: int | None, say: Say, prices: Prices | None = None) -> Scheduled:
    """The decomposed plan improved by large-neighbourhood search on the exact model
    (:mod:`planner.solvers.schedule_lns`, guided by ``prices`` when given) until the
    deadline or ``stall`` neighbourhoods in a row without a gain; its bound stays."""
    before = done.solution.objective
    assert before is not None
    def report(value: int, tried: int, gains: int) -> None:
        say(f"search: {_usd(value)} after {tried} neighbourhoods ({gains} cheaper; "
            f"{options.remaining_s():.0f}s left)")

    got = improve(problem, timing, done.solution.x, done.start, options,
                  LnsSettings(stall=stall), report, prices)
    if got.value >= before:
        return done
    note = (f"then {got.gains} of {got.tried} neighbourhoods of the exact model cut "
            f"{(before - got.value) / before:.1%}")
    sol = dataclasses.replace(done.solution, x=got.x, objective=got.value, detail="; ".join(
        d for d in (done.solution.detail, note) if d))
    return Scheduled(sol, got.start, done.end)  # checked, and ends computed, by finish()


def _polished(problem: Problem, timing: Timing, done: Scheduled,
              options: SolveOptions) -> Scheduled:
    """The exact model with the time left, from the decomposed plan: the better plan and
    the larger of the two valid bounds."""
    start = left_shift(problem, timing, done.solution.x, done.start)
    exact = solve_schedule(problem, timing, options, (done.solution.x, start))
    bounds = [b for b in (done.solution.bound, exact.solution.bound) if b is not None]
    best = done
    if exact.solution.objective is not None and done.solution.objective is not None \
            and exact.solution.objective < done.solution.objective:
        best = exact
    value = best.solution.objective
    bound = min(max(bounds), value) if bounds and value is not None else None
    detail = "; ".join(d for d in (done.solution.detail, "then the exact model "
                                   f"({exact.solution.status.value})") if d)
    status = SolveStatus.OPTIMAL if bound is not None and bound == value \
        else SolveStatus.FEASIBLE
    sol = dataclasses.replace(best.solution, backend=done.solution.backend, status=status,
                              bound=bound, detail=detail)
    return Scheduled(sol, best.start, best.end)


def _exact(problem: Problem, timing: Timing, options: SolveOptions,
           executor: Executor) -> Scheduled:
    """The exact model, warm-started from the greedy placement scheduled (repaired if it
    cannot run as placed) and improved by the search on the exact model until it stalls
    (:data:`LNS_STALL`); when the model finds nothing better in time, that start is the
    answer. Without the search, the exact model alone ended 2.4–2.7 % above greedy's plan
    on 200 stages of the hard family in 5–20 s (greedy's path searches before its exact
    polish): ``auto`` must never end worse than greedy."""
    assert options.deadline is not None
    start: Scheduled | None = None
    share = options.until(options.deadline.within(options.remaining_s() * START_SHARE))
    cut = with_time_cuts(problem, timing, _points(problem))
    greedy = GreedyBackend().solve(cut, share)
    if greedy.objective is not None:
        first = _decomposed(problem, timing, greedy, options, executor, repairing=False)
        if first.solution.objective is None:  # the repair, in what is left of the share
            room = share.deadline.remaining() if share.deadline is not None else 0.0
            first = _decomposed(problem, timing, greedy, options.until(  # (the exact
                Deadline.after(max(room, START_GRACE_S))), executor,  # model comes next)
                exact_repair=False)
        if first.solution.objective is not None:
            start = first
    search, solve = _exact_budgets(options)
    searched = start is not None and problem.n_options <= POLISH_MAX_OPTIONS and (
        options.deterministic or options.remaining_s() > 1.0)
    if start is not None and searched:
        start = _searched(problem, timing, start, search, LNS_STALL, _silent)
    hint = (start.solution.x, left_shift(problem, timing, start.solution.x, start.start)) \
        if start is not None else None
    exact = solve_schedule(problem, timing, solve, hint)
    exact.solution = dataclasses.replace(exact.solution, backend="cpsat")
    if start is None or (exact.solution.objective is not None
                         and exact.solution.objective <= (start.solution.objective or 0)):
        return _with_lp_bound(problem, cut, exact, options)
    bound = exact.solution.bound
    if exact.solution.status is SolveStatus.INFEASIBLE:  # cannot be: the start is a plan
        raise SolverError("the exact schedule model calls a scheduled plan infeasible")
    sol = dataclasses.replace(start.solution, backend="cpsat", bound=bound,
                              detail="time limit reached: the greedy start, scheduled"
                                     + (" and searched" if searched else ""))
    return _with_lp_bound(problem, cut, Scheduled(sol, start.start, start.end), options)


EXACT_SEARCH_SHARE = 0.5
"""At most this share of the time left goes to the exact path's search (it stops sooner
when it stalls): the exact model needs the rest to prove small plans optimal. Up to
:data:`POLISH_MAX_OPTIONS` options only: above (``--solver cpsat`` on a large portfolio,
partial plans at any size) every neighbourhood of a partial plan holds all stages."""
DETERMINISTIC_SHARES = (0.3, 0.3)
"""In deterministic mode, the exact path's search and exact model get these shares of the
time limit in deterministic seconds: shares of the seconds the wall clock left gave
another plan whenever start-up took a little longer (the same ``--reproducible``
command, two plans: $799,811 and $799,959 on 1,000 timed stages). CP-SAT's deterministic
second took about two wall seconds on 2 cores here (hard family, 200 stages, 10 s: 19 s
end to end with 0.6 for the exact model, about 13 s with 0.3)."""


def _exact_budgets(options: SolveOptions) -> tuple[SolveOptions, SolveOptions]:
    """The options of the exact path's search and exact model: :data:`EXACT_SEARCH_SHARE`
    of the time left and the deadline as it is, or, in deterministic mode, fixed shares
    of the time limit (:data:`DETERMINISTIC_SHARES`)."""
    if not options.deterministic:  # the search stops when it stalls or at half the time
        assert options.deadline is not None
        return options.until(options.deadline.within(
            options.remaining_s() * EXACT_SEARCH_SHARE)), options
    search, solve = (dataclasses.replace(options, deadline=None,
                                         time_limit_s=share * options.time_limit_s)
                     for share in DETERMINISTIC_SHARES)
    return search, solve


EXACT_LP_MAX_OPTIONS = 50_000
"""Up to this many options the exact path also solves the placement LP with the energy
cuts (milliseconds at a few thousand options) when CP-SAT did not prove its plan optimal:
its bound is often far tighter than CP-SAT's (hard family, 200 stages, 20 s: the plan
reported 19 % above CP-SAT's bound, 2 % above the LP's)."""


def _with_lp_bound(problem: Problem, cut: Problem, done: Scheduled,
                   options: SolveOptions) -> Scheduled:
    """``done`` with the bound of ``cut``'s LP (``problem`` with the energy cuts) when it
    is higher (both are valid lower bounds: the LP relaxes capacity at every instant to
    the energy cuts, and late penalties are never negative); the plan is optimal when the
    bound meets it."""
    sol = done.solution
    if sol.objective is None or sol.status is SolveStatus.OPTIMAL or problem.funding \
            or problem.n_options > EXACT_LP_MAX_OPTIONS:
        return done
    lp = solve_lp(restrict(cut, reduce_dominated(cut)), max(0.1, min(
        5.0, options.remaining_s())))
    if lp.bound is None or (sol.bound is not None and lp.bound <= sol.bound):
        return done
    bound = min(lp.bound, sol.objective)
    status = SolveStatus.OPTIMAL if bound == sol.objective else sol.status
    return Scheduled(dataclasses.replace(sol, bound=bound, status=status), done.start,
                     done.end)


def _decomposed(problem: Problem, timing: Timing, placement: Solution,
                options: SolveOptions, executor: Executor,
                repairing: bool = True, exact_repair: bool = True) -> Scheduled:
    """Schedule a placement by list scheduling; when it cannot run as placed, repair it;
    with late penalties, CP-SAT per component looks for a schedule that pays less."""
    if placement.objective is None:
        return _empty(placement, problem.n_stages)
    options = options.started()
    assert options.deadline is not None
    x, how = placement.x, "every pool scheduled as placed"
    quick = list_schedule(problem, timing, x)
    start = None if quick is None else quick[1]
    if start is None:
        if not repairing:
            return _empty(dataclasses.replace(placement, objective=None), problem.n_stages)
        repaired = repair(problem, timing, x, options, executor, exact_repair)
        if repaired is None:
            sol = dataclasses.replace(placement, status=SolveStatus.UNKNOWN,
                                      x=np.zeros_like(x), objective=None,
                                      detail="the placement could not be scheduled and the "
                                             "repair found no schedule in time")
            return _empty(sol, problem.n_stages)
        changed = np.flatnonzero(repaired.solution.x != x)
        moved = np.unique(np.searchsorted(problem.stage_ptr, changed, side="right") - 1).size
        x, start = repaired.solution.x, repaired.start
        how = (f"{moved} stages re-placed so every pool schedules "
               f"({repaired.solution.detail})")
    late = set(np.flatnonzero(timing.late_costs(problem, x, start)).tolist())
    if repairing and late and options.remaining_s() > 0:
        comps = [c for c in components(problem, timing, x)
                 if len(c) <= RESCHEDULE_MAX_STAGES and not late.isdisjoint(c)]
        if comps:
            subs = schedule_components(executor, problem, timing, x, options.until(
                options.deadline.within(options.remaining_s() * RESCHEDULE_SHARE)), start,
                comps)
            start = _less_late(problem, timing, x, start, subs)
    return finish(problem, timing, placement, x, start, how)


def _less_late(problem: Problem, timing: Timing, x: IntArray, start: IntArray,
               subs: list[SubResult]) -> IntArray:
    """``start`` with each component CP-SAT scheduled for fewer late hours' cost taken
    from its answer. Components share no binding resource and no precedence arc, so each
    is taken or left on its own (the giant component of timed m, 4,170 stages, found no
    schedule in the time, and all-or-nothing took none of the others)."""
    done = [sub for sub in subs if sub.feasible]
    trial = start.copy()
    for sub in done:
        trial[sub.stages] = sub.start
    before, after = timing.late_costs(problem, x, start), timing.late_costs(problem, x, trial)
    out = start.copy()
    for sub in done:
        mine = np.asarray(sub.stages)
        if after[mine].sum() < before[mine].sum():
            out[mine] = trial[mine]
    return out


def finish(problem: Problem, timing: Timing, placement: Solution, x: IntArray,
           start: IntArray, how: str) -> Scheduled:
    """The scheduled answer: checked, its cost with late penalties, the placement's bound
    (a valid lower bound of the time-aware problem)."""
    broken = violations(problem, x) + schedule_violations(problem, timing, x, start)
    if broken:
        raise SolverError(f"the {placement.backend} schedule breaks: {broken[0]}")
    value = timing.cost(problem, x, start)
    if placement.objective is not None and value > placement.objective \
            and placement.backend.endswith("schedule"):
        raise SolverError(f"the schedule costs {value}, more than its solver's "
                          f"{placement.objective}")
    bound = placement.bound if placement.bound is None else min(placement.bound, value)
    status = (SolveStatus.OPTIMAL if bound is not None and bound >= value
              else SolveStatus.FEASIBLE)
    detail = "; ".join(d for d in (placement.detail, how) if d)
    end = timing.ends(problem, x, start)
    sol = dataclasses.replace(placement, status=status, x=x, objective=value, bound=bound,
                              detail=detail)
    return Scheduled(sol, start, end)
