"""Why nothing fits: a small set of rules that together admit no plan (CP-SAT's
unsatisfiable-core capability, offered by :class:`~planner.solvers.cpsat.CpSatBackend`).

The problem comes from the caller, built with the options the rules pruned
(``Problem.opt_groups``: the rule groups that forbid each); the answer is rule-group
names. Naming them for people (what each rule says, what the stages in the conflict
need) is the caller's part (:mod:`planner.explain.conflicts`).

Every relaxable rule instance ("group") gets an assumption literal: residency,
certification, exclusion and latency rules of each workload or stage (options
they pruned are re-admitted behind them), each capacity resource, each budget,
each provider-concentration cap, each co-location and spread rule, and the move
cap. CP-SAT, solving under all assumptions, returns sufficient assumptions for
infeasibility (an unsatisfiable core); a deletion filter then shrinks the core:
a rule is dropped from it when the rest is still infeasible. What remains is
minimal: relaxing any one of its rules (together with everything outside the
set) admits a plan. Each rule is then re-checked alone — with every other rule
of the portfolio in force — and the diagnosis says whether dropping it alone
suffices.

The same machinery (:class:`Guarded`, :func:`literal_maker`, :func:`core_of`,
:func:`check_guarded`, :func:`core_note`) runs the time-aware diagnosis on the exact
schedule model (:mod:`planner.solvers.schedule_diagnosis`).

Every solve reads the deadline of the :class:`~planner.solvers.base.SolveOptions` it is
given: when time runs out the set found so far is reported (still conflicting, maybe not
minimal) and the summary says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from planner.models.problem import Problem
from planner.solvers.base import ConflictCheck, Core, SolveOptions
from planner.solvers.cpsat_model import ModelBuilder, configure, validated
from planner.solvers.tuning import DIAGNOSIS_SOLVE_FLOOR_S


@dataclass
class Guarded:
    """A model whose relaxable rules each hold only if their assumption literal does."""

    literals: dict[str, cp_model.IntVar]
    model: cp_model.CpModel


def literal_maker(model: cp_model.CpModel, literals: dict[str, cp_model.IntVar]
                  ) -> Callable[[str], cp_model.IntVar]:
    """A guard: one assumption literal per rule name (the same literal for the same name)."""

    def guard(name: str) -> cp_model.IntVar:
        if name not in literals:
            literals[name] = model.new_bool_var(f"rule[{name}]")
        return literals[name]

    return guard


def _guarded_model(problem: Problem) -> Guarded:
    literals: dict[str, cp_model.IntVar] = {}
    builder = ModelBuilder(problem)
    builder.guard = literal_maker(builder.model, literals)
    model = builder.build(with_objective=False)
    validated(model, "diagnosis")
    return Guarded(literals, model)


@dataclass
class _Budget:
    """Deterministic seconds the solves of one diagnosis share, in deterministic mode
    without a deadline (:meth:`of`): each solve gets what is left and its use is counted,
    so the diagnosis ends within ``time_limit_s`` deterministic seconds and finds the same
    set every run. A solve counts at least :data:`DIAGNOSIS_SOLVE_FLOOR_S`: deterministic
    time leaves out its set-up, which dominates the small solves of a deletion filter
    (each solve given the whole ``time_limit_s``, one over a core of 75 rules took 152
    solves and 6.7 s wall for a budget of 0.5 s, about 2 ms deterministic each)."""

    left: float | None = None
    """Deterministic seconds left; None: no shared budget (each solve has its options')."""

    @classmethod
    def of(cls, options: SolveOptions) -> _Budget:
        shared = options.deterministic and options.deadline is None
        return cls(options.time_limit_s if shared else None)

    def options(self, options: SolveOptions) -> SolveOptions | None:
        """The options of the next solve; None when nothing is left."""
        if self.left is None:
            return options
        if self.left <= 0:
            return None
        return dataclasses.replace(options, time_limit_s=self.left)

    def spend(self, solver: cp_model.CpSolver) -> None:
        if self.left is not None:
            self.left -= max(DIAGNOSIS_SOLVE_FLOOR_S,
                             solver.response_proto.deterministic_time)


def _feasible(g: Guarded, enforced: list[str], options: SolveOptions,
              budget: _Budget | None = None) -> bool | None:
    """Solve with ``enforced`` rules on and every other rule free; None if undecided (also
    when the deadline has passed or the budget is spent)."""
    if options.deadline is not None and options.deadline.expired():
        return None
    budget = budget or _Budget()
    given = budget.options(options)
    if given is None:
        return None
    g.model.clear_assumptions()
    g.model.add_assumptions([g.literals[n] for n in enforced])
    solver = cp_model.CpSolver()
    configure(solver, given)
    code = solver.solve(g.model)
    budget.spend(solver)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return True
    if code == cp_model.INFEASIBLE:
        return False
    return None


def _core(g: Guarded, options: SolveOptions, budget: _Budget | None = None
          ) -> list[str] | None:
    names = sorted(g.literals)
    budget = budget or _Budget()
    given = budget.options(options)
    if given is None:
        return None
    g.model.clear_assumptions()
    g.model.add_assumptions([g.literals[n] for n in names])
    solver = cp_model.CpSolver()
    configure(solver, dataclasses.replace(given, workers=1))
    code = solver.solve(g.model)
    budget.spend(solver)
    if code != cp_model.INFEASIBLE:
        return None
    index = {g.literals[n].index: n for n in names}
    return sorted(index[i] for i in solver.sufficient_assumptions_for_infeasibility())


def _deletion_filter(g: Guarded, core: list[str], options: SolveOptions,
                     budget: _Budget | None = None) -> tuple[list[str], bool]:
    """The core shrunk until dropping any rule admits a plan; False when time ran out
    before every rule was tried (the set still conflicts, but may not be minimal)."""
    kept = list(core)
    complete = True
    for name in list(core):
        trial = [n for n in kept if n != name]
        verdict = _feasible(g, trial, options, budget)
        if verdict is False:
            kept = trial
        elif verdict is None:
            complete = False
    return kept, complete


def find_core(problem: Problem, options: SolveOptions) -> Core:
    """A minimal set of rule groups that admit no plan together, within the deadline of
    ``options`` (see :class:`~planner.solvers.base.Core`)."""
    return core_of(_guarded_model(problem), options)


def core_of(guarded: Guarded, options: SolveOptions) -> Core:
    """A minimal set of the guarded rules that admit no plan together (module docstring);
    in deterministic mode without a deadline, within ``time_limit_s`` deterministic
    seconds in all (:class:`_Budget`)."""
    budget = _Budget.of(options)
    core = _core(guarded, options, budget)
    if not core:
        return Core(None if core is None else ())
    core, minimal = _deletion_filter(guarded, core, options, budget)
    everything = sorted(guarded.literals)
    alone = {name: _feasible(guarded, [n for n in everything if n != name], options, budget)
             for name in core}
    return Core(tuple(core), minimal, alone)


def check_conflict(problem: Problem, rules: list[str], options: SolveOptions) -> ConflictCheck:
    """Re-solve an infeasibility claim: the named rules together admit no plan (every
    other rule free), and dropping any one of them admits one. With no rules named, the
    claim is that no plan exists at all (every rule in force)."""
    return check_guarded(_guarded_model(problem), rules, options)


def check_guarded(guarded: Guarded, rules: list[str], options: SolveOptions) -> ConflictCheck:
    """:func:`check_conflict` on a guarded model."""
    unknown = [r for r in rules if r not in guarded.literals]
    if unknown:
        shown = ", ".join(u[:60] + ("…" if len(u) > 60 else "") for u in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        return ConflictCheck(False, f"{shown}{more}: not a rule of this portfolio")
    enforced = list(rules) if rules else sorted(guarded.literals)
    together = _feasible(guarded, enforced, options)
    if together is None:
        return ConflictCheck(None, "could not decide within the time limit whether the "
                                   "conflicting rules admit a plan (raise --time-limit)")
    if together:
        what = f"with {', '.join(rules)} all in force" if rules else "with every rule in force"
        return ConflictCheck(False, f"a plan exists {what}")
    for name in rules:
        alone = _feasible(guarded, [n for n in rules if n != name], options)
        if alone is None:
            return ConflictCheck(None, f"could not decide within the time limit whether "
                                       f"dropping {name} admits a plan (raise --time-limit)")
        if not alone:
            return ConflictCheck(False, f"not minimal: without {name} the other rules still "
                                        "admit no plan")
    if not rules:
        return ConflictCheck(True, "no plan exists with every rule in force (no conflicting "
                                   "rules are named, so that is all that is confirmed)")
    return ConflictCheck(True, f"{len(rules)} rule(s) admit no plan together ("
                               f"{', '.join(rules)}), and dropping any one of them admits one")


def core_note(found: Core) -> str:
    """What a found core shows, in words: minimal or not, and which of its rules dropped
    alone (every other rule in force) admit a plan."""
    core, alone = list(found.rules or ()), found.alone
    if not found.minimal or any(v is None for v in alone.values()):
        return ("a conflicting set of rules; the time limit ran out before it was shown to be "
                "minimal (raise --time-limit)")
    if all(alone.values()):
        return "dropping any one of these rules makes the portfolio feasible"
    not_enough = [n for n, ok in alone.items() if not ok]
    return ("a minimal conflicting set; dropping one of "
            f"{', '.join(sorted(set(core) - set(not_enough))) or 'them'} alone admits a plan, "
            f"while {', '.join(not_enough)} also takes part in another conflict")
