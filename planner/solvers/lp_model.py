r"""The LP relaxation of the placement model, solved by GLOP, with a bound that
does not trust the LP solver.

The LP
------
Variables ``x_o ∈ [0, ub_o]`` (units on option o) and, with a move cap, ``m_s ∈ [0, 1]``
(stage s moves). Rows (notation of :mod:`planner.solvers.cpsat`):

    Σ_{o∈O_s} x_o = U_s                                   ∀ s   (units)
    Σ_o u_{o,r} x_o ≤ C_r                                 ∀ r   (capacity)
    Σ_{s∈B} Σ_{o∈O_s} c_o x_o ≤ cap_B                     ∀ B   (budgets, egress left out)
    Σ_{J(o)∈p} w_o x_o − σ Σ_o w_o x_o ≤ 0                ∀ p   (provider share σ)
    x_o − U_s m_s ≤ 0 (moved o),  Σ_s m_s ≤ K                   (move cap)
    min Σ_o f_o x_o

Every row is one of the model's constraints with integrality dropped, and the budget
rows leave out the egress terms (≥ 0) of the left-hand side: every integer plan is a point
of the LP, and its objective (without egress, ≥ 0) is ≤ the plan's. Pipeline egress,
co-location and spread are not in the LP (dropping them only adds points), so the LP
optimum is a lower bound on the optimum of the full model. Funding (rewards) is not
modelled: the ``lp`` strategy does not make partial plans.

The bound (:func:`dual_bound`)
------------------------------
The value GLOP reports is not used as the bound: it carries the solver's tolerances (and
at a time limit it is not optimal). Instead, with any multipliers λ ≥ 0 for the ≤ rows
(GLOP's duals, projected onto λ ≥ 0),
Lagrangian relaxation of those rows gives

    L(λ) = Σ_s min{ Σ_{o∈O_s} (f + Aᵀλ)_o x_o : Σ x_o = U_s, 0 ≤ x ≤ ub }
           + Σ_s min(0, (Aᵀλ)_{m_s})  −  λᵀ b

which is ≤ the LP optimum for *every* λ ≥ 0 (weak duality: each term is a minimum over a
set containing the LP optimum's part, and λᵀ(Ax − b) ≤ 0 there), whatever the duals'
accuracy; at exact optimal duals it equals the LP optimum. Each stage's minimum is exact
(fill the cheapest reduced costs up to ``ub``, :class:`~planner.solvers.bound.LagrangianOracle`);
the float sum is rounded down with a margin (:func:`~planner.solvers.bound.safe_floor`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csr_matrix, vstack

from planner.models.problem import IntArray, Problem
from planner.solvers.bound import LagrangianOracle, safe_floor
from planner.solvers.decompose import opt_stage

FloatArray = NDArray[np.float64]

GLOP_PARAMETERS = "use_dual_simplex: true\nuse_preprocessing: false"
"""GLOP's dual simplex without its presolve. The placement LP has one row per stage (a
convex combination of its options) and a few hundred capacity rows, so a dual-feasible
start is at hand (every stage on its cheapest option) and the presolve finds little to
remove. Measured with the energy cuts, after the dominance reduction, 2 cores (primal
with presolve, GLOP's default, against this): hard m 9.6 s against 4.4 s; timed l 16.8 s
against 4.8 s; realistic l 47.3 s against 12.4 s; timed m 0.52 s against 0.32 s; hard s
0.12 s both; hard l unsolved in 60 s either way. Dual simplex with the presolve: hard m
6.8 s; with cost perturbation or a Maros start basis: 4.9 s and 4.6 s."""


@dataclass
class LpRows:
    """The ≤ rows of the LP over ``[x, m]`` (see the module docstring)."""

    a: csr_matrix
    b: FloatArray
    n_capacity: int
    move_stage: IntArray
    """The stage of every move variable m (columns after the options)."""


@dataclass
class LpResult:
    """An LP solution: fractional units per option, the duals of the capacity rows (λ ≥ 0
    per resource), the reduced cost of every option at all the duals, and the valid bound
    :func:`dual_bound` at those duals (None when the LP was not solved)."""

    x: FloatArray
    lam: FloatArray
    reduced: FloatArray
    bound: int | None
    value: float
    seconds: float
    status: str
    guides: tuple[FloatArray, ...] = ()
    """Other reduced costs to round from (dual ascent's earlier multipliers)."""


def unsolved(problem: Problem, status: str = "not solved") -> LpResult:
    """No LP answer: zero values and multipliers, reduced costs equal to the objective, no
    bound."""
    return LpResult(np.zeros(problem.n_options), np.zeros(problem.res_cap.size),
                    problem.opt_obj.astype(np.float64), None, 0.0, 0.0, status)


def lp_rows(problem: Problem) -> LpRows:
    """The ≤ rows: capacity, budgets, provider shares, move cap."""
    p = problem
    n = p.n_options
    rows: list[IntArray] = [p.use_res.astype(np.int64)]
    cols: list[IntArray] = [p.use_opt.astype(np.int64)]
    vals: list[FloatArray] = [p.use_amt.astype(np.float64)]
    rhs: list[float] = p.res_cap.astype(np.float64).tolist()
    st = opt_stage(p)
    for b in p.budgets:
        opts = np.flatnonzero(np.isin(st, b.stages))
        rows.append(np.full(opts.size, len(rhs), dtype=np.int64))
        cols.append(opts)
        vals.append(p.opt_cost[opts].astype(np.float64))
        rhs.append(float(b.cap))
    if p.max_share is not None:
        share = float(p.max_share) * (1 + 1e-9)  # a hair looser than the rule: still valid
        w = p.opt_compute.astype(np.float64)
        for prov in sorted({q for q, cl in zip(p.site_provider, p.site_cloud, strict=True) if cl}):
            mine = np.isin(p.opt_site, [j for j, q in enumerate(p.site_provider) if q == prov])
            rows.append(np.full(n, len(rhs), dtype=np.int64))
            cols.append(np.arange(n, dtype=np.int64))
            vals.append(np.where(mine, w, 0.0) - share * w)
            rhs.append(0.0)
    move_stage = np.zeros(0, dtype=np.int64)
    if p.max_moves is not None:
        moved = np.flatnonzero(p.opt_moved)
        move_stage = np.unique(st[moved])
        col_of = np.full(p.n_stages, -1, dtype=np.int64)
        col_of[move_stage] = n + np.arange(move_stage.size)
        first = len(rhs)
        k = np.arange(moved.size, dtype=np.int64)
        rows += [first + k, first + k]
        cols += [moved, col_of[st[moved]]]
        vals += [np.ones(moved.size), -p.units[st[moved]].astype(np.float64)]
        rhs += [0.0] * moved.size
        rows.append(np.full(move_stage.size, len(rhs), dtype=np.int64))
        cols.append(n + np.arange(move_stage.size, dtype=np.int64))
        vals.append(np.ones(move_stage.size))
        rhs.append(float(p.max_moves))
    a = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                   shape=(len(rhs), n + move_stage.size)).tocsr()
    return LpRows(a, np.array(rhs, dtype=np.float64), int(p.res_cap.size), move_stage)


def dual_bound(problem: Problem, rows: LpRows, lam: FloatArray,
               oracle: LagrangianOracle | None = None) -> tuple[int | None, FloatArray]:
    """L(λ) of the module docstring, rounded down (None if some stage cannot hold its
    units), and the options' reduced costs f + Aᵀλ."""
    lam = np.maximum(0.0, lam)
    oracle = oracle or LagrangianOracle(problem)
    if not oracle.feasible:
        return None, problem.opt_obj.astype(np.float64)
    priced = rows.a.T @ lam
    n = problem.n_options
    reduced = problem.opt_obj.astype(np.float64) + priced[:n]
    inner, _x = oracle.inner(reduced)
    value = inner + float(np.minimum(0.0, priced[n:]).sum()) - float(lam @ rows.b)
    return safe_floor(value), reduced


def solve_lp(problem: Problem, time_limit_s: float) -> LpResult:
    """The LP of the module docstring with GLOP (OR-Tools' simplex, :data:`GLOP_PARAMETERS`;
    its primal simplex was faster than HiGHS through scipy on the benchmark: 0.1 s vs
    0.2 s at hard s, 5.8 s vs 9.0 s at hard m).
    When GLOP answers at its time limit, its current duals still give a valid bound
    (:func:`dual_bound`) and the primal values are only a guide; the dual simplex
    interrupted mostly answers nothing (hard l at 60 s), and ``bound`` is then None."""
    import ortools.linear_solver.python.model_builder_helper as mbh

    start = time.perf_counter()
    p = problem
    n = p.n_options
    rows = lp_rows(p)
    n_var = rows.a.shape[1]
    empty = unsolved(p)
    if n == 0 or (np.diff(p.stage_ptr) == 0).any() or time_limit_s <= 0.05:
        return empty
    a_eq = csr_matrix((np.ones(n), (opt_stage(p), np.arange(n))), shape=(p.n_stages, n_var))
    matrix = vstack([rows.a, a_eq]).tocsr()
    units = p.units.astype(np.float64)
    model = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(
        np.zeros(n_var), np.r_[p.opt_ub.astype(np.float64), np.ones(n_var - n)],
        np.r_[p.opt_obj.astype(np.float64), np.zeros(n_var - n)],
        np.r_[np.full(rows.b.size, -np.inf), units], np.r_[rows.b, units], matrix)
    solver = mbh.ModelSolverHelper("GLOP")
    solver.set_time_limit_in_seconds(float(time_limit_s))
    solver.set_solver_specific_parameters(GLOP_PARAMETERS)
    solver.solve(model)
    status = solver.status()
    if not solver.has_response() or status not in (mbh.SolveStatus.OPTIMAL,
                                                     mbh.SolveStatus.FEASIBLE):
        empty.seconds, empty.status = time.perf_counter() - start, str(status)
        return empty
    duals = np.asarray(solver.dual_values(), dtype=np.float64)
    lam = np.maximum(0.0, -duals[: rows.b.size])  # ≤ rows of a minimization: duals ≤ 0
    bound, reduced = dual_bound(p, rows, lam)
    x = np.asarray(solver.variable_values(), dtype=np.float64)[:n] if solver.has_solution() \
        else np.zeros(n)
    return LpResult(x, lam[: rows.n_capacity], reduced, bound, float(solver.objective_value()),
                    time.perf_counter() - start,
                    "optimal" if status == mbh.SolveStatus.OPTIMAL else "time limit")
