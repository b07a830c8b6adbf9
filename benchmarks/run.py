"""Benchmark runner: every solver in its own child process, the same portfolio, one table.

``python -m benchmarks run --size l --solvers greedy,cpsat,lns --time-limit 60 --seed 0``

For each solver a child process (``python -m benchmarks one …``) generates the portfolio
(seeded, so identical in every child), resolves the world, generates candidates, builds
the problem arrays, solves, builds the plan and runs the independent verifier. It prints
one JSON record: phase times, time to the first feasible plan, cost, the solver's own
bound, a cost-vs-time trace, peak RSS of the child (``ru_maxrss`` of itself and of its
own worker processes) and whether the verifier accepted the plan. The parent gathers the
records, computes every solver's gap against the best bound any solver proved, and
writes ``benchmarks/results/<size>.json``, ``.csv`` and a PNG chart (cost gap vs time).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
FIELDS = (
    "size", "solver", "stages", "sites", "options", "reduced_options", "gen_s", "candidates_s",
    "problem_s", "model_build_s", "first_feasible_s", "solve_s", "wall_s", "status", "cost_usd",
    "own_bound_usd", "own_gap", "ref_bound_usd", "ref_gap", "peak_rss_mib", "verified",
    "violations",
)  # fmt: skip


def _peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)  # Linux reports KiB


def machine() -> dict[str, Any]:
    """The machine a run happened on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        mem = f"{int(first.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, IndexError, ValueError):
        pass
    import ortools

    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem,
            "python": platform.python_version(), "ortools": getattr(ortools, "__version__", "?")}


def run_one(size: str, solver: str, time_limit: float, seed: int, executor: str,
            address: str | None, workers: int, progress: bool,
            family: str = "realistic") -> dict[str, Any]:
    """Generate, solve and verify in this process; the record for one solver."""
    from benchmarks.generate import generate_portfolio
    from benchmarks.solve import solve_traced
    from planner import api
    from planner.compile.arrays import build_problem
    from planner.compile.candidates import generate
    from planner.compile.resolve import build_world
    from planner.plans.build import build_plan
    from planner.solvers.base import SolveOptions
    from planner.verify.check import verify

    wall = time.perf_counter()
    rec: dict[str, Any] = {"size": size, "solver": solver, "seed": seed, "family": family,
                           "time_limit_s": time_limit, "rss_mib": {}}

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
    options = SolveOptions(time_limit_s=time_limit, workers=workers, seed=seed,
                           deterministic=False)
    solution, trace = solve_traced(solver, problem, options, executor=executor,
                                   address=address, progress=progress)
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
    violations = verify(portfolio, world, plan) if plan.feasible else []
    phase("verify", "verify_s", t)
    rec["verified"] = bool(plan.feasible and not violations)
    rec["violations"] = len(violations)
    rec["cost_usd"] = float(plan.totals.total_usd) if plan.feasible else None
    rec["wall_s"] = round(time.perf_counter() - wall, 3)
    rec["peak_rss_mib"] = _peak_rss_mib()
    return rec


def _child(size: str, solver: str, args: Any) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks", "one", "--size", size, "--solver", solver,
           "--time-limit", str(args.time_limit), "--seed", str(args.seed),
           "--executor", args.executor, "--workers", str(args.workers),
           "--family", family_of(args)]
    if args.address:
        cmd += ["--address", args.address]
    if args.progress:
        cmd.append("--progress")
    root = Path(__file__).resolve().parent.parent
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    out = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, text=True, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"size": size, "solver": solver, "status": "error", "verified": False,
                "error": f"child exited {out.returncode}"}
    rec: dict[str, Any] = json.loads(lines[-1])
    return rec


def finish(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Gaps against the best bound any solver proved in this run (the reference bound)."""
    bounds = [r["own_bound_micro"] for r in records if r.get("own_bound_micro") is not None]
    ref = max(bounds) if bounds else None
    for r in records:
        obj, own = r.get("objective_micro"), r.get("own_bound_micro")
        r["own_bound_usd"] = own / 1e6 if own is not None else None
        r["ref_bound_usd"] = ref / 1e6 if ref is not None else None
        r["own_gap"] = round((obj - own) / obj, 6) if obj and own is not None else None
        r["ref_gap"] = round((obj - ref) / obj, 6) if obj and ref is not None else None
    return records


def family_of(args: Any) -> str:
    """The run's portfolio family (``planner bench`` passes no ``family``: realistic)."""
    return str(getattr(args, "family", "realistic"))


def result_name(size: str, family: str = "realistic") -> str:
    """The stem of a run's result files: ``<size>`` (realistic) or ``<family>-<size>``."""
    return size if family == "realistic" else f"{family}-{size}"


def write(size: str, records: list[dict[str, Any]], command: str) -> Path:
    """results/<size>.json, .csv and .png (when matplotlib is installed); ``size`` is the
    stem from :func:`result_name`."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {"command": command, "machine": machine(),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "records": records}
    path = RESULTS / f"{size}.json"
    path.write_text(json.dumps(doc, indent=1) + "\n", "utf-8")
    with (RESULTS / f"{size}.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in records:
            w.writerow(r)
    try:
        from benchmarks.chart import gap_chart

        gap_chart(size, records, RESULTS / f"{size}.png")
    except ImportError:
        print("matplotlib not installed (pip install 'planner[bench]'): no chart", file=sys.stderr)
    return path


def run(args: Any) -> int:
    command = "python -m benchmarks " + " ".join(sys.argv[1:])
    for size in args.size.split(","):
        records = [_child(size, s, args) for s in args.solvers.split(",")]
        finish(records)
        path = write(result_name(size, family_of(args)), records, command)
        print(table(records), file=sys.stderr)
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _fmt(v: Any, spec: str = "") -> str:
    if v is None:
        return "–"
    return format(v, spec) if spec else str(v)


def table(records: list[dict[str, Any]]) -> str:
    """A markdown table of the records."""
    head = ("| size | solver | stages × sites | options (reduced) | build s | first feasible s "
            "| solve s | cost USD | gap vs best bound | own gap | peak RSS MiB | verified |")
    lines = [head, "|" + "---|" * 12]
    for r in records:
        build = sum(r.get(k) or 0 for k in ("candidates_s", "problem_s", "model_build_s"))
        lines.append(
            f"| {r['size']} | {r['solver']} | {_fmt(r.get('stages'))} × {_fmt(r.get('sites'))} "
            f"| {_fmt(r.get('options'))} ({_fmt(r.get('reduced_options'))}) "
            f"| {build:.1f} | {_fmt(r.get('first_feasible_s'), '.1f')} "
            f"| {_fmt(r.get('solve_s'), '.1f')} | {_fmt(r.get('cost_usd'), ',.0f')} "
            f"| {_fmt(r.get('ref_gap'), '.3%')} | {_fmt(r.get('own_gap'), '.3%')} "
            f"| {_fmt(r.get('peak_rss_mib'), '.0f')} | {'yes' if r.get('verified') else 'no'} |"
        )
    return "\n".join(lines)

