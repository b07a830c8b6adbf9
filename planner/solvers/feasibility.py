"""The one feasibility check every backend runs on its answer, over the problem's arrays.

:func:`violations` checks every rule of :class:`~planner.models.problem.Problem` for an
assignment ``x`` (units per option), one function per rule: units (with funding: each
workload whole or left out), option bounds, options forbidden by a rule, capacity,
co-location, spread, budgets, provider concentration and the move cap.
Heuristics use it to decline or repair a start that breaks a rule; :func:`finish` is the
last step of every backend's ``solve``: a plan that still breaks a rule, an objective
that does not match the assignment or a bound above the objective is a planner bug and
raises :class:`~planner.solvers.base.SolverError` — never a broken plan, never a hidden
bound error. It also reports the best valid bound (the trivial bound is always valid).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from planner.models.problem import IntArray, PColoc, Problem
from planner.solvers.base import Solution, SolverError, SolveStatus

FOUND = (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


def _per_stage(problem: Problem, values: IntArray) -> list[int]:
    """Σ of ``values`` (one per option) over each stage's options, as exact Python ints
    (over the nonzero values only: at hard xl, 31 M options and 200,000 stages, a sum over
    every option took seconds per check)."""
    nz = np.flatnonzero(values)
    stage = np.searchsorted(problem.stage_ptr, nz, side="right") - 1
    out = [0] * problem.n_stages
    for s, v in zip(stage.tolist(), values[nz].tolist(), strict=True):
        out[s] += v
    return out


def units_placed(problem: Problem, x: IntArray) -> list[str]:
    """Every stage places exactly its units; no option holds more than its bound."""
    out = []
    if x.shape != (problem.n_options,):
        return [f"assignment has {x.shape} entries for {problem.n_options} options"]
    bad = np.flatnonzero((x < 0) | (x > problem.opt_ub))
    out += [f"option {o} holds {int(x[o])} units (bound {int(problem.opt_ub[o])})"
            for o in bad[:5].tolist()]
    for s, placed in enumerate(_per_stage(problem, x)):
        if placed != int(problem.units[s]) and not (placed == 0 and problem.funding):
            out.append(f"{_stage(problem, s)} places {placed} of {int(problem.units[s])} units")
    return out + _whole_workloads(problem, x)


def _whole_workloads(problem: Problem, x: IntArray) -> list[str]:
    """Funding: a workload places all its stages or none (all-or-nothing)."""
    if not problem.funding:
        return []
    assert problem.stage_group is not None
    funded = problem.funded(x)
    placed = _per_stage(problem, x)
    partial = sorted({int(problem.stage_group[s]) for s in range(problem.n_stages)
                      if placed[s] and not funded[int(problem.stage_group[s])]})
    return [f"workload {_group(problem, g)} is placed only in part" for g in partial]


def capacity(problem: Problem, x: IntArray) -> list[str]:
    """Use of every limited resource within its capacity."""
    used = [0] * problem.res_cap.size
    rows = problem.placed_rows(x)
    for o, r, a in zip(problem.use_opt[rows].tolist(), problem.use_res[rows].tolist(),
                       problem.use_amt[rows].tolist(), strict=True):
        used[r] += a * int(x[o])
    return [f"capacity:{problem.res_names[r]}: uses {u} of {int(problem.res_cap[r])}"
            for r, u in enumerate(used) if u > int(problem.res_cap[r])]


def _stray(problem: Problem, c: PColoc, x: IntArray) -> list[int]:
    """The sites of stage ``c.b`` that share no group with a site of ``c.a``."""
    groups_a = {int(c.group[i]) for i in problem.sites_used(x, c.a)}
    return sorted(j for j in problem.sites_used(x, c.b) if int(c.group[j]) not in groups_a)


def colocation_broken(problem: Problem, c: PColoc, x: IntArray) -> bool:
    """Whether ``x`` breaks the one co-location rule ``c``."""
    return bool(_stray(problem, c, x))


def colocation(problem: Problem, x: IntArray) -> list[str]:
    """Every site of stage b shares a group with a site of stage a."""
    out = []
    for c in problem.colocations:
        stray = _stray(problem, c, x)
        if stray:
            out.append(f"{c.name}: {_stage(problem, c.b)} at "
                       f"{', '.join(_site(problem, j) for j in stray)}, away from "
                       f"{_stage(problem, c.a)}")
    return out


def spread(problem: Problem, x: IntArray) -> list[str]:
    """Stages with min_sites > 1 use at least that many distinct sites."""
    if problem.min_sites is None:
        return []
    out = []
    for s in np.flatnonzero(problem.min_sites > 1).tolist():
        n = len(problem.sites_used(x, s))
        if n == 0 and problem.funding:
            continue  # left out with its workload
        if n < int(problem.min_sites[s]):
            out.append(f"spread:{_stage(problem, s)}: {n} site(s), "
                       f"at least {int(problem.min_sites[s])} required")
    return out


def budgets(problem: Problem, x: IntArray) -> list[str]:
    """Real cost of each budget's stages (pipeline egress included) within its cap."""
    if not problem.budgets:
        return []
    per = _per_stage(problem, problem.opt_cost * x)
    out = []
    for b in problem.budgets:
        stages = set(b.stages.tolist())
        spent = sum(per[s] for s in stages) + problem.edge_cost(x, stages)
        if spent > b.cap:
            out.append(f"{b.name}: spends {spent} > cap {b.cap} micro-USD")
    return out


def concentration(problem: Problem, x: IntArray) -> list[str]:
    """No cloud provider takes more than ``max_share`` of compute spend (exact fraction)."""
    share = problem.max_share
    if share is None:
        return []
    spend = (problem.opt_compute * x).tolist()
    sites = problem.opt_site.tolist()
    by_provider: dict[str, int] = {}
    for o in np.flatnonzero(x).tolist():
        j = sites[o]
        if problem.site_cloud[j]:
            prov = problem.site_provider[j]
            by_provider[prov] = by_provider.get(prov, 0) + spend[o]
    total = sum(spend)
    return [f"concentration:{p}: {mine} of {total} compute > {share}"
            for p, mine in sorted(by_provider.items())
            if mine * share.denominator > share.numerator * total]


def moves(problem: Problem, x: IntArray) -> list[str]:
    """At most ``max_moves`` stages use an option that moves them from the previous plan."""
    if problem.max_moves is None:
        return []
    moved = {s for s in range(problem.n_stages) for o in problem.options_of(s)
             if x[o] > 0 and problem.opt_moved[o]}
    if len(moved) > problem.max_moves:
        return [f"moves: {len(moved)} stages move, at most {problem.max_moves}"]
    return []


def forbidden(problem: Problem, x: IntArray) -> list[str]:
    """No unit on an option a relaxable rule forbids (``opt_groups``: such options exist
    only in the diagnosis model, where the rules that forbid them may be dropped)."""
    if problem.opt_groups is None:
        return []
    return [f"option {o} is forbidden by {', '.join(groups)}"
            for o, groups in enumerate(problem.opt_groups) if groups and x[o] > 0][:5]


RULES = (units_placed, forbidden, capacity, colocation, spread, budgets, concentration, moves)


def violations(problem: Problem, x: IntArray) -> list[str]:
    """Every rule ``x`` breaks, in words (empty when ``x`` is a feasible plan)."""
    broken = units_placed(problem, x)
    if broken:
        return broken  # the other rules assume complete stages
    for rule in RULES[1:]:
        broken += rule(problem, x)
    return broken


def best_bound(problem: Problem, *bounds: int | None) -> int:
    """The largest of the valid lower bounds given and the trivial bound."""
    return max([problem.trivial_bound(), *(b for b in bounds if b is not None)])


def finish(problem: Problem, sol: Solution) -> Solution:
    """The shared last step of every backend (see the module docstring)."""
    if sol.status is SolveStatus.INFEASIBLE:
        return dataclasses.replace(sol, x=np.zeros(problem.n_options, dtype=np.int64),
                                   objective=None, bound=None)
    bound = best_bound(problem, sol.bound) if problem.n_options or problem.funding \
        else sol.bound
    if sol.status not in FOUND:
        return dataclasses.replace(sol, x=np.zeros(problem.n_options, dtype=np.int64),
                                   objective=None, bound=bound)
    broken = violations(problem, sol.x)
    if broken:
        raise SolverError(f"the {sol.backend} backend returned a plan that breaks "
                          f"{len(broken)} rule(s): " + "; ".join(broken[:5]))
    objective = problem.objective(sol.x)
    if sol.objective != objective:
        raise SolverError(f"the {sol.backend} backend reports objective {sol.objective} for a "
                          f"plan that costs {objective}")
    assert bound is not None
    if bound > objective:
        raise SolverError(f"the {sol.backend} backend's lower bound {bound} exceeds its "
                          f"plan's objective {objective}")
    status = SolveStatus.OPTIMAL if bound == objective else sol.status
    return dataclasses.replace(sol, status=status, bound=bound)


def _stage(problem: Problem, s: int) -> str:
    return problem.stage_keys[s] if s < len(problem.stage_keys) else f"stage {s}"


def _group(problem: Problem, g: int) -> str:
    return problem.group_names[g] if g < len(problem.group_names) else f"workload {g}"


def _site(problem: Problem, j: int) -> str:
    return problem.site_names[j] if j < len(problem.site_names) else f"site {j}"
