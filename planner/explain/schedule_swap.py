"""Whether a runner-up fits the schedule: the swap of :mod:`planner.solvers.blockers` in time.

The per-period check (:mod:`planner.solvers.blockers`) asks whether one unit of a stage
may move to another option with the rest of the plan unchanged, capacity counted per
period. A plan is also a schedule: the unit must then run, on the option's pools, at an
hour where they have room *at once* — with every other stage's option and start
unchanged, inside the stage's window (release, hard deadline), after its predecessors end
and before its successors start (artifact transfer included when the move changes its
sites). :class:`ScheduleSwaps` answers that: the earliest such start and what the move
changes in late penalties, or why there is none. Without it, a stage pushed to the cloud
because the cheap pool is busy until its deadline read "allowed by every rule: this is a
planner bug" in the explanation of an optimal plan.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.models.timing import Precedence, Timing, placed
from planner.solvers.schedule_check import span_stages, spans


@dataclass(frozen=True)
class SwapTime:
    """When the swapped stage could run: ``start`` (None: no hour fits), the change of the
    plan's late penalties (micro-dollars), and, when nothing fits, the rules in the way
    (``capacity:<resource>``, ``deadline``, ``precedence``) and a sentence saying why."""

    start: int | None
    late_delta: int = 0
    rules: tuple[str, ...] = ()
    reason: str = ""


class ScheduleSwaps:
    """The plan's pools at every hour (computed per pool when first asked); :meth:`check`
    per swap. Hours are counted as the verifier counts them
    (:func:`~planner.solvers.schedule_check.schedule_violations`): each unit holds its
    option's pools from the stage's start for the option's own hours (an inference stage:
    to the horizon end), outages hold theirs."""

    def __init__(self, problem: Problem, timing: Timing, x: IntArray, start: IntArray
                 ) -> None:
        self.problem, self.timing = problem, timing
        self.x = np.asarray(x, dtype=np.int64)
        self.start = np.asarray(start, dtype=np.int64)
        self.names = problem.stage_keys
        self.ends = timing.ends(problem, self.x, self.start)
        self.spans = spans(problem, timing, self.x, self.start)
        self.who = span_stages(problem, timing, self.x, self.start)
        self._free: dict[int, IntArray] = {}
        self.links: dict[int, list[Precedence]] = {}
        """Per stage, the precedence pairs it is in."""
        for pr in timing.precedence:
            self.links.setdefault(pr.before, []).append(pr)
            self.links.setdefault(pr.after, []).append(pr)

    def free(self, r: int) -> IntArray:
        """Units of pool ``r`` free at every hour of the plan."""
        if r not in self._free:
            res, begin, end, held = self.spans
            mine = res == r
            h = self.timing.horizon
            diff = np.zeros(h + 1, dtype=np.int64)  # outages may reach past the horizon
            np.add.at(diff, np.clip(begin[mine], 0, h), held[mine])
            np.add.at(diff, np.clip(end[mine], 0, h), -held[mine])
            self._free[r] = int(self.timing.res_now[r]) - np.cumsum(diff)[:-1]
        return self._free[r]

    def check(self, stage: int, source: int, option: int) -> SwapTime:
        """Whether one unit of ``stage`` can move from ``source`` to ``option`` and still run
        with every other stage where and when it runs now (see the module docstring)."""
        p, t = self.problem, self.timing
        h = t.horizon
        x2 = self.x.copy()
        x2[source] -= 1
        x2[option] += 1
        a = int(self.start[stage])
        lower, after = int(t.release[stage]), "its earliest start"
        due = h if t.late_cost[stage] else min(h, int(t.due[stage]))  # a hard deadline
        cut, before = h, "the horizon end"  # successors' starts
        for pr in self.links.get(stage, []):
            if pr.after == stage and placed(p, x2, pr.before):
                ready = int(self.ends[pr.before]) + t.gap(p, x2, pr)
                if ready > lower:
                    lower, after = ready, f"{self.names[pr.before]} ends"
            if pr.before == stage and placed(p, x2, pr.after):
                until = int(self.start[pr.after]) - t.gap(p, x2, pr)
                if until < cut:
                    cut, before = until, f"{self.names[pr.after]} starts"
        demand = self._demand(stage, x2)
        free = {r: self._without(stage, r) for r in demand}
        if t.to_end[stage]:  # inference keeps its go-live and serves to the horizon end
            if a < lower or h > cut:
                return SwapTime(None, rules=("precedence",), reason=(
                    f"its go-live at hour {a} would come before {after} (hour {lower})"
                    if a < lower else f"it serves to the horizon end (hour {h}), after "
                    f"{before} (hour {cut})"))
            need = {r: sum(d for _, d in parts) for r, parts in demand.items()}
            if all(int(free[r][a:h].min(initial=d)) >= d for r, d in need.items()):
                return SwapTime(a)
            return self._busy(stage, need, free, (a, "its go-live"), (h, "the horizon end"),
                              h - a)
        latest = min(due, cut)
        if due < cut:
            before = "its deadline"
        length = int(t.run_hours(p, x2)[stage])
        last = min(latest, h) - length  # the latest start
        if last < lower:
            rule = "precedence" if before.endswith(" starts") or after.endswith(" ends") \
                else "deadline" if before == "its deadline" else "horizon"
            return SwapTime(None, rules=(rule,), reason=(
                f"it would run {length} h there, and between hour {lower} ({after}) and "
                f"hour {latest} ({before}) there are {max(latest - lower, 0)} h"
                + self._successors_late(stage, x2, lower + length)))
        ok = np.ones(last - lower + 1, dtype=np.bool_)
        for r, parts in demand.items():
            ok &= _starts(free[r], parts, lower, last)
        if not ok.any():
            need = {r: sum(d for _, d in parts) for r, parts in demand.items()}
            return self._busy(stage, need, free, (lower, after), (latest, before), length)
        at = lower + int(np.argmax(ok))
        late = int(t.late_cost[stage]) * (max(0, at + length - int(t.due[stage]))
                                          - max(0, int(self.ends[stage]) - int(t.due[stage])))
        return SwapTime(at, late_delta=late)

    def _successors_late(self, stage: int, x2: IntArray, end: int) -> str:
        """What the check keeps fixed, in words, when ``stage`` ending at ``end`` (its
        earliest end on the swapped option) leaves a successor too little room: each
        successor with a deadline that would have to start later, and what starting that
        much later would cost it alone (a soft deadline's late penalty) or break (a hard
        one). The check moves one stage only; this is said, not checked, so it names
        neither the successor's pools nor its own successors."""
        p, t = self.problem, self.timing
        parts = []
        for pr in self.links.get(stage, []):
            b = pr.after
            if pr.before != stage or not placed(p, x2, b) or int(t.due[b]) >= t.horizon \
                    or t.to_end[b]:
                continue
            shift = end + t.gap(p, x2, pr) - int(self.start[b])
            due, now = int(t.due[b]), int(self.ends[b])
            late = max(0, now + shift - due) - max(0, now - due)
            if shift <= 0 or late <= 0:
                continue
            moved = (f"{self.names[b]} (now hour {int(self.start[b])}–{now}, deadline hour "
                     f"{due}) would have to start {shift} h later, at hour "
                     f"{int(self.start[b]) + shift}, and end {late} h "
                     + ("more " if now > due else ""))
            if t.late_cost[b]:
                parts.append(f"{moved}past its soft deadline: "
                             f"{_usd(int(t.late_cost[b]) * late)} in late penalty "
                             f"({_usd(int(t.late_cost[b]))} per hour)")
            else:
                parts.append(f"{moved}past its hard deadline")
        if not parts:
            return ""
        return ("; this check moves one stage only and keeps its successors where they are: "
                + "; ".join(parts))

    def _demand(self, stage: int, x2: IntArray) -> dict[int, list[tuple[int, int]]]:
        """Per pool, what the swapped stage holds there: (hours from its start, units) of
        each option it uses."""
        p, t = self.problem, self.timing
        out: dict[int, list[tuple[int, int]]] = {}
        r0 = p.options_of(stage)
        lo, hi = np.searchsorted(p.use_opt, [r0.start, r0.stop])
        for k in range(int(lo), int(hi)):
            o = int(p.use_opt[k])
            d = int(t.use_now[k]) * int(x2[o])
            hours = t.horizon if t.to_end[stage] else int(t.opt_hours[o])
            if d and hours > 0:
                out.setdefault(int(p.use_res[k]), []).append((hours, d))
        return out

    def _without(self, stage: int, r: int) -> IntArray:
        """Pool ``r`` free at every hour with ``stage`` taken out of the plan."""
        free = self.free(r).copy()
        p, t = self.problem, self.timing
        a, rows = int(self.start[stage]), p.options_of(stage)
        lo, hi = np.searchsorted(p.use_opt, [rows.start, rows.stop])
        for k in range(int(lo), int(hi)):
            o = int(p.use_opt[k])
            if int(p.use_res[k]) == r and self.x[o] > 0:
                end = t.horizon if t.to_end[stage] else a + int(t.opt_hours[o])
                free[a:end] += int(t.use_now[k]) * int(self.x[o])
        return free

    def _busy(self, stage: int, need: dict[int, int], free: dict[int, IntArray],
              lower: tuple[int, str], latest: tuple[int, str], length: int) -> SwapTime:
        """No start fits between ``lower`` and ``latest`` (hours, and what sets them): the
        pools without room for ``length`` hours at once (all of them when each alone has
        room, but not at the same hours)."""
        (a, after), (b, before) = lower, latest
        runs = {r: _longest_run(free[r][a:b] >= d) for r, d in need.items()}
        short = [r for r in sorted(need) if runs[r] < length] or sorted(need)
        names = self.problem.res_names
        within = f"between hour {a} ({after}) and hour {b} ({before})"
        parts = [(f"{names[r]} has no room for {need[r]} unit(s) at any hour {within}"
                  if runs[r] == 0 else
                  f"{names[r]} has room for {need[r]} unit(s) for at most {runs[r]} h in a "
                  f"row {within}, and it would run {length} h") + self._holders(r, a, b, stage)
                 for r in short]
        return SwapTime(None, rules=tuple(f"capacity:{names[r]}" for r in short),
                        reason="; ".join(parts))


    def _holders(self, r: int, a: int, b: int, stage: int, most: int = 3) -> str:
        """Who holds pool ``r`` in ``[a, b)``, ``stage`` aside: the runs (and outages) that
        overlap it most."""
        res, begin, end, held = self.spans
        mine = np.flatnonzero((res == r) & (begin < b) & (end > a) & (self.who != stage))
        overlap = np.minimum(end[mine], b) - np.maximum(begin[mine], a)
        order = mine[np.argsort(-overlap * held[mine], kind="stable")]
        names = [("an outage" if self.who[k] < 0 else self.names[int(self.who[k])])
                 + f" h {int(begin[k])}–{int(end[k])}" for k in order[:most]]
        if not names:
            return ""
        more = f" and {order.size - most} more" if order.size > most else ""
        return f" (held by {', '.join(names)}{more})"


def _usd(micro: int) -> str:
    """Micro-dollars for a sentence, as :func:`planner.explain.runner_up.money` writes
    them (``$1,639.94``; that module imports this one)."""
    return f"${micro / 1_000_000:,.2f}"


def _starts(free: IntArray, parts: list[tuple[int, int]], lower: int, last: int
            ) -> np.ndarray:
    """For each start ``lower … last``, whether a stage holding ``parts`` ((hours, units)
    from its start) finds them free on this pool at every hour."""
    ok = np.ones(last - lower + 1, dtype=np.bool_)
    cuts = sorted({0, *(hours for hours, _ in parts)})
    for p_, q in itertools.pairwise(cuts):
        units = sum(d for hours, d in parts if hours >= q)
        short = np.concatenate(([0], np.cumsum(free < units)))
        n = len(free)
        begin = np.minimum(np.arange(lower, last + 1) + p_, n)
        end = np.minimum(np.arange(lower, last + 1) + q, n)
        ok &= short[end] == short[begin]
    return ok


def _longest_run(ok: np.ndarray) -> int:
    """The most consecutive True values."""
    if not ok.any():
        return 0
    padded = np.concatenate(([0], ok.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())
