"""Why nothing fits in time: a minimal set of conflicting rules on the exact schedule model.

:mod:`planner.solvers.diagnosis` finds a minimal conflicting set of placement rules on a
:class:`~planner.models.problem.Problem`. Here the model is the exact time-aware one
(:class:`~planner.solvers.schedule_cpsat.ScheduleBuilder` on a Problem and its
:class:`~planner.models.timing.Timing`), and the time rules get assumption literals too:

* ``deadline:<workload>/<stage>``: a hard deadline (batch: ends by; inference: live by);
* ``window:<workload>/<stage>``: an earliest start (a release after hour 0);
* ``after:<workload>/<a>-><b>``: one precedence arc (``b`` starts after ``a`` ends);
* ``outage:<site>/<offer>#<i>``: one outage (its nodes are up again when dropped);

next to the placement rules (residency, …) and ``capacity:<resource>``, which now bounds
the resource both per period and at every instant. Each rule holds only if its literal
does; CP-SAT, solving under all of them, returns an unsatisfiable core, and the deletion
filter of :mod:`planner.solvers.diagnosis` shrinks it until dropping any one rule admits
a plan. The caller names the time rules (:class:`TimedNames`); a rule named ``None`` is
not relaxable (always in force): e.g. the go-live the calendar derives for an inference
stage without dates. The horizon itself is never relaxed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ortools.sat.python import cp_model

from planner.models.problem import Problem
from planner.models.timing import Timing
from planner.solvers.base import ConflictCheck, Core, SolveOptions
from planner.solvers.cpsat_model import validated
from planner.solvers.diagnosis import (
    Guarded,
    check_guarded,
    core_note,
    core_of,
    literal_maker,
)
from planner.solvers.schedule_cpsat import ScheduleBuilder

Names = tuple[str | None, ...]


@dataclass(frozen=True)
class TimedNames:
    """The rule name of each time rule of a Timing (None: not relaxable).

    ``deadline`` and ``window`` per stage, ``after`` per precedence arc
    (``Timing.precedence``), ``outage`` per outage (``Timing.outages``)."""

    deadline: Names
    window: Names
    after: Names
    outage: Names

    @classmethod
    def default(cls, problem: Problem, timing: Timing) -> TimedNames:
        """Every time rule relaxable, named from the problem's stage keys and resources."""
        keys = problem.stage_keys or tuple(f"stage{s}" for s in range(problem.n_stages))
        return cls(deadline=tuple(f"deadline:{k}" for k in keys),
                   window=tuple(f"window:{k}" for k in keys),
                   after=tuple(arc_name(keys[a.before], keys[a.after])
                               for a in timing.precedence),
                   outage=tuple(f"outage:{problem.res_names[o.res].partition(':')[2]}"
                                f"#{sum(p.res == o.res for p in timing.outages[:k])}"
                                for k, o in enumerate(timing.outages)))

    def of(self, kind: str, index: int) -> str | None:
        return {"deadline": self.deadline, "window": self.window, "after": self.after,
                "outage": self.outage}[kind][index]


def arc_name(before: str, after: str) -> str:
    """``after:<workload>/<a>-><b>`` for stage keys ``<workload>/<a>`` and ``<workload>/<b>``."""
    wa, _, a = before.rpartition("/")
    wb, _, b = after.rpartition("/")
    if wa and wa == wb:
        return f"after:{wa}/{a}->{b}"
    return f"after:{before}->{after}"


def guarded_schedule(problem: Problem, timing: Timing, names: TimedNames | None = None
                     ) -> Guarded:
    """The exact schedule model with every relaxable rule behind an assumption literal."""
    names = names or TimedNames.default(problem, timing)
    literals: dict[str, cp_model.IntVar] = {}
    builder = ScheduleBuilder(problem, timing)
    guard = literal_maker(builder.model, literals)
    builder.placement.guard = guard

    def time_guard(kind: str, index: int) -> cp_model.IntVar | None:
        name = names.of(kind, index)
        return None if name is None else guard(name)

    builder.time_guard = time_guard
    model = builder.build()
    model.clear_objective()
    validated(model, "timed diagnosis")
    return Guarded(literals, model)


def find_timed_core(problem: Problem, timing: Timing, options: SolveOptions,
                    names: TimedNames | None = None) -> Core:
    """A minimal set of rules (placement and time) that admit no schedule together, within
    the deadline of ``options`` (see :class:`~planner.solvers.base.Core`)."""
    return core_of(guarded_schedule(problem, timing, names), options)


def diagnose_timed(problem: Problem, timing: Timing, options: SolveOptions,
                   names: TimedNames | None = None) -> tuple[list[str], str]:
    """The rule names of a minimal conflicting set, and a note on what was shown
    (:func:`~planner.solvers.diagnosis.core_note`; or why no set is named)."""
    found = find_timed_core(problem, timing, options, names)
    if found.rules is None:
        return [], ("no set of relaxable rules could be shown to conflict within the time "
                    "limit (or a schedule exists); raise --time-limit")
    if not found.rules:
        return [], ("no schedule exists even with every relaxable rule dropped: a stage "
                    "does not fit in the horizon, or on any hardware")
    return list(found.rules), core_note(found)


def check_timed_conflict(problem: Problem, timing: Timing, rules: list[str],
                         options: SolveOptions, names: TimedNames | None = None
                         ) -> ConflictCheck:
    """Re-solve a claim on the exact schedule model: the named rules together admit no
    schedule (every other rule free), and dropping any one of them admits one (see
    :func:`planner.solvers.diagnosis.check_conflict`)."""
    return check_guarded(guarded_schedule(problem, timing, names), rules, options)
