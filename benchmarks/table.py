"""A run's records → gaps against the best bound of the run, issue 14's targets, and the
result files: ``results/<stem>.json``, ``.csv``, ``.md`` (the markdown table, ready to
paste into benchmarks/README.md) and ``.png`` (with matplotlib).

Columns, per solver (each in its own child process, on the same portfolio):

* ``wall s``: end-to-end wall time of the child process (start-up, portfolio generation,
  candidates, problem arrays, solve, plan building, verification), measured by the parent;
* ``peak RSS MiB``: the child's peak resident set (``ru_maxrss`` from ``wait4``: the child
  and the worker processes it waited for);
* ``objective USD`` (what the solver minimizes: cost plus spot risk and preference
  surcharges), ``bound USD`` (the solver's own proven lower bound), ``reported gap``
  ((objective − own bound) / objective, what the plan says);
* ``gap vs best bound``: (objective − the best bound any solver of the run proved) /
  objective — the honest gap of each plan;
* ``target``: issue 14's target for the hard family at that size (gap, wall, memory) and
  whether the run met it (time to the target gap from the solver's trace).

With ``--repeat N`` every solver runs N times on the same portfolio (solver seeds
``seed`` … ``seed + N − 1``): the time-limited searches spread more from run to run than
most changes move them, so one run says little. The table then shows each solver's
median run (by gap vs best bound; the upper of the two middle runs when N is even) and one
more column with the spread: the smallest, median and largest gap, how many runs the
verifier accepted and how many met the target. The JSON and CSV keep every run.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
FIELDS = (
    "family", "size", "solver", "backend", "stages", "sites", "options", "reduced_options",
    "gen_s", "candidates_s", "problem_s", "model_build_s", "first_feasible_s", "solve_s",
    "wall_s", "process_wall_s", "status", "cost_usd", "objective_usd", "own_bound_usd",
    "own_gap", "ref_bound_usd", "ref_gap", "target", "target_met", "peak_rss_mib",
    "verified", "violations", "detail", "run", "solver_seed",
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """Issue 14's target at a size of the hard family (issue 11's for the timed one)."""

    gap: float
    wall_s: float
    rss_mib: float | None = None

    def __str__(self) -> str:
        mem = f", ≤ {self.rss_mib / 1024:.0f} GiB" if self.rss_mib else ""
        return f"≤ {self.gap:.1%} in ≤ {self.wall_s:.0f} s{mem}"


TARGETS: dict[tuple[str, str], Target] = {
    ("hard", "s"): Target(0.001, 30.0),
    ("hard", "m"): Target(0.005, 60.0, 2048.0),
    ("hard", "l"): Target(0.01, 120.0, 4096.0),
    ("hard", "xl"): Target(0.02, 600.0),
    # issue 11 ("Where and when"), the timed family
    ("timed", "s"): Target(0.01, 60.0),
    ("timed", "m"): Target(0.02, 120.0),
    ("timed", "l"): Target(0.03, 600.0, 8192.0),
}


def time_to_gap(rec: dict[str, Any], ref: int, gap: float) -> float | None:
    """Seconds from the solver's start until its trace holds a plan within ``gap`` of
    ``ref`` (None if never)."""
    for t, obj, _b in rec.get("trace", []):
        if obj and (obj - ref) / obj <= gap + 1e-12:
            return float(t)
    return None


def _met(rec: dict[str, Any], target: Target, ref: int | None) -> bool:
    """The final plan is verified, within the gap, and the child within wall and memory."""
    gap = rec.get("ref_gap")
    if not rec.get("verified") or gap is None or ref is None or gap > target.gap + 1e-12:
        return False
    wall = rec.get("process_wall_s") or rec.get("wall_s")
    rss = rec.get("peak_rss_mib")
    return (wall is not None and wall <= target.wall_s
            and (target.rss_mib is None or (rss is not None and rss <= target.rss_mib)))


def _best_bound(records: list[dict[str, Any]]) -> int | None:
    bounds = [r["own_bound_micro"] for r in records if r.get("own_bound_micro") is not None]
    return max(bounds) if bounds else None


def finish(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Gaps against the best bound any solver proved in this run (the reference bound),
    and the issue's target (hard family) with whether each solver met it.

    The registered backends plan capacity per period (the time-free placement), the
    solvers of :data:`~benchmarks.timed_run.TIMED_SOLVERS` a schedule. A time-free bound is
    a bound of the schedule too (every schedule is a placement), not the other way round,
    so a time-free solver's gap is against the best time-free bound only (against a
    schedule's bound it could be negative)."""
    from benchmarks.timed_run import TIMED_SOLVERS

    timed = _best_bound(records)
    untimed = _best_bound([r for r in records if r.get("solver") not in TIMED_SOLVERS])
    for r in records:
        ref = timed if r.get("solver") in TIMED_SOLVERS else untimed
        obj, own = r.get("objective_micro"), r.get("own_bound_micro")
        r["objective_usd"] = obj / 1e6 if obj is not None else None
        r["own_bound_usd"] = own / 1e6 if own is not None else None
        r["ref_bound_usd"] = ref / 1e6 if ref is not None else None
        r["own_gap"] = round((obj - own) / obj, 6) if obj and own is not None else None
        r["ref_gap"] = round((obj - ref) / obj, 6) if obj and ref is not None else None
        target = TARGETS.get((r.get("family", "realistic"), r.get("size", "")))
        r["target"] = str(target) if target else None
        r["target_met"] = _met(r, target, ref) if target else None
        if target and ref is not None:
            r["time_to_target_gap_s"] = time_to_gap(r, ref, target.gap)
    return records


def median_runs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per solver (in the order of first appearance), its median run by gap vs best bound
    (a run without a plan counts as the worst), with ``runs`` and, when there are several,
    ``gap_min``, ``gap_median``, ``gap_max`` (over the runs with a plan), ``verified_runs``
    and ``met_runs`` (None without a target). A solver run once is its record unchanged."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r.get("family"), r.get("size"), r["solver"]), []).append(r)
    out = []
    for runs in groups.values():
        if len(runs) == 1:
            out.append(runs[0])
            continue
        ranked = sorted(runs, key=lambda r: (r.get("ref_gap") is None, r.get("ref_gap") or 0.0))
        gaps = sorted(r["ref_gap"] for r in runs if r.get("ref_gap") is not None)
        middle = (gaps[(len(gaps) - 1) // 2] + gaps[len(gaps) // 2]) / 2 if gaps else None
        met = [r.get("target_met") for r in runs]
        met_runs = None if all(m is None for m in met) else sum(m is True for m in met)
        out.append({**ranked[len(ranked) // 2], "runs": len(runs),
                    "gap_min": gaps[0] if gaps else None,
                    "gap_median": round(middle, 6) if middle is not None else None,
                    "gap_max": gaps[-1] if gaps else None,
                    "verified_runs": sum(bool(r.get("verified")) for r in runs),
                    "met_runs": met_runs})
    return out


def _fmt(v: Any, spec: str = "") -> str:
    if v is None:
        return "–"
    return format(v, spec) if spec else str(v)


HEAD = ("| family | size | solver | stages × sites | options (reduced) | status "
        "| objective USD | bound USD | reported gap | gap vs best bound | first feasible s "
        "| solve s | wall s | peak RSS MiB | verified | target | met |")


SPREAD = " runs: gap min / median / max (verified, met) |"
"""The extra column of a table of repeated runs (:func:`median_runs`)."""


def _spread(r: dict[str, Any]) -> str:
    if r.get("runs", 1) == 1:
        return " 1 |"
    gaps = " / ".join(_fmt(r.get(k), ".3%") for k in ("gap_min", "gap_median", "gap_max"))
    met = "–" if r.get("met_runs") is None else str(r["met_runs"])
    return f" {r['runs']}: {gaps} ({r.get('verified_runs')}, {met}) |"


def row(r: dict[str, Any], spread: bool = False) -> str:
    """One markdown table row (``spread``: with the column of repeated runs)."""
    solver = r["solver"] if r.get("backend") in (None, r["solver"]) \
        else f"{r['solver']} ({r['backend']})"
    met = {True: "yes", False: "no", None: "–"}[r.get("target_met")]
    wall = r.get("process_wall_s") or r.get("wall_s")
    return (
        f"| {r.get('family', 'realistic')} | {r['size']} | {solver} "
        f"| {_fmt(r.get('stages'))} × {_fmt(r.get('sites'))} "
        f"| {_fmt(r.get('options'))} ({_fmt(r.get('reduced_options'))}) "
        f"| {_fmt(r.get('status'))} | {_fmt(r.get('objective_usd'), ',.0f')} "
        f"| {_fmt(r.get('own_bound_usd'), ',.0f')} | {_fmt(r.get('own_gap'), '.3%')} "
        f"| {_fmt(r.get('ref_gap'), '.3%')} | {_fmt(r.get('first_feasible_s'), '.1f')} "
        f"| {_fmt(r.get('solve_s'), '.1f')} | {_fmt(wall, '.1f')} "
        f"| {_fmt(r.get('peak_rss_mib'), '.0f')} | {'yes' if r.get('verified') else 'no'} "
        f"| {_fmt(r.get('target'))} | {met} |"
    ) + (_spread(r) if spread else "")


def table(records: list[dict[str, Any]], header: bool = True) -> str:
    """A markdown table of the records (``header=False``: the rows only): a row per
    solver, its median run where it ran several times, with their spread
    (:func:`median_runs`)."""
    rows = median_runs(records)
    spread = any(r.get("runs", 1) > 1 for r in rows)
    head = HEAD + SPREAD if spread else HEAD
    lines = [head, "|" + "---|" * (head.count("|") - 1)] if header else []
    return "\n".join(lines + [row(r, spread) for r in rows])


def machine() -> dict[str, Any]:
    """The machine a run happened on."""
    import os
    import platform

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
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "unknown"
    import ortools

    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem, "load_average": load,
            "python": platform.python_version(), "ortools": getattr(ortools, "__version__", "?")}


def write(stem: str, records: list[dict[str, Any]], command: str,
          results: Path = RESULTS) -> Path:
    """results/<stem>.json, .csv, .md and .png (when matplotlib is installed)."""
    results.mkdir(parents=True, exist_ok=True)
    m = machine()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    doc: dict[str, Any] = {"command": command, "machine": m, "date": date,
                           "records": records}
    if any(r.get("run", 0) > 0 for r in records):
        doc["median_runs"] = median_runs(records)
    path = results / f"{stem}.json"
    path.write_text(json.dumps(doc, indent=1) + "\n", "utf-8")
    with (results / f"{stem}.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in records:
            w.writerow(r)
    (results / f"{stem}.md").write_text(
        f"`{command}` — {date}, {m['nproc']} cores ({m['cpu']}), load average "
        f"{m['load_average']} at the end\n\n{table(records)}\n", "utf-8")
    try:
        from benchmarks.chart import gap_chart

        gap_chart(stem, records, results / f"{stem}.png")
    except ImportError:
        print("matplotlib not installed (pip install 'planner[bench]'): no chart", file=sys.stderr)
    return path
