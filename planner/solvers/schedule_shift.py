"""Left-shift a schedule: every stage as early as it can go, the placement unchanged.

A solver's schedule is feasible but its starts may be arbitrary wherever nothing in
the objective pushes them (a cloud stage without quota may start anywhere in its
window). Taking the stages in the order of their starts, each is moved to the earliest
whole hour that its release, its predecessors and the pools already scheduled allow.
No stage moves later: at and after a stage's old start, the stages scheduled before it
hold no more than they did (each ends no later than before), so its old start still
fits. Deadlines therefore still hold, late penalties never grow, and the answer is a
semi-active schedule whose starts have a reason: a window, a predecessor, or a pool
that is full until then.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.models.timing import Precedence, Timing, placed
from planner.solvers.decompose import opt_stage


def _needs(problem: Problem, timing: Timing, x: IntArray) -> dict[int, dict[int, int]]:
    """Stage → resource → units it holds at once (limited resources only)."""
    stage_of = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    out: dict[int, dict[int, int]] = {}
    for k in np.flatnonzero(x[problem.use_opt] > 0).tolist():
        o, r = int(problem.use_opt[k]), int(problem.use_res[k])
        d = int(timing.use_now[k]) * int(x[o])
        if d:
            per = out.setdefault(int(stage_of[o]), {})
            per[r] = per.get(r, 0) + d
    return out


def _free(timing: Timing) -> dict[int, IntArray]:
    """Units of every resource free at every hour, before any stage: capacity minus outages."""
    free = {r: np.full(timing.horizon, int(timing.res_now[r]), dtype=np.int64)
            for r in range(len(timing.res_now))}
    for out in timing.outages:
        free[out.res][out.start:out.end] -= out.amount
    return free


def left_shift(problem: Problem, timing: Timing, x: IntArray, start: IntArray) -> IntArray:
    """The starts of the module docstring (``start`` itself is left unchanged)."""
    h = timing.horizon
    free = _free(timing)
    needs = _needs(problem, timing, x)
    preds: dict[int, list[int]] = {}
    for p in timing.precedence:
        preds.setdefault(p.after, []).append(p.before)
    lags = {(p.before, p.after): timing.gap(problem, x, p) for p in timing.precedence}
    depth = _depths(problem.n_stages, preds)  # a zero-hour stage ends where its next starts
    order = sorted((s for s in range(problem.n_stages) if placed(problem, x, s)),
                   key=lambda s: (int(start[s]), depth[s], s))
    new = start.copy()
    end: dict[int, int] = {}
    for s in order:
        length = (h - int(start[s])) if timing.to_end[s] else \
            max((int(timing.opt_hours[o]) for o in problem.options_of(s) if x[o] > 0),
                default=0)
        lower = int(timing.release[s])
        for b in preds.get(s, []):
            if b in end:
                lower = max(lower, end[b] + lags[(b, s)])
        t = int(start[s]) if timing.to_end[s] else _earliest(free, needs.get(s, {}), lower,
                                                             int(start[s]), length)
        new[s] = t
        end[s] = h if timing.to_end[s] else t + length
        for r, d in needs.get(s, {}).items():
            free[r][t:end[s]] -= d
    return new


def _depths(n: int, preds: dict[int, list[int]]) -> list[int]:
    """Per stage, the most precedence arcs on a path that ends at it (a stage comes after
    every stage before it in this order; the arcs form no cycle)."""
    depth = [-1] * n
    for s in range(n):
        todo = [s]
        while todo:
            t = todo[-1]
            if depth[t] >= 0:
                todo.pop()
                continue
            waiting = [b for b in preds.get(t, []) if depth[b] < 0]
            if waiting:
                todo.extend(waiting)
                continue
            depth[t] = 1 + max((depth[b] for b in preds.get(t, [])), default=-1)
            todo.pop()
    return depth


def _earliest(free: dict[int, IntArray], need: dict[int, int], lower: int, old: int,
              length: int) -> int:
    """The first hour in ``[lower, old]`` from which ``need`` fits for ``length`` hours
    (``old`` always does, see the module docstring)."""
    if not need or length == 0:
        return min(lower, old)
    t = lower
    while t < old:
        blocked = -1
        for r, d in need.items():
            short = np.flatnonzero(free[r][t:t + length] < d)
            if short.size:
                blocked = max(blocked, t + int(short[-1]) + 1)
        if blocked < 0:
            return t
        t = blocked
    return old


RULES = ("deadline", "longest", "wide", "regret")
"""Priority rules of :func:`schedule_list` (earliest deadline first; ties broken by the
fewest options, or by the longest run; or ``wide``: the deadline moved earlier by
:data:`WIDE_HOURS` times the largest share of a pool the stage takes at once; or
``regret``: as ``wide``, and earlier still by :data:`REGRET_HOURS` times what moving the
stage off the pools would cost, over the most any stage would pay)."""
REGRET_HOURS = 1000
"""The ``regret`` rule: the stage that would pay the most to leave the pools goes as if
its deadline were this many hours earlier. Deadline order pushes out whichever stage the
list reaches last, often an 8-node training run whose only other option is the cloud at
4× the price; this rule keeps those and pushes out the cheap movers. Timed m, one pass
over the LP's placement then re-insertion: $5.48 M against $5.73 M for ``wide`` (100 h:
$5.58 M, 300 h: $5.65 M, 3,000 h: $5.57 M, 10,000 h: $6.01 M; regret alone, before the
deadline: $6.41 M); end to end (116 s) 6.9–7.5 % above the bound in three runs against
8.0 % and 8.6 % the same hour."""
WIDE_HOURS = 300
"""The ``wide`` rule: a stage that takes a whole pool at once goes as if its deadline were
this many hours earlier, so that gangs find the pool whole before small jobs fragment it
(timed m, one pass over the LP's placement: 26.6 % above the bound against 28.8 % by
deadline; 27.3 % with 1,000 h, 27.6 % with "half a pool or more first")."""

class Moves(Protocol):
    """Other placements to try for a stage that cannot run as placed, and the way to make
    one (:class:`planner.solvers.schedule_moves.StageMoves`)."""

    def __call__(self, s: int, x: IntArray, room: int) -> Iterator[int]:
        """(stage, x, the hours it has between its earliest start and its latest end) →
        options that may take all its units (``x`` is left as it was)."""

    def move(self, x: IntArray, s: int, o: int) -> None:
        """All units of stage ``s`` onto option ``o``, in ``x``."""


ANYWHERE = -1
"""A site for ``ready`` in :func:`schedule_list`: the earliest start at the best site."""


class Stuck(Exception):
    """List scheduling could not place stage ``stage`` (with any move it was offered)."""

    def __init__(self, stage: int) -> None:
        super().__init__(f"stage {stage} cannot be scheduled")
        self.stage = stage


def list_schedule(problem: Problem, timing: Timing, x: IntArray,
                  moves: Moves | None = None, avoid: frozenset[int] = frozenset(),
                  first: frozenset[int] = frozenset(), rule: str = "deadline",
                  ) -> tuple[IntArray, IntArray] | None:
    """:func:`schedule_list` with ``None`` instead of :class:`Stuck`."""
    try:
        return schedule_list(problem, timing, x, moves, avoid, first, rule)
    except Stuck:
        return None


def schedule_list(problem: Problem, timing: Timing, x: IntArray,
                  moves: Moves | None = None, avoid: frozenset[int] = frozenset(),
                  first: frozenset[int] = frozenset(), rule: str = "deadline",
                  ) -> tuple[IntArray, IntArray]:
    """A schedule of the placement ``x`` by list scheduling — (x, starts) — or None when
    it misses a hard deadline or a go-live: stages with a fixed go-live first, then the
    others once their predecessors are scheduled, earliest deadline first (ties: fewest
    options first, or with ``rule="longest"`` the longest run first), each at the
    earliest whole hour its release, predecessors and the pools allow. Instant, and exact
    whenever every deadline is hard (then when a stage runs does not change the cost); a
    stage that misses a soft deadline is scheduled late and pays for it. With ``moves``,
    a stage that cannot run as placed is re-placed by the first move that runs in time
    (the answer's x then differs from ``x``); the stages in ``avoid`` try their moves
    before their placement, and the batch stages in ``first`` go before the others
    whose predecessors are scheduled; a stage that would miss its soft deadline moves
    when a move that meets it costs less than the late hours. Raises :class:`Stuck`
    naming the first stage that cannot run."""
    h = timing.horizon
    free = _free(timing)
    x = x.copy()
    needs = _needs(problem, timing, x)
    stages = [s for s in range(problem.n_stages) if placed(problem, x, s)]
    start = np.zeros(problem.n_stages, dtype=np.int64)
    end: dict[int, int] = {}
    for s in stages:
        if timing.to_end[s]:
            g = int(timing.release[s])  # the go-live (the earliest, when there is a window)
            if timing.late_cost[s] == 0 and g > int(timing.due[s]):
                raise Stuck(s)
            if moves is not None and (s in avoid or not _fits(free, needs.get(s, {}), g,
                                                              h - g)):
                for o in moves(s, x, h - g):
                    need = _option_needs(problem, timing, o, _units(problem, x, s))
                    if _fits(free, need, g, h - g):
                        moves.move(x, s, o)
                        needs[s] = need
                        break
            if not _fits(free, needs.get(s, {}), g, h - g):
                raise Stuck(s)
            start[s], end[s] = g, h
            _take(free, needs.get(s, {}), g, h)
    preds: dict[int, list[Precedence]] = {}
    succs: dict[int, list[int]] = {}
    for p in timing.precedence:
        if placed(problem, x, p.before) and placed(problem, x, p.after):
            preds.setdefault(p.after, []).append(p)
            succs.setdefault(p.before, []).append(p.after)

    def ready(s: int, site: int | None = None) -> int:
        """When batch stage ``s`` may start after its release and its predecessors (all
        scheduled, so their sites are known): at ``site``, where it is now (None), or at
        the best site for it (:data:`ANYWHERE`: no transfer counted)."""
        here = problem.sites_used(x, s) if site is None else {site}
        out = int(timing.release[s])
        for p in preds.get(s, []):
            moved = p.transfer and site != ANYWHERE \
                and not here <= problem.sites_used(x, p.before)
            out = max(out, end[p.before] + p.lag + (p.transfer if moved else 0))
        return out

    latest = _latest_ends(problem, timing, stages, start, end)
    target = _latest_ends(problem, timing, stages, start, end, soft=True) \
        if timing.late_cost.any() else latest
    width = {s: len(problem.options_of(s)) for s in stages}  # fewest choices first

    lose = _regrets(problem, timing, x) if rule == "regret" else None
    worst = max(1, int(lose.max(initial=0))) if lose is not None else 1

    def key(s: int) -> tuple[int, int, int, int, int]:
        """``first``, then the earliest end it should have (soft deadlines count; ``wide``
        and ``regret``: earlier for a stage that takes much of a pool; ``regret``: earlier
        for one that costs much to move), then (``longest``) the longest."""
        longest = -_length(problem, timing, x, s) if rule == "longest" else 0
        due = target[s]
        if rule in ("wide", "regret"):
            due -= _wide(timing, needs.get(s, {}))
        if lose is not None:
            due -= int(REGRET_HOURS * int(lose[s]) / worst)
        return (s not in first, due, longest, width[s], s)

    heap: list[tuple[int, int, int, int, int]] = []
    if rule not in RULES:
        raise ValueError(f"unknown list-scheduling rule {rule!r}")
    blocked = {s: sum(1 for p in preds.get(s, []) if p.before not in end) for s in stages}
    for s in stages:
        if not timing.to_end[s] and blocked[s] == 0:
            heapq.heappush(heap, key(s))
    while heap:
        s = heapq.heappop(heap)[-1]
        lower = ready(s)
        t = None if s in avoid and moves is not None else \
            _slot(timing, free, needs.get(s, {}), _length(problem, timing, x, s), lower,
                  latest[s])
        if t is None and moves is not None:
            for o in moves(s, x, latest[s] - ready(s, ANYWHERE)):
                need = _option_needs(problem, timing, o, _units(problem, x, s))
                t = _slot(timing, free, need, int(timing.opt_hours[o]),
                          ready(s, int(problem.opt_site[o])), latest[s])
                if t is not None:
                    moves.move(x, s, o)
                    needs[s] = need
                    break
            if t is None and s in avoid:
                t = _slot(timing, free, needs.get(s, {}), _length(problem, timing, x, s),
                          lower, latest[s])
        if t is not None and moves is not None and timing.late_cost[s]:
            t = _on_time(problem, timing, x, s, t, ready, free, needs, moves)
        if t is None:
            raise Stuck(s)
        start[s], end[s] = t, t + _length(problem, timing, x, s)
        _take(free, needs.get(s, {}), t, end[s])
        for b in succs.get(s, []):
            blocked[b] -= 1
            if blocked[b] == 0 and not timing.to_end[b]:
                heapq.heappush(heap, key(b))
    for s in stages:
        if s not in end:
            raise Stuck(s)  # a cycle through a fixed go-live: nothing can go first
    for p in timing.precedence:  # between two fixed go-lives nothing could move
        if p.before in end and p.after in end \
                and start[p.after] < end[p.before] + timing.gap(problem, x, p):
            raise Stuck(p.after)
    return x, start


def _regrets(problem: Problem, timing: Timing, x: IntArray) -> IntArray:
    """Per stage, what it would cost to move it off every capacity-limited pool: its
    cheapest option on none of them for all its units, minus what it costs now (0 when
    every option of it is on such a pool: the rule then orders it as ``wide`` does)."""
    limited = np.zeros(problem.n_options, dtype=np.bool_)
    limited[problem.use_opt[timing.use_now > 0]] = True
    stage = opt_stage(problem)
    price = np.where(limited, np.iinfo(np.int64).max, problem.opt_obj)
    cheapest = np.full(problem.n_stages, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(cheapest, stage, price)
    now = np.bincount(stage, weights=(problem.opt_obj * x).astype(np.float64),
                      minlength=problem.n_stages)
    units = np.bincount(stage, weights=x, minlength=problem.n_stages)
    free = cheapest < np.iinfo(np.int64).max
    out = np.zeros(problem.n_stages, dtype=np.int64)
    out[free] = np.maximum(0, cheapest[free] * units[free] - now[free]).astype(np.int64)
    return out


def _wide(timing: Timing, need: dict[int, int]) -> int:
    """:data:`WIDE_HOURS` times the largest share of a pool ``need`` takes at once."""
    share = max((u / max(1, int(timing.res_now[r])) for r, u in need.items()), default=0.0)
    return int(WIDE_HOURS * min(1.0, share))


def _on_time(problem: Problem, timing: Timing, x: IntArray, s: int, t: int,
             ready: Callable[[int, int | None], int], free: dict[int, IntArray],
             needs: dict[int, dict[int, int]], moves: Moves) -> int:
    """Where a stage with a soft deadline starts: at ``t`` on its placement, or, when that
    is late, on the cheapest move that ends by the deadline and costs less than the late
    hours (``x`` and ``needs`` updated in place)."""
    due = int(timing.due[s])
    late = t + _length(problem, timing, x, s) - due
    if late <= 0:
        return t
    penalty = int(timing.late_cost[s]) * late
    r = problem.options_of(s)
    units = _units(problem, x, s)
    now = int((problem.opt_obj[r] * x[r]).sum())
    for o in moves(s, x, due - ready(s, ANYWHERE)):
        if int(problem.opt_obj[o]) * units - now >= penalty:
            break  # cheapest first: the rest cost more than being late
        need = _option_needs(problem, timing, o, units)
        on_time = _slot(timing, free, need, int(timing.opt_hours[o]),
                        ready(s, int(problem.opt_site[o])), due)
        if on_time is not None:
            moves.move(x, s, o)
            needs[s] = need
            return on_time
    return t


def _latest_ends(problem: Problem, timing: Timing, stages: list[int], start: IntArray,
                 end: dict[int, int], soft: bool = False) -> dict[int, int]:
    """When each batch stage must end at the latest: its hard deadline (the horizon when
    soft), and early enough for every successor to run on its fastest option by its own
    latest end or fixed go-live (a necessary condition, so it rules out no schedule,
    except that before a fixed go-live it leaves room for the artifact's transfer
    whatever site the stage gets): the list's hard limit. With ``soft``, soft deadlines
    count as hard: when a stage should end to pay no late hours, the list's priority
    (ordered by the hard limits only, soft-deadline stages went last, after the others
    had filled the pools: timed m paid $2.1 M of late hours on a $4.3 M placement)."""
    h = timing.horizon
    latest = {s: h if timing.late_cost[s] and not soft else int(timing.due[s])
              for s in stages}
    arcs = [p for p in timing.precedence if p.before in latest and p.after in latest
            and not timing.to_end[p.before]]
    shortest = {s: min((int(timing.opt_hours[o]) for o in problem.options_of(s)),
                       default=0) for s in {p.after for p in arcs}}
    for _ in range(len(arcs) + 1):  # Bellman-Ford style: chains settle in a few passes
        changed = False
        for p in arcs:
            # before a fixed go-live, room for the transfer (its site is not chosen yet)
            bound = (int(start[p.after]) - p.most if p.after in end
                     else latest[p.after] - shortest[p.after] - p.lag)
            if bound < latest[p.before]:
                latest[p.before], changed = bound, True
        if not changed:
            break
    return latest


def _length(problem: Problem, timing: Timing, x: IntArray, s: int) -> int:
    r = problem.options_of(s)
    return int(timing.opt_hours[r.start:r.stop][x[r.start:r.stop] > 0].max())


def _units(problem: Problem, x: IntArray, s: int) -> int:
    r = problem.options_of(s)
    return int(x[r.start:r.stop].sum())


def _option_needs(problem: Problem, timing: Timing, o: int, units: int) -> dict[int, int]:
    """Resource → units held at once by ``units`` units on option ``o`` (usage rows are in
    option order)."""
    a, b = np.searchsorted(problem.use_opt, [o, o + 1])
    out: dict[int, int] = {}
    for k in range(int(a), int(b)):
        d = int(timing.use_now[k]) * units
        if d:
            out[int(problem.use_res[k])] = out.get(int(problem.use_res[k]), 0) + d
    return out


def _slot(timing: Timing, free: dict[int, IntArray], need: dict[int, int], length: int,
          lower: int, latest: int) -> int | None:
    """The earliest start of a run of ``length`` hours holding ``need`` from ``lower``, or
    None if it cannot end by ``latest`` (a hard deadline, a successor's go-live, the
    horizon)."""
    h = timing.horizon
    if lower + length > h:
        return None
    t = _earliest(free, need, lower, h - length, length)
    if not _fits(free, need, t, length):
        return None
    return t if t + length <= latest else None


def _fits(free: dict[int, IntArray], need: dict[int, int], t: int, length: int) -> bool:
    return all(length <= 0 or int(free[r][t:t + length].min()) >= d for r, d in need.items())


def _take(free: dict[int, IntArray], need: dict[int, int], a: int, b: int) -> None:
    for r, d in need.items():
        free[r][a:b] -= d
