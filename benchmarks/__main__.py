"""``python -m benchmarks run|one`` — see benchmarks/README.md."""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks.generate import FAMILIES, SIZES


def _repeats(text: str) -> int:
    """``--repeat``: a whole number of runs, at least 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of runs: give 1 or more")
    return n


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "one"):
        p = sub.add_parser(name)
        p.add_argument("--size", default="s",
                       help=f"size name(s), comma-separated: {', '.join(SIZES)}")
        if name == "run":
            p.add_argument("--solvers", default="greedy,cpsat,lns",
                           help="comma-separated: any registered backend, or auto")
            p.add_argument("--out", default=None,
                           help="directory for the result files (default benchmarks/results)")
            p.add_argument("--family", default="realistic",
                           help=f"family or families, comma-separated: {', '.join(FAMILIES)} "
                                "(results/<size>.* for realistic, results/<family>-<size>.*)")
            p.add_argument("--repeat", type=_repeats, default=1,
                           help="runs per solver on the same portfolio, solver seeds seed, "
                                "seed+1, …; the table shows each solver's median run and the "
                                "spread (default 1)")
        else:
            p.add_argument("--solver", required=True)
            p.add_argument("--family", choices=FAMILIES, default="realistic")
            p.add_argument("--solver-seed", type=int, default=None,
                           help="the solver's seed (default: --seed, the portfolio's)")
        p.add_argument("--time-limit", type=float, default=60.0)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--executor", choices=("serial", "local", "ray"), default="local")
        p.add_argument("--address", default=None, help="Ray address (auto, ray://host:port)")
        p.add_argument("--progress", action="store_true", help="progress bar on stderr")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.cmd == "run":
        from benchmarks.run import run

        return run(args)
    from benchmarks.run import run_one

    rec = run_one(args.size, args.solver, args.time_limit, args.seed, args.executor,
                  args.address, args.workers, args.progress, args.family, args.solver_seed)
    print(json.dumps(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
