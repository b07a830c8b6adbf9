r"""The CP-SAT model of a :class:`~planner.models.problem.Problem` (OR-Tools).

The model
---------
Sets
    S           stages;  O_s options of stage s (site × offer × purchase), disjoint
    J           sites;   J(o) the site of option o
    R           limited resources: (site, offer) instance-hours and (site, GPU model)
                GPU-hours per planning period
    E           pipeline edges (a, b): the model artifact moves from a's site to b's sites
Data
    U_s         units of stage s (1, or its replicas when they may be split over sites)
    ub_o        units option o can hold at once (inventory / quota)
    c_o, f_o    real cost and objective per unit, integer micro-dollars
                (f_o = c_o + spot risk uplift + preference surcharge)
    u_{o,r}     usage of resource r per unit of option o, milli-unit-hours (rounded up)
    C_r         capacity of resource r, milli-unit-hours
    P_{ij}^{ab} egress micro-dollars of edge (a, b) from site i to site j (0 if i = j)
Variables
    x_o ∈ {0..ub_o}       units of its stage placed on option o (boolean when U_s = 1)
    y_{s,j} ∈ {0,1}       stage s uses site j (only for stages in side constraints)
    z_{ab,ij} ∈ {0,1}     edge (a, b) carries the artifact from site i to site j
    e_{ab} ≥ 0            egress of edge (a, b)
    m_s ∈ {0,1}           stage s moves away from the previous plan
    fund_w ∈ {0,1}        workload w is placed (funding only; else fund_w ≡ 1)
Constraints
    Σ_{o∈O_s} x_o = U_s · fund_{w(s)}                     ∀ s      (every unit placed, or
                                                          none of the workload's)
    Σ_o u_{o,r} x_o ≤ C_r                                 ∀ r      (capacity)
    x_o ≤ ub_o · y_{s,J(o)},  y_{s,j} ≤ Σ_{o∈O_s, J(o)=j} x_o       (site use)
    z_{ab,ij} ≥ y_{a,i} + y_{b,j} − 1,  e_{ab} = Σ_{ij} P_{ij}^{ab} z_{ab,ij}
                                                          ∀ (a,b) ∈ E (pipeline egress;
                                                          a, the source, runs at one site)
    y_{b,j} ≤ Σ_{i: g(i)=g(j)} y_{a,i}                    ∀ co-located (a,b), j
    Σ_j y_{s,j} ≥ N_s · fund_{w(s)}                       ∀ s      (spread over N sites)
    Σ_{s∈B} Σ_o c_o x_o + Σ_{(a,b)∈E, b∈B} e_{ab} ≤ cap_B  ∀ budgets B
    T = Σ_o w_o x_o,  M_p = Σ_{J(o)∈p} w_o x_o,  d · M_p ≤ n · T   ∀ cloud providers p
                (w = compute cost; n/d ≤ the maximum provider share, the largest such
                fraction whose products fit in 64 bits, see planner.solvers.magnitude)
    U_s · m_s ≥ x_o  for moved options,  Σ_s m_s ≤ K      (re-planning move cap)
Objective
    min Σ_o f_o x_o + Σ_{(a,b)∈E} e_{ab} − Σ_w R_w fund_w

Funding (partial plans): W workloads, w(s) the workload of stage s, R_w its reward in
micro-dollars (:mod:`planner.solvers.funding`: its value_usd, or M > any cost and value
for a workload that is required when it fits, plus a lexicographic lift per priority
level; w indexes workloads here, unlike the compute weights w_o). Without funding there
is no fund_w (all 1) and no reward term. A workload with a stage without options gets
fund_w = 0 from its units constraint. The plan reports objective and bound plus the
rewards R(F) of the placed set F: its cost, and a valid lower bound on the cost of any
plan placing F (any such plan P has cost(P) − R(F) ≥ the bound).

Every coefficient is an integer (money in micro-dollars, usage in
milli-unit-hours), so CP-SAT solves the exact model; magnitudes are checked
before the model is built (:mod:`planner.solvers.magnitude`) and the model is
validated before it is solved. Rules that prune single
options (residency, certification, exclusions, latency, hardware, concurrency)
are applied before the model is built. The greedy solution is the hint (warm
start, :mod:`planner.solvers.cpsat`). For the infeasibility diagnosis
(:mod:`planner.solvers.diagnosis`) the same builder takes a ``guard``: one
assumption literal per relaxable rule group, each constraint block enforced
only if its literal holds, and pruned options admitted only when every rule
that forbids them is dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
from ortools.sat.python import cp_model

from planner.models.problem import IntArray, Problem
from planner.solvers.base import SolveOptions, SolverError
from planner.solvers.magnitude import check_magnitudes, share_fraction, stage_peak
from planner.solvers.options import cpsat_seed
from planner.solvers.tuning import DETERMINISTIC_WALL_FLOOR_S

Guard = Callable[[str], "cp_model.IntVar | None"]


def _no_guard(_name: str) -> None:
    return None


def _enforce(ct: cp_model.Constraint, lit: cp_model.IntVar | None) -> None:
    if lit is not None:
        ct.only_enforce_if(lit)


class ModelBuilder:
    """Builds the CP-SAT model of the module docstring from a :class:`Problem`."""

    def __init__(self, problem: Problem, guard: Guard = _no_guard) -> None:
        self.p = problem
        self.guard = guard
        self.model = cp_model.CpModel()
        self.x: list[cp_model.IntVar] = []
        self.y: dict[tuple[int, int], cp_model.IntVar] = {}
        self.e: list[cp_model.IntVar] = []
        self.z: list[tuple[cp_model.IntVar, int, int, int]] = []  # (z, edge, i, j)
        self.spend: list[tuple[cp_model.IntVar, list[int]]] = []  # (var, its options)
        self.moved: list[tuple[cp_model.IntVar, list[int]]] = []
        self.fund: list[cp_model.IntVar] = []

    def build(self, with_objective: bool = True) -> cp_model.CpModel:
        p, m = self.p, self.model
        check_magnitudes(p)
        stage_of = np.repeat(np.arange(p.n_stages), np.diff(p.stage_ptr))
        self.x = [m.new_int_var(0, int(p.opt_ub[o]), f"x{o}") if p.units[stage_of[o]] > 1
                  else m.new_bool_var(f"x{o}") for o in range(p.n_options)]
        if p.group_reward is not None:
            self.fund = [m.new_bool_var(f"fund{w}") for w in range(p.group_reward.size)]
        self._units()
        self._forbidden_options()
        self._capacity()
        self._site_use()
        self._edges()
        self._colocation()
        self._spread()
        self._budgets()
        self._concentration()
        self._moves()
        if with_objective:
            reward = (cp_model.LinearExpr.weighted_sum(self.fund, p.group_reward.tolist())
                      if p.group_reward is not None else 0)
            m.minimize(cp_model.LinearExpr.weighted_sum(self.x, p.opt_obj.tolist())
                       + sum(self.e) - reward)
        return m

    def placed(self, s: int) -> cp_model.LinearExprT:
        """1, or fund_w of the stage's workload when workloads may be left out."""
        if not self.fund:
            return 1
        assert self.p.stage_group is not None
        return self.fund[int(self.p.stage_group[s])]

    def _units(self) -> None:
        # Every unit of every stage is placed exactly once (funding: or the whole
        # workload is left out).
        for s in range(self.p.n_stages):
            xs = [self.x[o] for o in self.p.options_of(s)]
            self.model.add(sum(xs) == int(self.p.units[s]) * self.placed(s))

    def _forbidden_options(self) -> None:
        # Diagnosis only: a pruned option stays at 0 while any rule that forbids it holds.
        if self.p.opt_groups is None:
            return
        for o, groups in enumerate(self.p.opt_groups):
            for g in groups:
                lit = self.guard(g)
                ct = self.model.add(self.x[o] == 0)
                _enforce(ct, lit)

    def _capacity(self) -> None:
        # Capacity: usage of every limited resource stays within its capacity.
        p = self.p
        if not p.use_res.size:
            return
        order = np.argsort(p.use_res, kind="stable")
        res_sorted = p.use_res[order]
        starts = np.flatnonzero(np.r_[True, res_sorted[1:] != res_sorted[:-1]])
        ends = np.r_[starts[1:], res_sorted.size]
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            idx = order[a:b]
            r = int(res_sorted[a])
            opts = p.use_opt[idx]
            amounts = p.use_amt[idx]
            if int((amounts * p.opt_ub[opts]).sum()) <= int(p.res_cap[r]):
                continue  # can never bind
            ct = self.model.add(cp_model.LinearExpr.weighted_sum(
                [self.x[o] for o in opts.tolist()], amounts.tolist()) <= int(p.res_cap[r]))
            _enforce(ct, self.guard(f"capacity:{p.res_names[r]}"))

    def _site_use(self) -> None:
        # y[s,j] = 1 exactly when stage s places a unit at site j.
        p = self.p
        for s in sorted(p.needs_site_vars()):
            by_site: dict[int, list[int]] = defaultdict(list)
            for o in p.options_of(s):
                by_site[int(p.opt_site[o])].append(o)
            for j, opts in sorted(by_site.items()):
                y = self.model.new_bool_var(f"y{s}_{j}")
                self.y[(s, j)] = y
                for o in opts:
                    self.model.add(self.x[o] <= int(p.opt_ub[o]) * y)
                self.model.add(y <= sum(self.x[o] for o in opts))

    def _edges(self) -> None:
        # Pipeline egress: z = 1 when a runs at site i and b uses site j; e_ab pays for it.
        # (Linear, no enforcement literals: CP-SAT 9.15's presolve lost solutions of the
        # enforced form ``y_ai ⇒ e ≥ Σ_j P_ij y_bj`` at coefficients around 1e9.)
        for k, edge in enumerate(self.p.edges):
            terms = []
            for (i, j), c in sorted(edge.cost.items()):
                ya, yb = self.y.get((edge.a, i)), self.y.get((edge.b, j))
                if ya is None or yb is None or c == 0:
                    continue
                z = self.model.new_bool_var(f"z{k}_{i}_{j}")
                self.model.add(z >= ya + yb - 1)
                terms.append((z, c))
                self.z.append((z, k, i, j))
            e = self.model.new_int_var(0, sum(c for _, c in terms), f"e{k}")
            self.e.append(e)
            self.model.add(e == cp_model.LinearExpr.weighted_sum(
                [z for z, _ in terms], [c for _, c in terms]))

    def _colocation(self) -> None:
        # Co-location: every site of b shares a group (site/country/provider) with a's site.
        for c in self.p.colocations:
            lit = self.guard(c.name)
            sites_a = [j for (s, j) in self.y if s == c.a]
            for (s, j), yb in sorted(self.y.items()):
                if s != c.b:
                    continue
                same = [self.y[(c.a, i)] for i in sites_a if c.group[i] == c.group[j]]
                _enforce(self.model.add(yb <= sum(same)), lit)

    def _spread(self) -> None:
        # Availability: stage s spreads over at least N_s distinct sites.
        p = self.p
        if p.min_sites is None:
            return
        for s in np.flatnonzero(p.min_sites > 1).tolist():
            ys = [y for (st, _), y in self.y.items() if st == s]
            ct = self.model.add(sum(ys) >= int(p.min_sites[s]) * self.placed(s))
            _enforce(ct, self.guard(f"spread:{p.stage_keys[s]}"))

    def _budgets(self) -> None:
        # Budgets: real cost of the budget's stages, pipeline egress included, within its cap.
        p = self.p
        for b in p.budgets:
            stages = set(b.stages.tolist())
            opts = [o for s in sorted(stages) for o in p.options_of(s)]
            edges = [self.e[k] for k, e in enumerate(p.edges) if e.b in stages]
            expr = cp_model.LinearExpr.weighted_sum([self.x[o] for o in opts],
                                                    p.opt_cost[opts].tolist()) + sum(edges)
            _enforce(self.model.add(expr <= b.cap), self.guard(b.name))

    def _concentration(self) -> None:
        # Anti lock-in: no cloud provider takes more than the allowed share of compute spend.
        p = self.p
        if p.max_share is None:
            return
        share = share_fraction(p)
        peak = stage_peak(p, p.opt_compute)
        total = self.model.new_int_var(0, peak, "compute_total")
        self.model.add(total == cp_model.LinearExpr.weighted_sum(self.x, p.opt_compute.tolist()))
        self.spend.append((total, list(range(p.n_options))))
        for prov in sorted({q for q, cloud in zip(p.site_provider, p.site_cloud, strict=True)
                            if cloud}):
            sites = [j for j, q in enumerate(p.site_provider) if q == prov]
            opts = np.flatnonzero(np.isin(p.opt_site, sites)).tolist()
            mine = self.model.new_int_var(0, peak, f"compute_{prov}")
            self.spend.append((mine, opts))
            self.model.add(mine == cp_model.LinearExpr.weighted_sum(
                [self.x[o] for o in opts], p.opt_compute[opts].tolist()))
            ct = self.model.add(share.denominator * mine <= share.numerator * total)
            _enforce(ct, self.guard(f"concentration:{prov}"))

    def _moves(self) -> None:
        # Re-planning: at most K stages move away from the previous plan.
        p = self.p
        if p.max_moves is None:
            return
        moved = []
        for s in range(p.n_stages):
            opts = [o for o in p.options_of(s) if p.opt_moved[o]]
            if not opts:
                continue
            m_s = self.model.new_bool_var(f"m{s}")
            self.moved.append((m_s, opts))
            for o in opts:
                self.model.add(int(p.units[s]) * m_s >= self.x[o])
            moved.append(m_s)
        _enforce(self.model.add(sum(moved) <= p.max_moves), self.guard("moves"))

    def add_hint(self, x: IntArray) -> None:
        """Hint every variable from a complete assignment ``x`` (site use, egress, spend,
        moves too), so CP-SAT can take it as its first solution without a search."""
        p, model = self.p, self.model
        for o, var in enumerate(self.x):
            model.add_hint(var, int(x[o]))
        used = {(s, j) for s in {s for s, _ in self.y} for j in p.sites_used(x, s)}
        for key, var in self.y.items():
            model.add_hint(var, int(key in used))
        cost = [0] * len(self.e)
        for z, k, i, j in self.z:
            on = (p.edges[k].a, i) in used and (p.edges[k].b, j) in used
            model.add_hint(z, int(on))
            cost[k] += p.edges[k].cost[(i, j)] if on else 0
        for var, c in zip(self.e, cost, strict=True):
            model.add_hint(var, c)
        spend = (p.opt_compute * x).tolist()
        for var, opts in self.spend:
            model.add_hint(var, sum(spend[o] for o in opts))
        for var, opts in self.moved:
            model.add_hint(var, int(any(x[o] > 0 for o in opts)))
        if self.fund:
            for var, on in zip(self.fund, p.funded(x), strict=True):
                model.add_hint(var, int(on))

    def read(self, solver: cp_model.CpSolver) -> IntArray:
        return np.array([solver.value(v) for v in self.x], dtype=np.int64)


def configure(solver: cp_model.CpSolver, options: SolveOptions) -> None:
    """Time limit, workers, seed. By default CP-SAT stops at the wall-clock deadline;
    ``deterministic`` counts deterministic time instead (same plan every run, the wall
    time only approximately the limit), with a wall-clock cap only against runaways:
    10 × the limit, at least :data:`DETERMINISTIC_WALL_FLOOR_S` (10 × a short limit,
    0.6 s for a forced re-solve's 0.06 deterministic seconds, was reached on a loaded
    machine in one run and not the next, and the two plans differed)."""
    params = solver.parameters
    params.num_workers = options.workers
    params.random_seed = cpsat_seed(options.seed)
    limit = options.remaining_s()
    if options.deterministic:
        params.interleave_search = True
        params.max_deterministic_time = max(limit, 0.01)
        params.max_time_in_seconds = max(limit * 10, DETERMINISTIC_WALL_FLOOR_S)
    else:
        params.max_time_in_seconds = max(limit, 0.001)


def validated(model: cp_model.CpModel, what: str = "placement") -> None:
    """Raise :class:`SolverError` if CP-SAT would reject the model (MODEL_INVALID)."""
    problem = model.validate()
    if problem:
        raise SolverError(f"CP-SAT rejects the {what} model: {problem.splitlines()[0]}")


