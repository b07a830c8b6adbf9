"""Benchmark runner: every solver in its own child process, the same portfolio, one table.

``python -m benchmarks run --family realistic,hard --size s,m --solvers greedy,cpsat,lns,auto``

``--solvers`` takes any backend registered in :data:`planner.solvers.BACKENDS` and
``auto`` (the planner's own choice by problem size; the record names the backend it
chose). For each (family, size, solver) a child process (``python -m benchmarks one …``)
generates the portfolio (seeded, so identical in every child), resolves the world,
generates candidates, builds the problem arrays, solves, builds the plan and runs the
independent verifier. It prints one JSON record: phase times, time to the first feasible
plan, objective, cost, the solver's own bound, a cost-vs-time trace, the solver's detail
and stats, and whether the verifier accepted the plan. The parent adds the child's
end-to-end wall time and peak RSS (from ``wait4``), computes every solver's gap against
the best bound any solver of the run proved (:mod:`benchmarks.table`), and writes
``benchmarks/results/<stem>.json``, ``.csv``, ``.md`` and ``.png`` per family and size.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.table import RESULTS, finish, table, write


def _peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)  # Linux reports KiB


def run_one(size: str, solver: str, time_limit: float, seed: int, executor: str,
            address: str | None, workers: int, progress: bool,
            family: str = "realistic", solver_seed: int | None = None) -> dict[str, Any]:
    """Generate (portfolio ``seed``), solve (``solver_seed``, default ``seed``) and verify
    in this process; the record for one solver."""
    from benchmarks.generate import generate_portfolio
    from benchmarks.solve import solve_traced
    from benchmarks.timed_run import TIMED_SOLVERS, run_timed_one
    from planner import api
    from planner.compile.arrays import build_problem
    from planner.compile.candidates import generate
    from planner.compile.resolve import build_world
    from planner.plans.build import build_plan
    from planner.solvers.base import SolveOptions
    from planner.verify.check import verify

    solver_seed = seed if solver_seed is None else solver_seed
    if solver in TIMED_SOLVERS:
        return run_timed_one(size, solver, time_limit, seed, workers, executor, address,
                             family, solver_seed)
    wall = time.perf_counter()
    rec: dict[str, Any] = {"size": size, "solver": solver, "seed": seed, "family": family,
                           "solver_seed": solver_seed, "time_limit_s": time_limit,
                           "rss_mib": {}}

    def phase(name: str, key: str, since: float) -> None:
        """Record a phase's time and the peak RSS so far; say it on stderr with progress."""
        rec[key] = round(time.perf_counter() - since, 3)
        rec["rss_mib"][name] = _peak_rss_mib()
        if progress:
            print(f"{name}: {rec[key]:.1f} s, peak RSS {rec['rss_mib'][name]:.0f} MiB",
                  file=sys.stderr, flush=True)

    t = time.perf_counter()
    portfolio = generate_portfolio(size, seed, family=family)
    phase("portfolio", "gen_s", t)
    catalogs = api.load_catalogs(Path(__file__).resolve().parent.parent / "catalogs")
    t = time.perf_counter()
    world = build_world(portfolio, catalogs)
    # Large-portfolio mode (as ``api.plan(explain=False)``): pruned options are not priced.
    cands = generate(portfolio, world, keep_pruned_options=False)
    phase(f"candidates ({len(cands.options)} options)", "candidates_s", t)
    t = time.perf_counter()
    problem = build_problem(cands, world)
    phase("problem arrays", "problem_s", t)
    rec.update(stages=problem.n_stages, sites=len(world.sites), options=problem.n_options)
    options = SolveOptions(time_limit_s=time_limit, workers=workers, seed=solver_seed,
                           deterministic=False)
    solution, trace = solve_traced(solver, problem, options, executor=executor,
                                   address=address, progress=progress)
    rec["backend"] = solution.backend
    rec["detail"] = solution.detail
    rec["stats"] = {k: float(v) for k, v in solution.stats.items()}
    rec["solve_s"] = round(solution.solve_time_s, 3)
    rec["model_build_s"] = round(solution.stats.get("build_time_s", 0.0), 3)
    rec["reduced_options"] = int(solution.stats.get("reduced_options", problem.n_options))
    first = next((tt for tt, obj, _b in trace if obj is not None), None)
    rec["first_feasible_s"] = round(first, 3) if first is not None else None
    rec["trace"] = [[round(tt, 3), obj, b] for tt, obj, b in trace]
    rec["status"] = solution.status.value
    rec["objective_micro"] = solution.objective
    rec["own_bound_micro"] = solution.bound
    t = time.perf_counter()
    rec["rss_mib"]["solve"] = _peak_rss_mib()
    plan = build_plan(portfolio, world, cands, problem, solution, options)
    phase("plan", "plan_s", t)
    t = time.perf_counter()
    violations = verify(portfolio, world, plan, allow_untimed=True) if plan.feasible else []
    phase("verify", "verify_s", t)
    rec["verified"] = bool(plan.feasible and not violations)
    rec["violations"] = len(violations)
    rec["cost_usd"] = float(plan.totals.total_usd) if plan.feasible else None
    rec["wall_s"] = round(time.perf_counter() - wall, 3)
    rec["peak_rss_mib"] = _peak_rss_mib()
    return rec


def child_command(size: str, solver: str, family: str, args: Any,
                  run: int = 0) -> list[str]:
    """``python -m benchmarks one …`` for one solver (its ``run``-th run: solver seed
    ``args.seed + run`` on the portfolio of ``args.seed``)."""
    cmd = [sys.executable, "-m", "benchmarks", "one", "--size", size, "--solver", solver,
           "--time-limit", str(args.time_limit), "--seed", str(args.seed),
           "--solver-seed", str(args.seed + run),
           "--executor", args.executor, "--workers", str(args.workers), "--family", family]
    if args.address:
        cmd += ["--address", args.address]
    if args.progress:
        cmd.append("--progress")
    return cmd


def _child(size: str, solver: str, family: str, args: Any, run: int = 0) -> dict[str, Any]:
    """Run one solver in a child process (its ``run``-th run); its record with the
    end-to-end wall time and peak RSS the parent measured (``wait4``)."""
    root = Path(__file__).resolve().parent.parent
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path, BENCH_CHILD="1")
    t = time.perf_counter()
    proc = subprocess.Popen(child_command(size, solver, family, args, run), cwd=root, env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = round(time.perf_counter() - t, 3)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        rec: dict[str, Any] = {"size": size, "solver": solver, "family": family,
                               "status": "error", "verified": False,
                               "error": f"child exited {proc.returncode}"}
    else:
        rec = json.loads(lines[-1])
    rec["run"] = run
    rec["process_wall_s"] = wall
    rec["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    return rec


def family_of(args: Any) -> str:
    """The run's portfolio families, comma-separated (default: realistic)."""
    return str(getattr(args, "family", None) or "realistic")


def result_name(size: str, family: str = "realistic") -> str:
    """The stem of a run's result files: ``<size>`` (realistic) or ``<family>-<size>``."""
    return size if family == "realistic" else f"{family}-{size}"


def check_names(args: Any) -> str | None:
    """One line naming the first unknown or repeated family, size or solver of ``args``,
    or None."""
    from benchmarks.generate import FAMILIES, SIZES
    from benchmarks.timed_run import TIMED_SOLVERS
    from planner.solvers import AUTO, BACKENDS

    known = (("family", family_of(args), FAMILIES), ("size", args.size, tuple(SIZES)),
             ("solver", args.solvers, (*BACKENDS, AUTO, *TIMED_SOLVERS)))
    for what, given, choices in known:
        names = given.split(",")
        for name in names:
            if name not in choices:
                return (f"unknown {what} {name!r}: choose from {', '.join(choices)} "
                        "(comma-separated)")
        twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if twice is not None:
            again = " (--repeat N runs each solver N times)" if what == "solver" else ""
            return f"{what} {twice!r} is named twice: name each {what} once{again}"
    return None


def check_arguments(args: Any) -> str | None:
    """One line for the first wrong argument of ``args`` (as :func:`check_names`, then the
    time limit, seed and workers that ``planner bench`` checks, and the last run's solver
    seed ``seed + repeat − 1``), or None."""
    from planner.errors import InputError
    from planner.solvers.arguments import check_seed, check_time_limit, check_workers
    from planner.solvers.options import MAX_SEED

    bad = check_names(args)
    if bad:
        return bad
    try:
        check_time_limit(args.time_limit, "--time-limit")
        check_seed(args.seed, "--seed")
        check_workers(args.workers, "--workers")
    except InputError as exc:
        return str(exc)
    repeat = int(getattr(args, "repeat", 1) or 1)
    if args.seed + repeat - 1 > MAX_SEED:
        return (f"--seed: {args.seed} with --repeat {repeat} gives the last run the solver "
                f"seed {args.seed + repeat - 1:,}, above the largest seed {MAX_SEED:,} "
                f"(give a seed up to {MAX_SEED - repeat + 1:,})")
    return None


def _out_dir(args: Any) -> tuple[Path, str | None]:
    """The directory for the result files, made now (before any solver runs), and one
    line with a fix when it cannot be."""
    out = Path(getattr(args, "out", None) or RESULTS)
    if out.exists() and not out.is_dir():
        return out, f"--out {out}: is a file, not a directory (give a directory)"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return out, (f"--out {out}: cannot make the result directory: "
                     f"{exc.strerror or exc} (give a directory you may write to)")
    if not os.access(out, os.W_OK | os.X_OK):
        return out, (f"--out {out}: permission denied: cannot write here "
                     "(give a directory you may write to)")
    return out, None


def run(args: Any) -> int:
    """Every (family, size) of ``args``, every solver in its own child; the result files
    and one markdown table per family and size on stderr."""
    bad = check_arguments(args)
    out, unwritable = _out_dir(args) if not bad else (RESULTS, None)
    if bad or unwritable:
        print(f"error: {bad or unwritable}", file=sys.stderr)
        return 2
    command = getattr(args, "command", None) or "python -m benchmarks " + " ".join(sys.argv[1:])
    tables = []
    repeat = int(getattr(args, "repeat", 1) or 1)
    for family in family_of(args).split(","):
        for size in args.size.split(","):
            records = [_child(size, s, family, args, i) for s in args.solvers.split(",")
                       for i in range(repeat)]
            finish(records)
            path = write(result_name(size, family), records, command, out)
            tables.append(table(records))
            print(tables[-1], file=sys.stderr)
            print(f"wrote {path} (and .csv, .md, .png)", file=sys.stderr)
    (out / "last-run.md").write_text(f"`{command}`\n\n" + "\n\n".join(tables) + "\n", "utf-8")
    return 0
