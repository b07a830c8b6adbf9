"""The blocker check (planner.solvers.blockers) on problems given as arrays: on random
problems with every side rule it names exactly the rule groups a swap breaks (compared
with the brute-force feasibility check of tests/bruteforce.py), and on hand-built ones
spread, the move cap, the provider share cap and two rules at once."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
from bruteforce import feasible, problems
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.models.problem import PBudget, PColoc, PEdge, Problem
from planner.models.status import SolveStatus
from planner.solvers.base import SolveOptions
from planner.solvers.blockers import find_blockers
from planner.solvers.cpsat import CpSatBackend

# the blocker check against brute force --------------------------------------------------

@settings(max_examples=60, deadline=None, derandomize=True)
@given(problems(max_stages=5, max_options=3, side=False))
def test_blockers_match_brute_force_feasibility(problem: Problem) -> None:
    sol = CpSatBackend().solve(problem, SolveOptions(time_limit_s=5, workers=1))
    if sol.status is not SolveStatus.OPTIMAL:
        return
    x = sol.x
    for s in range(problem.n_stages):
        used = [o for o in problem.options_of(s) if x[o] > 0]
        source = min(used, key=lambda o: (int(problem.opt_obj[o]), o))
        for o in problem.options_of(s):
            if x[o] > 0:
                continue
            found = find_blockers(problem, x, o, 5.0)
            swapped = x.copy()
            swapped[source] -= 1
            swapped[o] += 1
            assert found.decided
            assert (found.rules == []) == feasible(problem, swapped)
            assert found.cost_delta == int((problem.opt_cost * (swapped - x)).sum())
            for name in found.rules:  # each named rule is broken by the swap
                r = problem.res_names.index(name.removeprefix("capacity:"))
                use = sum(int(a) * int(swapped[q]) for q, rr, a in
                          zip(problem.use_opt, problem.use_res, problem.use_amt, strict=True)
                          if rr == r)
                assert use > problem.res_cap[r]


@st.composite
def rich_problems(draw: st.DrawFn) -> Problem:
    """Random problems with every side rule: sites of several providers, pipeline edges,
    co-location, spread, budgets, a provider share cap and a move cap."""
    p = draw(problems(max_stages=5, max_options=3, side=False))
    n_sites = draw(st.integers(1, 4))
    providers = tuple(draw(st.sampled_from(["aws", "azure", "onprem"])) for _ in range(n_sites))
    opt_site = np.array([draw(st.integers(0, n_sites - 1)) for _ in range(p.n_options)],
                        dtype=np.int64)
    single = [s for s in range(p.n_stages) if p.units[s] == 1]
    pairs = [(a, b) for a in single for b in range(p.n_stages) if a != b]
    price = st.integers(0, 300)
    edges = tuple(PEdge(a, b, {(i, j): draw(price) for i in range(n_sites)
                               for j in range(n_sites) if i != j})
                  for a, b in draw(st.lists(st.sampled_from(pairs), max_size=2, unique=True))
                  ) if pairs else ()
    colocs = tuple(PColoc(a, b, np.array([draw(st.integers(0, 1)) for _ in range(n_sites)],
                                         dtype=np.int64), f"colocation:s{b}")
                   for a, b in (draw(st.lists(st.sampled_from(pairs), max_size=1))
                                if pairs else []))
    budgets = tuple(PBudget(f"budget:b{k}", np.array(sorted(set(draw(
        st.lists(st.integers(0, p.n_stages - 1), min_size=1, max_size=3)))), dtype=np.int64),
        draw(st.integers(300, 4000))) for k in range(draw(st.integers(0, 2))))
    return replace(
        p, opt_site=opt_site, site_names=tuple(f"{q}:s{j}" for j, q in enumerate(providers)),
        site_provider=providers, site_cloud=tuple(q != "onprem" for q in providers),
        min_sites=np.array([draw(st.integers(1, 2)) if p.units[s] > 1 else 1
                            for s in range(p.n_stages)], dtype=np.int64),
        edges=edges, colocations=colocs, budgets=budgets,
        max_share=draw(st.sampled_from([None, Fraction(2, 3), Fraction(3, 4)])),
        opt_moved=np.array([draw(st.booleans()) for _ in range(p.n_options)], dtype=np.bool_),
        max_moves=draw(st.sampled_from([None, 1, 2])),
        stage_keys=tuple(f"s{s}" for s in range(p.n_stages)))


def without(p: Problem, names: set[str]) -> Problem:
    """The problem with the named rule groups dropped (every provider's share cap goes
    with any one of them)."""
    caps = p.res_cap.copy()
    for k, r in enumerate(p.res_names):
        if f"capacity:{r}" in names:
            caps[k] = 10**12
    min_sites = p.min_sites.copy() if p.min_sites is not None else None
    if min_sites is not None:
        for s in range(p.n_stages):
            if f"spread:{p.stage_keys[s]}" in names:
                min_sites[s] = 1
    return replace(
        p, res_cap=caps, min_sites=min_sites,
        colocations=tuple(c for c in p.colocations if c.name not in names),
        budgets=tuple(b for b in p.budgets if b.name not in names),
        max_share=None if any(n.startswith("concentration:") for n in names) else p.max_share,
        max_moves=None if "moves" in names else p.max_moves)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(rich_problems())
def test_blockers_are_exactly_the_rules_the_swap_breaks(problem: Problem) -> None:
    sol = CpSatBackend().solve(problem, SolveOptions(time_limit_s=5, workers=1))
    if sol.status is not SolveStatus.OPTIMAL:
        return
    x = sol.x
    assert feasible(problem, x)
    for s in range(problem.n_stages):
        used = [o for o in problem.options_of(s) if x[o] > 0]
        source = min(used, key=lambda o: (int(problem.opt_obj[o]), o))
        for o in problem.options_of(s):
            if x[o] > 0 or problem.opt_ub[o] < 1:
                continue
            found = find_blockers(problem, x, o, 5.0)
            swapped = x.copy()
            swapped[source] -= 1
            swapped[o] += 1
            assert found.decided
            assert (found.rules == []) == feasible(problem, swapped)
            assert found.cost_delta == problem.real_cost(swapped, set(range(problem.n_stages))) \
                - problem.real_cost(x, set(range(problem.n_stages)))
            assert feasible(without(problem, set(found.rules)), swapped)
            for name in found.rules:
                if not name.startswith("concentration:"):
                    assert not feasible(without(problem, set(found.rules) - {name}), swapped)


def tiny(costs: list[int], ptr: list[int], units: list[int], sites: list[int],
         **kw: Any) -> Problem:
    """A hand-built problem: option costs, stage pointers, units and the site of each
    option (sites ``aws:s<j>``, or as given)."""
    n = len(costs)
    c = np.array(costs, dtype=np.int64)
    names = kw.pop("site_names", tuple(f"aws:s{j}" for j in range(max(sites) + 1)))
    empty = np.zeros(0, dtype=np.int64)
    base = Problem(
        n_stages=len(units), stage_ptr=np.array(ptr, dtype=np.int64),
        units=np.array(units, dtype=np.int64), opt_cost=c, opt_obj=c, opt_compute=c,
        opt_ub=np.array([units[next(s for s in range(len(units)) if ptr[s + 1] > o)]
                         for o in range(n)], dtype=np.int64),
        opt_site=np.array(sites, dtype=np.int64), opt_moved=np.zeros(n, dtype=np.bool_),
        use_opt=empty, use_res=empty, use_amt=empty, res_cap=empty, res_names=(),
        site_names=names, site_provider=tuple(s.split(":")[0] for s in names),
        site_cloud=tuple(not s.startswith("onprem") for s in names),
        stage_keys=tuple(f"s{s}" for s in range(len(units))))
    return replace(base, **kw)


def test_blocked_by_spread() -> None:
    # Two replicas over ≥ 2 sites: one at s0 (10), one at s1 (20). Moving the s1 replica to
    # the other offer at s0 (15) saves 5 but leaves one site.
    p = tiny([10, 20, 15], [0, 3], [2], [0, 1, 0],
             opt_ub=np.array([1, 2, 2], dtype=np.int64), min_sites=np.array([2]))
    x = np.array([1, 1, 0], dtype=np.int64)
    found = find_blockers(p, x, 2, 1.0, source=1)
    assert found.rules == ["spread:s0"] and found.cost_delta == -5


def test_blocked_by_move_cap() -> None:
    # Two stages, each kept on its previous option (o0, o2); moving stage 1 to o3 (cheaper)
    # is a move, and no move is allowed.
    p = tiny([10, 5, 10, 5], [0, 2, 4], [1, 1], [0, 1, 0, 1],
             opt_moved=np.array([False, True, False, True]), max_moves=0)
    x = np.array([1, 0, 1, 0], dtype=np.int64)
    found = find_blockers(p, x, 3, 1.0)
    assert found.rules == ["moves"] and found.cost_delta == -5


def test_blocked_by_provider_share() -> None:
    # aws 40 per stage, azure 45; at most 60 % of compute on one provider: one stage runs
    # on azure, and moving it to aws would put 100 % there.
    names = ("aws:s0", "azure:s1")
    p = tiny([40, 45, 40, 45], [0, 2, 4], [1, 1], [0, 1, 0, 1], site_names=names,
             max_share=Fraction(3, 5))
    x = np.array([1, 0, 0, 1], dtype=np.int64)
    found = find_blockers(p, x, 2, 1.0)
    assert found.rules == ["concentration:aws"] and found.cost_delta == -5


def test_several_rules_are_all_named() -> None:
    # Stage 1's other option is cheaper in the objective (40 < 45) but costs 60: with
    # stage 0's 50 that breaks the budget of 100, and it is a move while none is allowed.
    p = tiny([50, 45, 60], [0, 1, 3], [1, 1], [0, 0, 1],
             opt_obj=np.array([50, 45, 40], dtype=np.int64),
             opt_moved=np.array([False, False, True]), max_moves=0,
             budgets=(PBudget("budget:total", np.array([0, 1]), 100),))
    found = find_blockers(p, np.array([1, 1, 0], dtype=np.int64), 2, 1.0)
    assert found.rules == ["budget:total", "moves"]
    assert (found.cost_delta, found.objective_delta) == (15, -5)
