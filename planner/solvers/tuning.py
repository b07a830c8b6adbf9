"""Tuning settings of the solvers and of the phases around them, in one place.

Every threshold, budget and time split that steers *how* the planner searches (never
*what* a valid plan is) lives here, named and documented, and is imported where it is
used. They were tuned on the 2-core test machine and the benchmark portfolios
(``benchmarks/README.md``); changing one changes speed or the quality reached within a
time limit, never the rules a plan must meet (every plan still goes through the shared
feasibility check and the independent verifier).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- Choosing a backend ----------------------------------------------------------------

AUTO_EXACT_OPTIONS = 5_000
"""``auto`` runs exact CP-SAT up to this many options (and for partial plans), the ``lp``
strategy above (see benchmarks/README.md)."""

DETERMINISTIC_WALL_FLOOR_S = 10.0
"""In deterministic mode CP-SAT also stops after 10 × its deterministic limit in wall
seconds, but never sooner than this: a cap a loaded machine can reach ends one run's
solve early and not the next one's (:func:`planner.solvers.cpsat_model.configure`)."""

# --- Explanations and plan building (planner.api, planner.plans, planner.explain) ------

EXPLAIN_MAX_STAGES = 2000
"""Above this many stages, pruned options are not priced (no ``cheaper_rejected``; the
array-based large-portfolio candidate path is used, see :func:`planner.api.plan`)."""

BUILD_BASE_S = 0.5
"""Seconds kept after the solve for building and verifying any plan (fixed part)."""
BUILD_PER_STAGE_EXPLAINED_S = 4e-3
"""Seconds kept per stage when pruned options are priced (1.3 s measured for 500 stages,
about half of what this keeps)."""
BUILD_PER_STAGE_S = 6e-4
"""Seconds kept per stage on the large-portfolio path (1.1 s measured for 5,000 stages
and 640k options; 13.8 s for hard l's 20,000 stages and 2.6 M options on a machine whose
GLOP is 35 % slower than the test machine's, where 4e-4 kept 11.1 s and the plan came
2 s past the limit)."""
BUILD_PER_OPTION_S = 2e-6
"""Seconds kept per candidate option (hard xl, 200,000 stages and 31.3 M options: plan
building and its verification took 167 s after the solve, and 1e-6 kept 152 s, so
`planner plan --time-limit 600` ended at 609 s; 2e-6 keeps 183 s)."""
BUILD_FUNDING_FACTOR = 1.5
"""Partial plans (funding) also explain their dropped workloads: this much more time
(60.9 s for ``--time-limit 60`` on the 5,000-stage benchmark with 481 dropped before)."""

MAX_EXPLAINED = 20
"""Dropped workloads explained in full (diagnosis and forced re-solve); the rest get the
short reason only."""
DROPPED_SHARE = 0.2
"""In deterministic mode, the dropped workloads' explanations get this share of the time
limit in deterministic seconds, split equally (each forced re-solve half of its part);
a share of the wall clock left would change the explanations from run to run."""
DIAGNOSIS_SOLVE_FLOOR_S = 0.02
"""In deterministic mode, each solve of a diagnosis counts at least this many
deterministic seconds against its budget (:class:`planner.solvers.diagnosis._Budget`): a
solve's set-up is not deterministic time, and took ~44 ms wall for ~2 ms deterministic in
a deletion filter on 60 stages (CP-SAT's deterministic second: about 2 wall seconds)."""
EXPLAIN_S_PER_STAGE = 0.01
"""A dropped workload is explained in full (forced re-solve, candidates of the
sub-portfolio, diagnosis) only when its share of the wall clock left holds this many
seconds per stage of the portfolio, at least :data:`EXPLAIN_MIN_S`; else the short reason.
Those steps do not stop at the deadline: at 1,000 stages (hard s, seed 1, 30 s) the first
explanation started with 0.7 s left and took 8.3 s, so the command ended 7.6 s late."""
EXPLAIN_MIN_S = 1.0
"""See :data:`EXPLAIN_S_PER_STAGE`."""
MAX_EXPLAINED_OPTIONS = 200_000
"""Above this many options (the large-portfolio path) dropped workloads get the short
reason only: each explanation re-generates candidates and re-solves."""

ANALYSE_MAX_STAGES = 2000
"""Above this many stages runner-ups are not checked against the side rules."""
STAGE_BUDGET_S = 1.0
"""Deterministic CP-SAT seconds for one runner-up's check."""
PLAN_BUDGET_S = 20.0
"""Deterministic CP-SAT seconds for all runner-up checks of one plan."""


# --- The lns strategy (planner.solvers.lns) --------------------------------------------

@dataclass(frozen=True)
class LnsTuning:
    """Knobs of the ``lns`` strategy (defaults tuned on the benchmark's l size, 2 cores).

    Time shares are fractions of the time left at that point of the run."""

    target_gap: float = 0.001
    """Stop when (objective − bound) / objective is below this."""
    small_options: int = 60_000
    """Components (batched) up to this many options are solved by CP-SAT directly."""
    max_free: int = 1200
    """Stages freed per neighbourhood at first (adapts)."""
    sub_time_s: float = 4.0
    """Seconds for one neighbourhood's CP-SAT solve at most."""
    lag_iterations: int = 250
    """Subgradient iterations of the Lagrangian bound (half before the start, all after)."""
    lp_max_options: int = 400_000
    """Bound by the LP (HiGHS) up to this many options after reduction, else Lagrangian."""
    exact_share: float = 0.5
    """Share of the time for the exact batches when large components follow."""
    exact_share_alone: float = 0.95
    """Share of the time for the exact batches when there is no large component."""
    min_batch_s: float = 0.05
    """The exact batches get at least this many seconds."""
    batch_lag_iterations: int = 100
    """Lagrangian iterations that tighten the bound of an exact batch."""
    batch_lag_s: float = 2.0
    """Seconds at most for that Lagrangian bound of an exact batch."""
    lp_share: float = 0.4
    """Share of a large component's time for its LP bound."""
    min_lp_s: float = 0.05
    """The LP bound gets at least this many seconds."""
    lag_share: float = 0.15
    """Share of a large component's time for its first Lagrangian bound (no LP)."""
    lag2_share: float = 0.2
    """Share of the time left for re-tightening the bound from the first plan."""
    lag2_iterations_after_lp: int = 30
    """Lagrangian iterations after an LP bound (it is already tight)."""
    hood_sites: int = 4
    """Sites per neighbourhood at first (adapts, at least ``min_hood_sites``)."""
    min_hood_sites: int = 2
    """Sites per neighbourhood at least."""
    min_free: int = 100
    """Stages freed per neighbourhood at least."""
    grow: float = 1.3
    """Neighbourhood growth after a fast proven-optimal sub-solve."""
    fast_share: float = 0.5
    """A sub-solve is fast when it took under this share of its limit."""
    shrink: float = 0.7
    """Neighbourhood shrink factor after a sub-solve that timed out."""
    min_sub_s: float = 0.3
    """No neighbourhood is started with less than this many seconds for it."""
    stop_margin_s: float = 0.5
    """The search stops this many seconds before the component's deadline."""
    site_weight_floor: float = 0.02
    """Every site with options is picked with at least this share of the heaviest weight."""
