"""Measure ``planner whatif`` with the serial and the local (process pool) executor, to
set the size above which ``--executor auto`` goes parallel (``planner.whatif``).

    python -m benchmarks.whatif_executor [STAGES ...]

Each size plans a generated portfolio (``benchmarks.generate``) and four price
scenarios, once per executor, and prints the wall-clock seconds of each and the
planned stages x scenarios (the size ``auto`` decides on).
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal

from benchmarks.generate import Size, generate_portfolio
from planner import api
from planner.compile.resolve import build_world
from planner.whatif import PriceChange, Scenario, ScenarioFile, run_whatif

SCENARIOS = ScenarioFile(scenarios=[
    Scenario(name=f"{provider}-x{factor}",
             price_multipliers=[PriceChange(provider=provider, factor=Decimal(factor))])
    for provider in ("aws", "azure") for factor in ("1.3", "0.8")])


def measure(stages: int) -> dict[str, float]:
    """Seconds per executor for one generated portfolio of ``stages`` stages."""
    catalogs = api.load_catalogs()
    portfolio = generate_portfolio(Size(f"w{stages}", stages, 30), catalogs=catalogs)
    world = build_world(portfolio, catalogs)
    out = {}
    for executor in ("serial", "local"):
        start = time.perf_counter()
        run_whatif(portfolio, world, SCENARIOS, executor=executor, time_limit_s=60,
                   reproducible=True)
        out[executor] = time.perf_counter() - start
    return out


def main(argv: list[str]) -> None:
    n_stages = [int(a) for a in argv] or [10, 30, 60, 120, 250, 500]
    print("stages  scenarios  stage-plans  serial_s  local_s")
    for n in n_stages:
        t = measure(n)
        plans = n * len(SCENARIOS.scenarios)
        print(f"{n:6d}  {len(SCENARIOS.scenarios):9d}  {plans:11d}  {t['serial']:8.2f}  "
              f"{t['local']:7.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
