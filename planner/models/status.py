"""Solve status, shared by solver backends and plans."""

from __future__ import annotations

from enum import StrEnum


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"
    PARTIAL = "partial"
    """A plan for some workloads: every placed workload fully placed and every rule held;
    the others are listed in ``Plan.dropped`` with why (plans only, never a backend's)."""
