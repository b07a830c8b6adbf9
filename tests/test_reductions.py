"""Reductions map plans and bounds back the same way (planner.solvers.reductions).

On small random problems with every side constraint, against brute force: the dominance
reduction keeps the optimum; the component split's parts add up to the optimum and their
plans, put side by side, are a plan of the original at the summed cost; a restriction's
plans map back, but its optimum may be higher, so it maps no bound."""

from __future__ import annotations

import numpy as np
import pytest
from bruteforce import brute_force, feasible, problems
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.models.problem import Problem
from planner.models.status import SolveStatus
from planner.solvers.base import SolveOptions
from planner.solvers.cpsat import CpSatBackend
from planner.solvers.feasibility import violations
from planner.solvers.reductions import Dominance, Reduced, Restrict, Split

FOUND = (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


def _optimal(problem: Problem) -> tuple[np.ndarray, int] | None:
    sol = CpSatBackend().solve(problem, SolveOptions(time_limit_s=5, workers=1))
    if sol.status is SolveStatus.INFEASIBLE:
        return None
    assert sol.status is SolveStatus.OPTIMAL and sol.objective is not None
    return sol.x, sol.objective


def _check_plan_maps_back(reduced: Reduced, xs: list[np.ndarray]) -> None:
    x = reduced.invert(xs)
    assert violations(reduced.original, x) == [] and feasible(reduced.original, x)
    assert reduced.original.objective(x) == sum(
        part.problem.objective(xp) for part, xp in zip(reduced.parts, xs, strict=True))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.one_of(problems(), problems(side=False)))
def test_dominance_keeps_the_optimum(problem: Problem) -> None:
    reduced = Dominance().apply(problem)
    assert reduced.exact and reduced.problem.n_stages == problem.n_stages
    expected = brute_force(problem)
    assert brute_force(reduced.problem) == expected
    found = _optimal(reduced.problem)
    assert (found is None) == (expected is None)
    if found is not None:
        _check_plan_maps_back(reduced, [found[0]])
        assert reduced.map_bound([found[1]]) == expected


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.one_of(problems(), problems(side=False)), st.sampled_from([0, 3, 100]))
def test_split_parts_add_up_to_the_optimum(problem: Problem, batch: int) -> None:
    reduced = Split(batch).apply(problem)
    assert reduced.exact and reduced.components >= 1
    # the parts partition the stages and the options
    stages = np.sort(np.concatenate([p.stages for p in reduced.parts]))
    options = np.sort(np.concatenate([p.options for p in reduced.parts]))
    assert stages.tolist() == list(range(problem.n_stages))
    assert options.tolist() == list(range(problem.n_options))
    for part in reduced.parts:  # batches of small components, or one larger component
        assert (part.problem.n_options <= batch) == part.batched
    expected = brute_force(problem)
    found = [_optimal(p.problem) for p in reduced.parts]
    if any(f is None for f in found):
        assert expected is None
        return
    plans = [f[0] for f in found if f is not None]
    bounds = [f[1] for f in found if f is not None]
    assert reduced.map_bound(bounds) == expected
    _check_plan_maps_back(reduced, plans)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(problems(), st.data())
def test_a_restriction_maps_plans_back_but_no_bound(problem: Problem, data: st.DataObject) -> None:
    keep = np.array(sorted(data.draw(st.sets(st.integers(0, problem.n_options - 1),
                                             min_size=1))), dtype=np.int64)
    reduced = Restrict(keep).apply(problem)
    assert not reduced.exact
    found = _optimal(reduced.problem)
    if found is None:
        return
    _check_plan_maps_back(reduced, [found[0]])
    expected = brute_force(problem)
    assert expected is not None and found[1] >= expected
    assert reduced.map_bound([found[1]]) is None


def _two_options() -> Problem:
    """One stage, a cheap option (1) and a dear one (10)."""
    zero = np.zeros(0, dtype=np.int64)
    cost = np.array([1, 10], dtype=np.int64)
    return Problem(n_stages=1, stage_ptr=np.array([0, 2]), units=np.array([1]),
                   opt_cost=cost, opt_obj=cost, opt_compute=cost, opt_ub=np.array([1, 1]),
                   opt_site=np.array([0, 1]), opt_moved=np.zeros(2, dtype=np.bool_),
                   use_opt=zero, use_res=zero, use_amt=zero, res_cap=zero, res_names=(),
                   site_names=("aws:a", "aws:b"), site_provider=("aws", "aws"),
                   site_cloud=(True, True), stage_keys=("w/s",))


def test_dominance_drops_the_dear_option_and_maps_back() -> None:
    p = _two_options()
    reduced = Dominance().apply(p)
    assert reduced.problem.n_options == 1 and reduced.parts[0].options.tolist() == [0]
    assert reduced.invert([np.array([1])]).tolist() == [1, 0]
    assert reduced.map_bound([1]) == 1


def test_a_restriction_bound_would_be_wrong_so_none_is_given() -> None:
    p = _two_options()
    reduced = Restrict(np.array([1], dtype=np.int64)).apply(p)
    found = _optimal(reduced.problem)
    assert found is not None and found[1] == 10 > brute_force(p) == 1
    assert reduced.map_bound([10]) is None
    assert reduced.invert([found[0]]).tolist() == [0, 1]


def test_answers_must_match_the_parts() -> None:
    reduced = Split().apply(_two_options())
    with pytest.raises(ValueError, match="2 solutions for 1 parts"):
        reduced.invert([np.zeros(2, dtype=np.int64)] * 2)
    with pytest.raises(ValueError, match="0 bounds for 1 parts"):
        reduced.map_bound([])
