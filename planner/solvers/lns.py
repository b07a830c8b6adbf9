r"""Strategy backend for large portfolios (``lns``): reduce, split, bound, repair, improve.

1. **Exact reduction** — drop dominated options (:class:`~planner.solvers.reductions.
   Dominance`; plans and bounds map back through it).
2. **Split** into independent components (shared binding resources or side constraints;
   :class:`~planner.solvers.reductions.Split`, exact: plans put side by side, bounds
   summed). Components up to ``small_options`` options are batched and solved exactly by
   CP-SAT (warm-started from greedy), in parallel on the executor (local processes or Ray).
3. **Bound** every large component by the LP (:mod:`planner.solvers.bound`) or, above
   ``lp_max_options``, Lagrangian relaxation of capacity: smoothed dual ascent
   (:mod:`planner.solvers.lp_dual`, one unit per stage) or subgradient ascent, refined by
   subgradient steps from the first plan; the plan's bound is the sum of component bounds
   (CP-SAT's proven bound for batches, the Lagrangian or LP bound for large components).
4. **Lagrangian fix-and-repair** — every stage takes its options in order of reduced cost
   c_o + Σ_r λ_r u_{o,r}; stages with the largest regret (second-best minus best reduced
   cost) go first and each takes the best option that still fits. Side constraints it does
   not model (co-location, spread, budgets, caps) fall back to the greedy start.
5. **Large-neighbourhood search** with CP-SAT (:mod:`planner.solvers.neighbourhoods`):
   pick a few sites (weighted by the multipliers of their resources), free the stages
   placed there and the stages whose reduced cost would improve there, fix every other
   stage at the incumbent (a :class:`~planner.solvers.reductions.Restrict`: only its chosen
   options, ub = chosen units — its plans map back, its bounds do not) and solve the
   *full* model of the lead builder on that restriction — so every side constraint holds
   — with the incumbent as hint. Improvements are kept; the neighbourhood grows when
   CP-SAT proves it optimal fast and shrinks when it times out. Stops at the time limit or
   when the gap to the bound is below ``target_gap``.

Every number that steers the search is a documented field of
:class:`~planner.solvers.tuning.LnsTuning`.

Every start and every answer goes through the shared feasibility check
(:mod:`planner.solvers.feasibility`): a start that breaks any rule is not adopted, and
the final plan is checked again before it is returned (a broken plan or a bound above the
objective raises — a planner bug, never hidden). The reported bound is the best of the
proven lower bounds (component bounds and the trivial bound), so the gap is honest.
Every phase reads the one wall-clock deadline of :class:`~planner.solvers.base.SolveOptions`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from planner.models.problem import IntArray, Problem
from planner.parallel import Executor, make_executor
from planner.solvers.base import Deadline, Solution, SolveOptions, SolveStatus, decline
from planner.solvers.bound import BoundResult, lagrangian_bound, lp_relaxation, safe_floor
from planner.solvers.capabilities import SIDE_CONSTRAINTS, Capabilities
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.cpsat_model import ModelBuilder, configure, validated
from planner.solvers.decompose import binding_resources, opt_stage, option_binds
from planner.solvers.feasibility import finish, violations
from planner.solvers.fill import fill
from planner.solvers.greedy import greedy_assign, greedy_start
from planner.solvers.lp_dual import applies, dual_ascent
from planner.solvers.neighbourhoods import Neighbourhoods, site_weights
from planner.solvers.reductions import Dominance, Reduced, Restrict, Split
from planner.solvers.tuning import LnsTuning

Progress = Callable[[float, int | None, int | None], None]


@dataclass(frozen=True)
class LnsConfig(LnsTuning):
    """The strategy's tuning (:class:`~planner.solvers.tuning.LnsTuning`) and where it runs
    its sub-problems: ``local`` processes, ``serial`` or ``ray`` at ``address``."""

    executor: str = "local"
    address: str | None = None


@dataclass
class _Result:
    """A large component's plan and proven lower bound."""

    x: IntArray
    bound: int


@dataclass
class _Run:
    """The parts of one solve (:class:`~planner.solvers.reductions.Split`) and what is
    known of each: its plan (zeros until solved), a valid lower bound (its trivial bound
    until solved), whether it is solved; running totals for progress reports."""

    split: Reduced
    deadline: float
    options: SolveOptions
    xs: list[IntArray] = field(default_factory=list)
    bounds: list[int] = field(default_factory=list)
    done: list[bool] = field(default_factory=list)
    objective: int = 0
    bound: int = 0

    def __post_init__(self) -> None:
        parts = self.split.parts
        self.xs = [np.zeros(p.problem.n_options, dtype=np.int64) for p in parts]
        self.bounds = [p.problem.trivial_bound() for p in parts]
        self.done = [False] * len(parts)

    def solved(self, k: int, x: IntArray, objective: int, bound: int) -> None:
        self.xs[k], self.bounds[k], self.done[k] = x, bound, True
        self.objective += objective
        self.bound += bound

    def complete(self) -> bool:
        return all(self.done)


def _solve_exact(
    args: tuple[Problem, float, int, int, float],
) -> tuple[IntArray, int | None, int | None]:
    """CP-SAT on one batch of components (runs in a worker process): the lead model
    builder, the greedy hint, stop at the time limit or a proven relative gap. When time
    runs out first, the greedy start if it meets every rule (bound unknown)."""
    problem, limit, seed, workers, gap = args
    builder = ModelBuilder(problem)
    model = builder.build()
    validated(model)
    hint, complete = greedy_assign(problem)
    start = hint if complete and not violations(problem, hint) else None
    if start is not None:
        builder.add_hint(start)
    solver = cp_model.CpSolver()
    configure(solver, SolveOptions(time_limit_s=limit, workers=workers, seed=seed,
                                   deterministic=False, deadline=Deadline.after(limit)))
    solver.parameters.relative_gap_limit = gap
    code = solver.solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if start is not None:
            return start, problem.objective(start), None
        return np.zeros(problem.n_options, dtype=np.int64), None, None
    x = builder.read(solver)
    if start is not None and problem.objective(start) < problem.objective(x):
        x = start
    objective = problem.objective(x)
    proven = code == cp_model.OPTIMAL and solver.best_objective_bound >= objective
    return x, objective, objective if proven else safe_floor(solver.best_objective_bound)


def reduced_cost_fill(p: Problem, rc: np.ndarray,
                      stage_order: list[int] | None = None) -> IntArray | None:
    """Fill every stage with its options in order of reduced cost ``rc`` within capacity,
    stages in ``stage_order`` (default: largest regret first); None when a stage is stuck."""
    st = opt_stage(p)
    order = np.lexsort((rc, st))
    counts = np.diff(p.stage_ptr)
    best = np.full(p.n_stages, np.inf)
    second = np.full(p.n_stages, np.inf)
    nz = counts > 0
    if nz.any():
        best[nz] = rc[order[p.stage_ptr[:-1][nz]]]
        two = counts >= 2
        second[two] = rc[order[p.stage_ptr[:-1][two] + 1]]
    if stage_order is None:
        regret = np.where(np.isfinite(second), second - best, 1e30)
        stage_order = np.lexsort((np.arange(p.n_stages), -regret)).tolist()
    return fill(p, np.zeros(p.n_options, dtype=np.int64), stage_order, rc)


def _start(p: Problem, rc: np.ndarray, scarcity: IntArray) -> IntArray | None:
    """The cheapest complete assignment meeting every constraint among: fill by reduced
    cost in regret order; fill by reduced cost and by plain cost with the scarcest stages
    first (``scarcity``: options before the reduction, fewest first); the greedy pass.
    None when none is complete."""
    found: list[IntArray] = []
    simple = not p.colocations and (p.min_sites is None or (p.min_sites <= 1).all())
    if simple:
        scarce = np.lexsort((np.arange(p.n_stages), scarcity)).tolist()
        for x in (reduced_cost_fill(p, rc), reduced_cost_fill(p, rc, scarce),
                  reduced_cost_fill(p, p.opt_obj.astype(np.float64), scarce)):
            if x is not None and not violations(p, x):
                found.append(x)
    x, ok = greedy_assign(p)
    if ok and not violations(p, x):
        found.append(x)
    return min(found, key=p.objective) if found else None


class LnsBackend:
    """Reduce, split, bound, repair and improve (see the module docstring)."""

    name = "lns"
    capabilities = Capabilities(honours=SIDE_CONSTRAINTS, proves_bound=True)

    def __init__(self, config: LnsConfig | None = None, progress: Progress | None = None,
                 executor: Executor | None = None) -> None:
        self.config = config or LnsConfig()
        self.progress = progress
        self._executor = executor
        self.trace: list[tuple[float, int | None, int | None]] = []

    def _report(self, start: float, objective: int | None, bound: int | None) -> None:
        t = time.perf_counter() - start
        self.trace.append((t, objective, bound))
        if self.progress is not None:
            self.progress(t, objective, bound)

    def solve(self, problem: Problem, options: SolveOptions) -> Solution:
        declined = decline(self.name, self.capabilities, problem)
        if declined is not None:
            return declined
        options = options.started()
        assert options.deadline is not None
        start = time.perf_counter()
        deadline = time.perf_counter() + options.deadline.remaining()
        if (np.diff(problem.stage_ptr) == 0).any():
            return Solution(self.name, SolveStatus.INFEASIBLE,
                            np.zeros(problem.n_options, dtype=np.int64), None, None,
                            time.perf_counter() - start, "a stage has no feasible option")
        dominance = Dominance().apply(problem)
        red = dominance.problem
        split = Split(self.config.small_options).apply(red)
        stats: dict[str, float] = {
            "reduced_options": float(red.n_options), "components": float(split.components),
            "reduce_time_s": time.perf_counter() - start,
        }
        run = _Run(split, deadline, options)
        batches = [k for k, part in enumerate(split.parts) if part.batched]
        big = [k for k, part in enumerate(split.parts) if not part.batched]
        stats["batches"] = float(len(batches))
        if not big:  # a first plan right away; the exact batches then improve on it
            x0, complete = greedy_assign(red)
            if complete and not violations(red, x0):
                self._report(start, red.objective(x0), None)
        if batches:
            share = self.config.exact_share if big else self.config.exact_share_alone
            self._exact(run, batches, share)
        stats["exact_time_s"] = time.perf_counter() - start
        scarcity = np.diff(problem.stage_ptr)  # options per stage before the reduction
        for i, k in enumerate(big):
            until = time.perf_counter() + (deadline - time.perf_counter()) / (len(big) - i)
            part = split.parts[k]
            res = self._lns(part.problem, until, options, start,
                            (run.objective, run.bound), stats, scarcity[part.stages])
            if res is not None:
                run.solved(k, res.x, part.problem.objective(res.x), res.bound)
        x = dominance.invert([split.invert(run.xs)])
        bound = split.map_bound(run.bounds)  # both exact: the bound maps back
        assert bound is not None
        bound = dominance.map_bound([bound])
        elapsed = time.perf_counter() - start
        if not run.complete():
            return finish(problem, Solution(self.name, SolveStatus.UNKNOWN, np.zeros_like(x),
                                            None, bound, elapsed,
                                            "no complete plan found in time", stats))
        objective = problem.objective(x)
        sol = finish(problem, Solution(self.name, SolveStatus.FEASIBLE, x, objective,
                                       bound, elapsed, "", stats))
        assert sol.bound is not None
        self._report(start, objective, sol.bound)
        gap = (objective - sol.bound) / objective if objective else 0.0
        sol.detail = f"lns: {split.components} components, gap {gap:.4%}"
        stuck = int(stats.get("start_repaired_stages", 0))
        if stuck:
            sol.detail += (f"; start repaired by greedy ({stuck} stage{'s' * (stuck != 1)} "
                           "did not fit its first pass)")
        return sol

    def _exact(self, run: _Run, batches: list[int], share: float) -> None:
        """The batches of small components, solved exactly in parallel on the executor."""
        cfg = self.config
        limit = max(cfg.min_batch_s, share * (run.deadline - time.perf_counter()))
        subs = [run.split.parts[k].problem for k in batches]
        executor = self._executor or make_executor(
            cfg.executor, address=cfg.address, workers=run.options.workers)
        try:
            per = 1 if len(subs) > 1 else run.options.workers
            jobs = [(sp, limit, run.options.seed, per, cfg.target_gap / 2) for sp in subs]
            results = executor.map(_solve_exact, jobs)
        finally:
            if self._executor is None:
                executor.close()
        for k, sp, (xs, obj, bnd) in zip(batches, subs, results, strict=True):
            if obj is None:
                continue
            lag = lagrangian_bound(sp, upper=obj, iterations=cfg.batch_lag_iterations,
                                   time_limit_s=min(cfg.batch_lag_s, max(
                                       0.0, run.deadline - time.perf_counter())))
            run.solved(k, xs, obj, max(b for b in (bnd, lag.bound, sp.trivial_bound())
                                       if b is not None))

    def _lns(self, p: Problem, until: float, options: SolveOptions, start: float,
             other: tuple[int, int], stats: dict[str, float],
             scarcity: IntArray) -> _Result | None:
        """LP/Lagrangian bound, fix-and-repair start, then LNS on one large component.
        ``other`` is (objective, bound) of the components already solved (for progress)."""
        other_obj, other_bound = other
        cfg = self.config
        t0 = time.perf_counter()
        lag: BoundResult | None = None
        if p.n_options <= cfg.lp_max_options:
            lag = lp_relaxation(p, time_limit_s=max(cfg.min_lp_s, cfg.lp_share * (until - t0)))
        if lag is None and applies(p):  # the LP's value by dual ascent (lp_dual)
            left = max(0.0, cfg.lag_share * (until - time.perf_counter()))
            dual = dual_ascent(p, Deadline.after(left))
            lag = BoundResult(dual.bound, "lagrangian", dual.evaluations, dual.seconds,
                              dual.lam, dual.reduced)
        if lag is None:
            lag = lagrangian_bound(p, iterations=cfg.lag_iterations // 2, time_limit_s=max(
                0.0, cfg.lag_share * (until - time.perf_counter())))
        if lag.bound is None:
            return None
        stats["bound_method_lp"] = float(lag.method == "lp")
        x = _start(p, lag.reduced, scarcity)
        if x is None:  # the greedy start, repaired (planner.solvers.greedy.greedy_start)
            left = max(0.0, until - time.perf_counter())
            fixed = greedy_start(p, SolveOptions(
                time_limit_s=left, workers=options.workers, seed=options.seed,
                deterministic=False, deadline=Deadline.after(left)))
            x = fixed.x if fixed.ok else None
            stats["start_repaired_stages"] = stats.get("start_repaired_stages", 0.0) + fixed.stuck
        if x is None:
            left = max(0.0, until - time.perf_counter())
            sol = CpSatBackend().solve(p, SolveOptions(
                time_limit_s=left, workers=options.workers, seed=options.seed,
                deterministic=False, deadline=Deadline.after(left)))
            if sol.objective is None:
                return None
            return _Result(sol.x, max(lag.bound, sol.bound or 0))
        obj = p.objective(x)
        stats["first_feasible_s"] = time.perf_counter() - start
        self._report(start, obj + other_obj, None)
        iters = cfg.lag_iterations if lag.method == "lagrangian" else cfg.lag2_iterations_after_lp
        lag2 = lagrangian_bound(p, upper=obj, lam0=lag.lam, iterations=iters, time_limit_s=max(
            0.0, cfg.lag2_share * (until - time.perf_counter())))
        bound = max(lag.bound, lag2.bound or 0)
        rc = lag2.reduced if (lag2.bound or 0) >= lag.bound else lag.reduced
        lam = lag2.lam if (lag2.bound or 0) >= lag.bound else lag.lam
        stats["bound_time_s"] = time.perf_counter() - start
        self._report(start, obj + other_obj, bound + other_bound)
        binds = option_binds(p, binding_resources(p))
        weight = site_weights(p, lam, cfg.site_weight_floor)
        hood = Neighbourhoods(p, weight, cfg, np.random.default_rng(options.seed))
        it = 0
        target = max(cfg.target_gap, options.target_gap or 0.0)
        while time.perf_counter() < until - cfg.stop_margin_s and \
                (obj - bound) > target * obj:
            it += 1
            idx, ub = hood.pick(x, rc, binds)
            hood_p = Restrict(idx, ub).apply(p)
            sub = hood_p.problem
            limit = min(cfg.sub_time_s, until - time.perf_counter())
            if limit < cfg.min_sub_s:
                break
            t = time.perf_counter()
            sol = CpSatBackend().solve(sub, SolveOptions(
                time_limit_s=limit, workers=options.workers, seed=options.seed + it,
                deterministic=False, hint=x[idx], deadline=Deadline.after(limit)))
            hood.adapt(sol.status is SolveStatus.OPTIMAL, time.perf_counter() - t, limit)
            if sol.objective is not None and sol.objective < obj:
                x_new = hood_p.invert([sol.x])  # fixed stages are in it at the incumbent
                new_obj = p.objective(x_new)
                if new_obj < obj:
                    x, obj = x_new, new_obj
                    self._report(start, obj + other_obj, bound + other_bound)
        stats["lns_iterations"] = float(it)
        return _Result(x, bound)
