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

from dataclasses import dataclass

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.models.timing import Timing, placed
from planner.solvers.schedule_shift import _free, _length, _needs, _option_needs, _slot


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
    """The plan's pools at every hour, computed once; :meth:`check` per swap."""

    def __init__(self, problem: Problem, timing: Timing, x: IntArray, start: IntArray,
                 names: list[str] | None = None) -> None:
        self.problem, self.timing = problem, timing
        self.x = np.asarray(x, dtype=np.int64)
        self.start = np.asarray(start, dtype=np.int64)
        self.names = names if names is not None else list(problem.stage_keys)
        self.needs = _needs(problem, timing, self.x)
        self.free = _free(timing)
        self.ends = timing.ends(problem, self.x, self.start)
        for s, need in self.needs.items():
            for r, d in need.items():
                self.free[r][int(self.start[s]):int(self.ends[s])] -= d

    def check(self, stage: int, source: int, option: int) -> SwapTime:
        """Whether one unit of ``stage`` can move from ``source`` to ``option`` and still run
        with every other stage where and when it runs now (see the module docstring)."""
        p, t = self.problem, self.timing
        x2 = self.x.copy()
        x2[source] -= 1
        x2[option] += 1
        free = {r: a.copy() for r, a in self.free.items()}
        a, b = int(self.start[stage]), int(self.ends[stage])
        for r, d in self.needs.get(stage, {}).items():
            free[r][a:b] += d
        need: dict[int, int] = {}
        for o in p.options_of(stage):
            if x2[o] > 0:
                for r, d in _option_needs(p, t, o, int(x2[o])).items():
                    need[r] = need.get(r, 0) + d
        lower, after = int(t.release[stage]), "its earliest start"
        latest, before = t.horizon, "the horizon end"
        if not t.late_cost[stage] and int(t.due[stage]) < latest:
            latest, before = int(t.due[stage]), "its deadline"
        for pr in t.precedence:
            if pr.after == stage and placed(p, x2, pr.before):
                ready = int(self.ends[pr.before]) + t.gap(p, x2, pr)
                if ready > lower:
                    lower, after = ready, f"{self.names[pr.before]} ends"
            if pr.before == stage and placed(p, x2, pr.after):
                cut = int(self.start[pr.after]) - t.gap(p, x2, pr)
                if cut < latest:
                    latest, before = cut, f"{self.names[pr.after]} starts"
        if t.to_end[stage]:  # inference keeps its go-live and serves to the horizon end
            fits = all(int(free[r][a:t.horizon].min(initial=d)) >= d for r, d in need.items())
            return SwapTime(a) if fits else self._busy(
                need, free, (a, "its go-live"), (t.horizon, "the horizon end"), t.horizon - a)
        length = _length(p, t, x2, stage)
        if lower + length > latest:
            rule = "precedence" if before.endswith(" starts") or after.endswith(" ends") \
                else "deadline" if before == "its deadline" else "horizon"
            return SwapTime(None, rules=(rule,), reason=(
                f"it would run {length} h there, and between hour {lower} ({after}) and "
                f"hour {latest} ({before}) there are {max(latest - lower, 0)} h"))
        at = _slot(t, free, need, length, lower, latest)
        if at is None:
            return self._busy(need, free, (lower, after), (latest, before), length)
        late = int(t.late_cost[stage]) * (max(0, at + length - int(t.due[stage]))
                                          - max(0, b - int(t.due[stage])))
        return SwapTime(at, late_delta=late)

    def _busy(self, need: dict[int, int], free: dict[int, IntArray], lower: tuple[int, str],
              latest: tuple[int, str], length: int) -> SwapTime:
        """No start fits between ``lower`` and ``latest`` (hours, and what sets them): the
        pools without room for ``length`` hours at once."""
        (a, after), (b, before) = lower, latest
        runs = {r: _longest_run(free[r][a:b] >= d) for r, d in need.items()}
        short = [r for r in sorted(need) if runs[r] < length] or sorted(need)
        names = self.problem.res_names
        within = f"between hour {a} ({after}) and hour {b} ({before})"
        parts = [f"{names[r]} has no room for {need[r]} unit(s) at any hour {within}"
                 if runs[r] == 0 else
                 f"{names[r]} has room for {need[r]} unit(s) for at most {runs[r]} h in a row "
                 f"{within}, and it would run {length} h" for r in short]
        return SwapTime(None, rules=tuple(f"capacity:{names[r]}" for r in short),
                        reason="; ".join(parts))


def _longest_run(ok: np.ndarray) -> int:
    """The most consecutive True values."""
    if not ok.any():
        return 0
    padded = np.concatenate(([0], ok.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())
