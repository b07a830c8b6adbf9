"""``planner bench`` — run the benchmark harness (``benchmarks/`` of a repository clone).

Same options as ``python -m benchmarks run``; each solver runs in its own child process
and the results land in ``benchmarks/results/`` or ``--out`` (JSON, CSV, markdown table, PNG chart).
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import click

from planner.cli.common import checked
from planner.errors import InputError
from planner.solvers.arguments import check_seed, check_time_limit, check_workers


@click.command("bench")
@click.option("--size", default="s", show_default=True,
              help="Size name(s), comma-separated: smoke, s, m, l, xl.")
@click.option("--family", default="realistic", show_default=True,
              help="Portfolio family or families, comma-separated: realistic, hard, tight, "
                   "timed.")
@click.option("--solvers", default="greedy,cpsat,lns", show_default=True,
              help="Comma-separated backends to compare (any registered backend, or auto).")
@click.option("--time-limit", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              callback=checked(check_time_limit), help="Seconds per solver run.")
@click.option("--seed", type=int, default=0, show_default=True, callback=checked(check_seed),
              help="Seed of the generated portfolio (and of the first run's solver).")
@click.option("--workers", type=int, default=2, show_default=True,
              callback=checked(check_workers), help="Solver threads/processes per run.")
@click.option("--executor", type=click.Choice(["serial", "local", "ray"]), default="local",
              show_default=True, help="Where the strategy's sub-problems run.")
@click.option("--address", default=None, help="Ray cluster address (auto, ray://host:port).")
@click.option("--progress", is_flag=True, help="Progress bar on stderr.")
@click.option("--out", default=None,
              help="Directory for the result files (default benchmarks/results).")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs per solver on the same portfolio (solver seeds seed, seed+1, …); the "
                   "table shows each solver's median run and the spread.")
def bench(size: str, family: str, solvers: str, time_limit: float, seed: int, workers: int,
          executor: str, address: str | None, progress: bool, repeat: int,
          out: str | None) -> None:
    """Benchmark the solvers on generated portfolios; write benchmarks/results/."""
    try:
        from benchmarks.run import run
    except ImportError:
        err = InputError("the benchmark harness (benchmarks/) is not importable",
                         hint="run `planner bench` from a clone of the repository")
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    command = (f"planner bench --family {family} --size {size} --solvers {solvers} "
               f"--time-limit {time_limit:g} --seed {seed} --workers {workers} "
               f"--executor {executor}" + (f" --repeat {repeat}" if repeat > 1 else "")
               + (f" --out {out}" if out else ""))
    sys.exit(run(SimpleNamespace(size=size, family=family, solvers=solvers,
                                 time_limit=time_limit, seed=seed, workers=workers,
                                 executor=executor, address=address, progress=progress,
                                 repeat=repeat, out=out, command=command)))
