"""PNG chart: cost gap to the best bound vs time, one line per solver and run (needs
matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def gap_chart(size: str, records: list[dict[str, Any]], path: Path) -> None:
    """Plot (objective − best bound) / objective against seconds since the solver started
    (each record's own reference bound: :func:`benchmarks.table.finish`)."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    repeated = any(r.get("run", 0) > 0 for r in records)
    for r in records:
        ref = r.get("ref_bound_usd")
        pts = [(t, obj) for t, obj, _b in r.get("trace", []) if obj is not None]
        if not pts or ref is None:
            continue
        xs = [t for t, _ in pts]
        ys = [max((obj / 1e6 - ref) / (obj / 1e6) * 100, 1e-4) for _, obj in pts]
        run = f" run {r['run'] + 1}" if repeated else ""
        ax.step(xs, ys, where="post", marker="o", markersize=3,
                label=f"{r['solver']}{run} ({'verified' if r.get('verified') else 'NOT verified'})")
    ax.set_yscale("log")
    ax.set_xlabel("seconds since the solver started (after candidate generation)")
    ax.set_ylabel("gap to best bound, %")
    ax.set_title(f"size {size}: cost gap vs time")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
