"""The Python API: load a portfolio and catalogs, plan, verify.

import planner
portfolio = planner.load_portfolio("examples/hospital-group.yaml")
catalogs = planner.load_catalogs()   # $PLANNER_CATALOGS, user cache or bundled
plan = planner.plan(portfolio, catalogs)
print(plan.totals.total_usd, plan.model_dump_json(indent=2))
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from planner.catalog.load import LoadedCatalog, load_catalog_dir
from planner.catalog.paths import resolve_catalog_dir
from planner.catalog.where import API_FUNCTION, CLI_FLAG
from planner.compile.arrays import build_problem
from planner.compile.candidates import Candidates, generate
from planner.compile.resolve import build_world
from planner.compile.timing import build_timing
from planner.errors import API_SPELLING, InputError, Spelling, VerificationError, a_kind
from planner.explain.conflicts import diagnose, recheck_timed_conflicts
from planner.explain.dropped_fit import check_dropped_fit
from planner.inputs.checked import (
    check_now,
    checked_plan,
    checked_portfolio,
)
from planner.inputs.files import load_document_as
from planner.inputs.files import load_portfolio as _load_portfolio
from planner.models.plan import Conflict, Dropped, Plan
from planner.models.portfolio import Portfolio
from planner.models.problem import Problem
from planner.models.status import SolveStatus
from planner.models.timing import Timing
from planner.models.world import Purchase, World
from planner.plans.build import build_plan
from planner.plans.partial import (
    DropContext,
    explain_dropped,
    funding_problem,
    needs_funding,
    valued,
)
from planner.plans.timeline import with_timeline
from planner.providers.registry import cloud_providers
from planner.solvers import AUTO, BACKENDS, choose_backend, get_backend, tuning
from planner.solvers.arguments import (  # noqa: F401 (the API's argument checks)
    check_arguments,
    check_plan_call,
    check_seed,
    check_time_limit,
    check_workers,
)
from planner.solvers.base import Deadline, Solution, SolveOptions, default_workers
from planner.solvers.capabilities import Feature, refusal
from planner.solvers.magnitude import check_magnitudes
from planner.solvers.schedule_cpsat import Scheduled
from planner.solvers.schedule_plan import place_and_schedule
from planner.solvers.tuning import EXPLAIN_MAX_STAGES
from planner.verify.check import Violation, foreign_plan, verify


def plan_building_s(problem: Problem, explain: bool) -> float:
    """Seconds kept after the solve for building and verifying the plan: about twice
    what it took on the 2-core test machine; more for partial plans (funding), which
    explain their dropped workloads too (the settings are in :mod:`planner.solvers.tuning`)."""
    per_stage = tuning.BUILD_PER_STAGE_EXPLAINED_S if explain else tuning.BUILD_PER_STAGE_S
    base = (tuning.BUILD_BASE_S + per_stage * problem.n_stages
            + tuning.BUILD_PER_OPTION_S * problem.n_options)
    return base * tuning.BUILD_FUNDING_FACTOR if problem.funding else base


def _mode(solver: str, options: SolveOptions) -> str:
    """How the time limit was read, for the plan: a backend without the deterministic
    capability (``lns``) always runs on the wall clock."""
    if options.deterministic and not BACKENDS[solver].capabilities.deterministic:
        return f"wall-clock time limit ({solver} has no deterministic mode)"
    return options.mode


def _capable(problem: Problem) -> list[str]:
    """The backends that honour every feature ``problem`` uses."""
    return [n for n, b in BACKENDS.items() if not b.capabilities.missing(problem)]


def _pick(solver: str, problem: Problem, spelling: Spelling = API_SPELLING) -> str:
    """The backend for ``solver`` (``auto`` by size); a backend that lacks a capability the
    problem needs (``lns`` cannot leave workloads out) is refused, the hint spelt as the
    caller writes its arguments (``spelling``)."""
    name = choose_backend(solver, problem.n_options, problem.funding)
    missing = BACKENDS[name].capabilities.missing(problem)
    if missing:
        tail = f", or {spelling('all_or_nothing')}" if Feature.FUNDING in missing else ""
        choice = spelling("solver", spelling.choices(_capable(problem)))
        raise InputError(refusal(name, missing), hint=f"use {choice}{tail}")
    return name


def _no_whole_plan(solver: str, solution: Solution, options: SolveOptions) -> bool:
    """No plan places every workload: proven (infeasible), or a heuristic (greedy, lns)
    found none with time left, so a partial plan is worth a try."""
    if solution.status is SolveStatus.INFEASIBLE:
        return True
    return (solution.status is SolveStatus.UNKNOWN
            and not BACKENDS[solver].capabilities.proves_optimality
            and options.remaining_s() > 0)


def _exact_verdict(problem: Problem, timing: Timing, solver: str, scheduled: Scheduled,
                   options: SolveOptions, say: Callable[[str], None]
                   ) -> tuple[Scheduled, Solution]:
    """A heuristic found no plan for every workload (``--all-or-nothing``): the exact model
    decides in the time left, up to the size ``auto`` solves exactly, so that an
    infeasible portfolio gets its verdict and diagnosis (exit 3) whichever solver was
    asked, not "no plan in time" (exit 7) from ``lns`` and ``lp`` only."""
    say(f"{solver} found no plan: CP-SAT decides whether one exists")
    exact = place_and_schedule(problem, timing, get_backend("cpsat"), options)
    if exact.solution.status is SolveStatus.UNKNOWN:
        return scheduled, scheduled.solution
    found = exact.solution
    found.detail = "; ".join(d for d in (found.detail, (
        f"{solver} found no plan; CP-SAT proved that none exists"
        if found.status is SolveStatus.INFEASIBLE else
        f"{solver} found no plan; CP-SAT found this one")) if d)
    return exact, found


def _fundable(portfolio: Portfolio, cands: Candidates, problem: Problem) -> Problem | str:
    """The funding problem for a partial plan after no whole plan was found, or why there
    is none: its weights can exceed 64-bit integers on very large portfolios, and then the
    answer stays "no plan" (exit 7) rather than an input error for input that is fine."""
    try:
        return funding_problem(portfolio, cands, problem)
    except InputError as exc:
        return f"no partial plan tried either: {exc.message}"


def _nothing_fits(portfolio: Portfolio, problem: Problem, solution: Solution) -> Solution:
    """A funding solution that places no workload at all, when every workload is required
    (no values): the portfolio is infeasible as a whole if that is proven (optimal), else
    no plan was found (the infeasibility diagnosis and exit codes as without funding)."""
    if not problem.funding or valued(portfolio) or solution.objective is None or \
            any(problem.funded(solution.x)) or not portfolio.workloads:
        return solution
    status = SolveStatus.INFEASIBLE if solution.status is SolveStatus.OPTIMAL \
        else SolveStatus.UNKNOWN
    return dataclasses.replace(solution, status=status, x=np.zeros_like(solution.x),
                               objective=None, bound=None)


def load_portfolio(path: str | Path) -> Portfolio:
    """Load and validate a portfolio file (YAML or JSON)."""
    return _load_portfolio(path)


def default_catalog_dir() -> Path:
    """The catalog directory used when none is named: ``$PLANNER_CATALOGS``, else the user
    cache when it holds catalogs, else the bundled snapshot (see :mod:`planner.catalog.paths`)."""
    return resolve_catalog_dir().path


def load_catalogs(directory: str | Path | None = None) -> list[LoadedCatalog]:
    """Load the provider catalog snapshots (``aws.json``, ``azure.json``) from
    ``directory``, or from the default lookup (:func:`default_catalog_dir`) — works from
    any working directory. A folder that is not there, a file, or a folder without any
    catalog file is a :class:`~planner.errors.CatalogError` (as ``--catalogs`` is)."""
    wrong = None if directory is None or (isinstance(directory, str | os.PathLike) and
                                          directory != "") else a_kind(directory)
    if wrong:  # "" was the default lookup, as if no directory had been given
        raise InputError(f"expected the path of a catalog directory, got "
                         f"{'an empty path' if directory == '' else wrong}", path="directory",
                         hint="give the folder with aws.json / azure.json, or leave it out "
                              "(None) for the default lookup")
    return read_catalogs(directory, API_FUNCTION)


def read_catalogs(directory: str | Path | None, given_as: str = CLI_FLAG
                  ) -> list[LoadedCatalog]:
    """:func:`load_catalogs` for a folder given as ``given_as`` (``--catalogs`` by the
    command line): errors about the folder say how to name another one there."""
    location = resolve_catalog_dir(directory, given_as=given_as)
    return load_catalog_dir(location.path, tuple(cloud_providers()), location.source)


def load_plan(path: str | Path) -> Plan:
    """Read a plan JSON file written by ``planner plan``."""
    return load_document_as(Plan, path, "plan")


def checked_catalogs(catalogs: object) -> list[LoadedCatalog]:
    """``catalogs`` as :func:`load_catalogs` returns them (one per provider), else an
    :class:`InputError` (a directory name there was an ``AttributeError`` from inside the
    compiler, and of two catalogs of one provider the last was used silently)."""
    if isinstance(catalogs, list | tuple) and \
            all(isinstance(c, LoadedCatalog) for c in catalogs):
        seen: dict[str, int] = {}
        for i, c in enumerate(catalogs):  # the last of two was used, the first ignored
            first = seen.setdefault(c.catalog.provider, i)
            if first != i:
                raise InputError(f"catalogs[{first}] and catalogs[{i}] are both the "
                                 f"{c.catalog.provider!r} catalog", path="catalogs",
                                 hint="pass one catalog per provider, as "
                                      "planner.load_catalogs(directory) returns them")
        return list(catalogs)
    raise InputError(f"expected the list planner.load_catalogs returns, got "
                     f"{a_kind(catalogs)}", path="catalogs",
                     hint="pass planner.load_catalogs(directory), or leave it out for the "
                          "default lookup")


def _check_world(portfolio: object, world: object, previous: object) -> None:
    """What :func:`plan_world` is given is of the right kind (it does not validate the
    portfolio again, as :func:`plan` does: the command line read it from a file)."""
    if not isinstance(portfolio, Portfolio):
        checked_portfolio(portfolio)
    if not isinstance(world, World):
        raise InputError(f"expected a planner.models.world.World, got {a_kind(world)}",
                         path="world", hint="build one with planner.compile.resolve."
                                            "build_world(portfolio, catalogs), or call "
                                            "planner.plan(portfolio, catalogs)")
    if previous is not None and not isinstance(previous, Plan):
        checked_plan(previous, "previous")


def commitments_left(previous: Plan, plan_: Plan) -> list[str]:
    """A warning for each 1- or 3-year commitment of the previous plan that ``plan_`` does
    not keep (same stage, site, offer and purchase): the planner prices a commitment per
    hour of the period, but its term outlives the period, so what it costs is still owed
    (a re-plan that dropped every commitment said nothing)."""
    kept: dict[tuple[str, str, str, str, Purchase], int] = {}
    for p in plan_.placements:
        key = (p.workload, p.stage, p.site, p.offer, p.purchase)
        kept[key] = kept.get(key, 0) + p.instances
    out = []
    for p in previous.placements:
        now = kept.get((p.workload, p.stage, p.site, p.offer, p.purchase), 0)
        if p.purchase.is_commitment and now < p.instances:
            which = "is not kept" if now == 0 else \
                f"keeps {now} of its {p.instances} instances"
            out.append(f"{p.workload}/{p.stage}: the previous plan's {p.purchase.value} on "
                       f"{p.site}/{p.offer} {which}; its term outlives the period, so what "
                       "it costs is still owed")
    return out


def _previous_of(portfolio: Portfolio, previous: Plan | None,
                 spelling: Spelling = API_SPELLING) -> dict[str, list[tuple[str, str]]] | None:
    """:func:`previous_placements` of a plan of this portfolio (a plan of another one was
    taken silently: its stages matched none, so nothing counted as kept or moved)."""
    if previous is None:
        return None
    if previous.portfolio != portfolio.name:
        raise InputError(f"the previous plan is of portfolio {previous.portfolio!r}, not "
                         f"{portfolio.name!r}", path=spelling("previous"),
                         hint="give a plan made from this portfolio")
    return previous_placements(previous)


def previous_placements(previous: Plan) -> dict[str, list[tuple[str, str]]]:
    """Stage key (``workload/stage``) → the (site, offer) pairs it used in a plan."""
    out: dict[str, list[tuple[str, str]]] = {}
    for p in previous.placements:
        out.setdefault(f"{p.workload}/{p.stage}", []).append((p.site, p.offer))
    return out


def plan(portfolio: Portfolio, catalogs: list[LoadedCatalog] | None = None, *,
         solver: str = "auto", time_limit_s: float = 30.0, workers: int | None = None,
         seed: int = 0, deterministic: bool = False, reproducible: bool = False,
         now: datetime | None = None, previous: Plan | None = None,
         explain: bool | None = None, progress: Callable[[str], None] | None = None,
         executor: str = "local", address: str | None = None,
         deadline: Deadline | None = None, all_or_nothing: bool = False) -> Plan:
    """Plan the portfolio at least cost and verify the result independently.

    ``time_limit_s`` is wall-clock seconds for the whole call (world, candidates, solve,
    diagnosis, plan building): one :class:`~planner.solvers.base.Deadline` (``deadline``,
    by default ``time_limit_s`` from now) is passed through every phase. When time runs
    out with a plan that meets every rule (the greedy or repair start, or CP-SAT's
    incumbent), that plan is returned with its gap; ``status == "unknown"`` only when no
    plan was found at all. ``deterministic=True`` gives the same plan on every run (the
    solver counts deterministic time, so the time limit is approximate); ``reproducible``
    implies it. ``workers`` defaults to the cores this process may use.

    ``executor`` / ``address``: where the ``lns`` strategy runs its sub-problems (local
    processes, or a Ray cluster at ``address``).

    ``previous`` turns on re-planning: moving a stage away from its placement in that plan
    costs the data it takes along (at the old site's egress price) plus
    ``settings.move_fixed_usd``, and ``settings.max_moves`` caps how many stages move.
    ``explain`` prices the options pruned by rules, for "why not the cheaper one" and the
    infeasibility diagnosis; ``None`` (the default) turns it on up to
    ``EXPLAIN_MAX_STAGES`` stages and off above, where the array-based large-portfolio
    path is used (plans still carry why-here and runner-ups, not ``cheaper_rejected``).

    Raises :class:`~planner.errors.InputError` for arguments no solver can use
    (:func:`check_arguments`: a time limit that is not finite and above 0, fewer than 1
    worker, a seed outside 0..2³¹−1; ``now`` without a time zone; an unknown solver or
    executor, a progress callback that cannot be called, a switch that is not
    ``True``/``False``: :func:`check_plan_call`), for a portfolio that
    fails validation (it is validated again in full, :func:`checked_portfolio`: a model
    changed with ``model_copy`` is not validated by pydantic) or anything but a
    :class:`Portfolio`, :class:`Plan` (``previous``) or catalog list (one per provider)
    where one belongs,
    for names the catalogs do not know, and
    :class:`~planner.errors.VerificationError` if the plan breaks a rule (a bug).
    Partial plans (unless ``all_or_nothing``): workloads that cannot be placed are left
    out and the rest is planned, ``status == "partial"``, each left-out workload in
    ``plan.dropped`` with why. A workload with a stage without any option is left out
    first; when the rest admits no plan, or workloads carry ``value_usd``/``priority``,
    the solver chooses which workloads to place (all-or-nothing each): the most required
    ones (no value) of the highest priority, then the largest value − cost
    (:mod:`planner.solvers.funding`). With ``all_or_nothing`` an infeasible portfolio
    gives a plan with ``status == "infeasible"``, the stages without any option, and a
    minimal set of conflicting rules.
    """
    check_arguments(time_limit_s, workers, seed)
    check_plan_call(solver, executor, address, progress, deadline, explain,
                    deterministic=deterministic, reproducible=reproducible,
                    all_or_nothing=all_or_nothing)
    deadline = deadline or Deadline.after(time_limit_s)
    check_now(now)
    portfolio = checked_portfolio(portfolio)
    previous = None if previous is None else checked_plan(previous, "previous")
    catalogs = load_catalogs() if catalogs is None else checked_catalogs(catalogs)
    world = build_world(portfolio, catalogs, now=now)
    return plan_world(portfolio, world, solver=solver, time_limit_s=time_limit_s,
                      workers=workers, seed=seed, deterministic=deterministic,
                      reproducible=reproducible, previous=previous, explain=explain,
                      progress=progress, executor=executor, address=address,
                      deadline=deadline, all_or_nothing=all_or_nothing)


def plan_world(portfolio: Portfolio, world: World, *, solver: str = "auto",
               time_limit_s: float = 30.0, workers: int | None = None, seed: int = 0,
               deterministic: bool = False, reproducible: bool = False,
               previous: Plan | None = None, explain: bool | None = None,
               progress: Callable[[str], None] | None = None, executor: str = "local",
               address: str | None = None, deadline: Deadline | None = None,
               all_or_nothing: bool = False, spelling: Spelling = API_SPELLING) -> Plan:
    """:func:`plan` on an already resolved world (what-if scenarios change the world);
    ``deadline`` defaults to ``time_limit_s`` from now. ``spelling``: how errors name the
    arguments (the command line passes its flags, :data:`~planner.errors.CLI_SPELLING`)."""
    check_arguments(time_limit_s, workers, seed)
    check_plan_call(solver, executor, address, progress, deadline, explain,
                    deterministic=deterministic, reproducible=reproducible,
                    all_or_nothing=all_or_nothing)
    _check_world(portfolio, world, previous)
    deadline = deadline or Deadline.after(time_limit_s)
    say = progress or (lambda _msg: None)
    prev = _previous_of(portfolio, previous, spelling)
    if explain is None:
        explain = sum(len(w.stages) for w in portfolio.workloads) <= EXPLAIN_MAX_STAGES
    cands = generate(portfolio, world, previous=prev, keep_pruned_options=explain)
    problem = build_problem(cands, world)
    check_magnitudes(problem)
    timing = build_timing(portfolio, cands, problem, world.gpu_quotas)
    funding = not all_or_nothing and needs_funding(portfolio, cands)
    if funding:
        problem = funding_problem(portfolio, cands, problem)
    solver = _pick(solver, problem, spelling)
    building = plan_building_s(problem, explain)
    options = SolveOptions(time_limit_s=time_limit_s, workers=workers or default_workers(),
                           seed=seed, deterministic=deterministic or reproducible,
                           deadline=deadline.earlier(building))
    say(f"{problem.n_stages} stages, {problem.n_options} options, "
        f"{len(problem.res_names)} limited resources; solving with {solver} "
        f"({options.remaining_s():.1f}s left, {_mode(solver, options)})")
    backend = get_backend(solver, executor=executor, address=address)
    scheduled = place_and_schedule(problem, timing, backend, options, progress=say)
    solution = scheduled.solution
    partial = _fundable(portfolio, cands, problem) if not all_or_nothing and not funding \
        and _no_whole_plan(solver, solution, options) else None
    if isinstance(partial, str):
        solution.detail = "; ".join(d for d in (solution.detail, partial) if d)
    elif partial is not None:
        say("no plan for every workload: choosing the workloads that fit together")
        problem = partial
        can = not BACKENDS[solver].capabilities.missing(problem)
        fallback = AUTO if problem.n_options <= tuning.AUTO_EXACT_OPTIONS else "greedy"
        asked, solver = solver, _pick(solver if can else fallback, problem, spelling)
        backend = get_backend(solver)
        scheduled = place_and_schedule(problem, timing, backend, options)
        solution = scheduled.solution
        if solver != asked:
            solution.detail = "; ".join(d for d in (
                solution.detail, f"{asked} found no plan for every workload; {solver} chose "
                f"the workloads that fit ({asked} cannot make partial plans)") if d)
    elif all_or_nothing and _no_whole_plan(solver, solution, options) and \
            solution.status is SolveStatus.UNKNOWN and \
            problem.n_options <= tuning.AUTO_EXACT_OPTIONS:
        scheduled, solution = _exact_verdict(problem, timing, solver, scheduled, options, say)
    solution = _nothing_fits(portfolio, problem, solution)
    solution.detail = "; ".join(d for d in (solution.detail, _mode(solver, options)) if d)
    conflicts: list[Conflict] = []
    dropped: list[Dropped] = []
    note = None
    if solution.status is SolveStatus.INFEASIBLE:
        say("infeasible: looking for the rules that conflict")
        full = cands if explain else generate(portfolio, world, previous=prev)
        conflicts, note = diagnose(portfolio, world, full, options)
    elif problem.funding and solution.objective is not None and \
            not all(problem.funded(solution.x)):
        say("partial plan: explaining the workloads left out")
        dropped = explain_dropped(DropContext(portfolio, world, cands, problem, backend,
                                              options, prev, say, timing), solution)
    result = build_plan(portfolio, world, cands, problem, solution,
                        options.until(deadline.earlier(building / 2)),
                        reproducible=reproducible, conflicts=conflicts, diagnosis=note,
                        dropped=dropped, timing=timing, start=scheduled.start)
    if result.feasible:
        starts = {problem.stage_keys[s]: int(scheduled.start[s])
                  for s in range(problem.n_stages)}
        result = with_timeline(result, portfolio, world, cands, starts)
    if previous is not None:
        left = commitments_left(previous, result)
        if left:
            result = result.model_copy(update={"warnings": [*result.warnings, *left]})
    violations = verify(portfolio, world, result, previous=prev)
    if violations:
        raise VerificationError(f"the {solver} plan breaks {len(violations)} rule(s): "
                                + "; ".join(map(str, violations[:5])),
                                hint="this is a planner bug; please report it with the input")
    return result


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_report` found.

    ``violations``: the rules the plan breaks (empty: it holds). ``foreign``: the plan was
    made from another portfolio or other catalogs (then ``violations`` holds that one
    ``inputs`` entry). ``confirmed``: an infeasible plan's claim was re-solved and holds.
    ``undecided``: nothing to confirm (an ``unknown`` plan) or the re-check ran out of time.
    """

    violations: list[Violation]
    foreign: str | None = None
    confirmed: str | None = None
    undecided: str | None = None


def verify_report(portfolio: Portfolio, plan_: Plan,
                  catalogs: list[LoadedCatalog] | None = None, previous: Plan | None = None,
                  *, time_limit_s: float = 30.0, workers: int | None = None,
                  spelling: Spelling = API_SPELLING) -> Verification:
    """Check a plan against the portfolio and catalogs (and the previous plan it was
    re-planned from, if any). An infeasible plan's claim — its conflicting rules admit no
    plan together, and dropping any one admits one — is re-solved (CP-SAT, at most
    ``time_limit_s`` per solve); a claim that does not hold is a ``conflicts`` violation.
    The portfolio and the plans are validated again first (:func:`checked_portfolio`,
    :func:`checked_plan`): a value their models refuse is an :class:`InputError`.
    ``spelling``: how messages name the arguments (see :func:`plan_world`)."""
    check_time_limit(time_limit_s)
    check_workers(workers)
    portfolio = checked_portfolio(portfolio)
    plan_ = checked_plan(plan_)
    previous = None if previous is None else checked_plan(previous, "previous")
    catalogs = load_catalogs() if catalogs is None else checked_catalogs(catalogs)
    world = build_world(portfolio, catalogs)
    foreign = foreign_plan(portfolio, world, plan_, spelling)
    if foreign:
        return Verification([Violation("inputs", "inputs", foreign)], foreign=foreign)
    prev = _previous_of(portfolio, previous, spelling)
    violations = verify(portfolio, world, plan_, previous=prev)
    options = SolveOptions(time_limit_s=time_limit_s, workers=workers or default_workers(),
                           seed=plan_.solver.seed)
    if not violations and plan_.status is SolveStatus.PARTIAL:
        return _partial_claims(portfolio, world, plan_, prev, options)
    if violations or plan_.status is not SolveStatus.INFEASIBLE:
        unknown = plan_.status is SolveStatus.UNKNOWN and not violations
        return Verification(violations, undecided=(
            "the plan has status unknown: the solver found no plan within its time limit, "
            "and claims nothing to verify" if unknown else None))
    check = recheck_timed_conflicts(portfolio, world, generate(portfolio, world, previous=prev),
                                    [c.rule for c in plan_.conflicts], options)
    if check.holds is None:
        return Verification([], undecided=check.message)
    if not check.holds:
        return Verification([Violation("conflicts", "conflicts",
                                       f"infeasibility claim refuted: {check.message}")])
    return Verification([], confirmed=check.message)


def _partial_claims(portfolio: Portfolio, world: World, plan_: Plan,
                    prev: dict[str, list[tuple[str, str]]] | None,
                    options: SolveOptions) -> Verification:
    """A partial plan whose rules hold: its dropped workloads without a value are
    re-solved with the placed ones (:mod:`planner.explain.dropped_fit`)."""
    check = check_dropped_fit(portfolio, world, plan_, prev, options)
    if check.fits and plan_.solver.status is SolveStatus.OPTIMAL:
        return Verification([Violation(
            "dropped", f"dropped[{i}] ({w})", "it has no value_usd, so it is required "
            "whenever it fits, and it fits: a plan with it and every placed workload was "
            "found, so the plan is not optimal as it claims (re-plan the portfolio)")
            for i, w in check.fits])
    if check.fits:  # a plan not proven optimal may miss one: a note, not a broken rule
        names = ", ".join(w for _, w in check.fits)
        return Verification([], undecided=(
            f"{names} (no value_usd) fits with the placed workloads: the plan (solver "
            f"status {plan_.solver.status.value}) is not the best; re-plan with more time"))
    return Verification(
        [], confirmed=(f"{', '.join(check.confirmed)} (no value_usd) cannot be placed with "
                       "the placed workloads" if check.confirmed else None),
        undecided=(f"whether {', '.join(check.undecided)} (no value_usd) fits with the "
                   "placed workloads was not decided in the time limit"
                   if check.undecided else None))


def verify_plan(portfolio: Portfolio, plan_: Plan, catalogs: list[LoadedCatalog] | None = None,
                previous: Plan | None = None) -> list[Violation]:
    """Check a plan against the portfolio and catalogs (and the previous plan it was
    re-planned from, if any); the list of broken rules (see :func:`verify_report`)."""
    return verify_report(portfolio, plan_, catalogs, previous).violations
