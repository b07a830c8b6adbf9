"""The check every schedule answer passes: windows, deadlines, precedence, capacity at
every instant, over the arrays of a :class:`Problem` and its :class:`Timing`.

Independent of how the schedule was found (no CP-SAT here): a sweep over the instants
where something starts, since usage only rises at a start. The placement rules
(units, side constraints) are :func:`planner.solvers.feasibility.violations`' job;
:func:`schedule_violations` adds what time brings. Over arrays: at hard xl (200,000
stages, 31 M options, 62 M usage rows) a loop per row and per stage took tens of seconds,
twice per solve.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing


def _key(problem: Problem, s: int) -> str:
    return problem.stage_keys[s] if problem.stage_keys else str(s)


def _windows(problem: Problem, timing: Timing, x: IntArray, start: IntArray,
             is_placed: NDArray[np.bool_], end: IntArray) -> list[str]:
    """Releases, the horizon, go-lives and hard deadlines of the placed stages."""
    h = timing.horizon
    early = is_placed & (start < timing.release)
    over = is_placed & (end > h)
    no_golive = is_placed & timing.to_end & (start >= h)
    at = np.where(timing.to_end, start, end)
    missed = is_placed & (timing.late_cost == 0) & (at > timing.due)
    out = []
    for s in np.flatnonzero(early | over | no_golive | missed).tolist():
        key = _key(problem, s)
        if early[s]:
            out.append(f"{key} starts at {int(start[s])}, before its release "
                       f"{int(timing.release[s])}")
        if over[s]:
            out.append(f"{key} ends at {int(end[s])}, after the horizon {h}")
        if no_golive[s]:
            out.append(f"{key} goes live at {int(start[s])}, not before the horizon ends")
        if missed[s]:
            out.append(f"{key} misses its deadline {int(timing.due[s])}")
    return out


def _order(problem: Problem, timing: Timing, x: IntArray, start: IntArray,
           is_placed: NDArray[np.bool_], end: IntArray) -> list[str]:
    """Precedence: each stage starts once its predecessor is done and the lag (and the
    transfer, to another site) has passed."""
    out = []
    for p in timing.precedence:
        if is_placed[p.before] and is_placed[p.after]:
            gap = timing.gap(problem, x, p) if p.transfer else p.lag
            ready = int(end[p.before]) + gap
            if int(start[p.after]) < ready:
                out.append(f"stage {p.after} starts at {int(start[p.after])}, before stage "
                           f"{p.before} is done and {gap} h later ({ready})")
    return out


def _placed_spans(problem: Problem, timing: Timing, x: IntArray, start: IntArray
                  ) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray]:
    """(usage rows, their stages, starts, ends, units held) of the placed options' runs
    that last (end after start)."""
    rows = problem.placed_rows(x)
    o = problem.use_opt[rows]
    s = np.searchsorted(problem.stage_ptr, o, side="right") - 1
    begin = start[s]
    end = np.where(timing.to_end[s], timing.horizon, begin + timing.opt_hours[o])
    held = timing.use_now[rows] * x[o]
    keep = end > begin
    return rows[keep], s[keep], begin[keep], end[keep], held[keep]


def spans(problem: Problem, timing: Timing, x: IntArray,
          start: IntArray) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(resource, start, end, units held) of every placed option using a resource, and
    of every outage (in that order: :func:`span_stages` names their stages)."""
    rows, _, begin, end, held = _placed_spans(problem, timing, x, start)
    outs = timing.outages

    def of_outages(field: str) -> IntArray:
        return np.array([getattr(u, field) for u in outs], dtype=np.int64)

    return (np.concatenate([problem.use_res[rows], of_outages("res")]),
            np.concatenate([begin, of_outages("start")]),
            np.concatenate([end, of_outages("end")]),
            np.concatenate([held, of_outages("amount")]))


def span_stages(problem: Problem, timing: Timing, x: IntArray, start: IntArray) -> IntArray:
    """The stage of each of :func:`spans`' spans (-1 for an outage)."""
    stage = _placed_spans(problem, timing, x, start)[1]
    return np.concatenate([stage, np.full(len(timing.outages), -1)]).astype(np.int64)


def _peak_breaches(problem: Problem, timing: Timing, x: IntArray,
                   start: IntArray) -> list[str]:
    """Per resource, the first hour at which the units held exceed its capacity at once:
    a sweep over the starts and ends, the units held at an hour counted after every
    event at it (what ends at hour t no longer holds at t)."""
    res, begin, end, held = (a.astype(np.int64) for a in spans(problem, timing, x, start))
    n = res.size
    if n == 0:
        return []
    ev_res = np.concatenate([res, res])
    ev_t = np.concatenate([begin, end])
    ev_d = np.concatenate([held, -held])
    order = np.lexsort((ev_t, ev_res))
    ev_res, ev_t, ev_d = ev_res[order], ev_t[order], ev_d[order]
    total = np.cumsum(ev_d)
    first = np.r_[True, ev_res[1:] != ev_res[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(ev_res.size), 0))
    used = total - (total[base] - ev_d[base])  # within the resource
    last = np.r_[(ev_res[1:] != ev_res[:-1]) | (ev_t[1:] != ev_t[:-1]), True]
    # after every event at an hour (the first breach is at an hour where something starts:
    # at an hour where things only end, fewer units are held than just before)
    breach = last & (used > timing.res_now[ev_res])
    out = []
    seen: set[int] = set()
    for k in np.flatnonzero(breach).tolist():
        r = int(ev_res[k])
        if r not in seen:
            seen.add(r)
            out.append(f"{problem.res_names[r]} holds {int(used[k])} > "
                       f"{int(timing.res_now[r])} at hour {int(ev_t[k])}")
    return out


def schedule_violations(problem: Problem, timing: Timing, x: IntArray,
                        start: IntArray) -> list[str]:
    """Every time rule ``(x, start)`` breaks, in words; empty when it is a schedule."""
    is_placed = problem.placed_stages(x)
    start = np.asarray(start, dtype=np.int64)
    end = timing.ends(problem, x, start)  # 0 for a stage placed nowhere: never read
    return (_windows(problem, timing, x, start, is_placed, end)
            + _order(problem, timing, x, start, is_placed, end)
            + _peak_breaches(problem, timing, x, start))
