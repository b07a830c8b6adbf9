"""One-move descent: every stage to its cheapest option that still fits, until none moves.

A rounding from multipliers (:mod:`planner.solvers.lp_round`) places each stage on the
option of least *reduced* cost that fits when its turn comes. Near-exact multipliers price
the contended capacity, but the fill is one pass in one order: capacity that the stages
after it leave free, and options that tie on reduced cost but not on cost, are never
looked at again. Here each stage in turn (the most above its cheapest option first) leaves
its option and takes the cheapest one, by the objective itself, that fits in the capacity
the others leave, if that is cheaper; rounds repeat while a stage moves. Each move keeps
every capacity row and lowers the objective, so the plan stays a plan.

Measured at hard xl's first placement (22 M options): the regret fill's $555.8 M became
$532.3 M in 24 s (32,173 moves; the bound is $519.6 M), where the large-neighbourhood
search that follows has seconds and found nothing in 13 s.

It applies to one unit per stage and no side constraint (:func:`applies`): a move changes
one stage, and a rule across stages (edges, co-location, budgets, shares, move caps) could
break.
"""

from __future__ import annotations

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.solvers.base import Deadline
from planner.solvers.decompose import constrained_stages, opt_stage

ROUNDS = 3
"""At most this many rounds over the stages (hard xl: 30,000 moves in the first, a few
hundred in the third)."""


def applies(problem: Problem) -> bool:
    """One unit per stage, and no stage in a rule across stages."""
    return bool((problem.units == 1).all() and not constrained_stages(problem).any())


def descend(problem: Problem, x: IntArray, deadline: Deadline, rounds: int = ROUNDS
            ) -> tuple[IntArray, int]:
    """``x`` after the descent of the module docstring (at most ``rounds`` rounds, until
    ``deadline``; a copy) and the number of moves. ``x`` must be a complete plan within
    capacity."""
    p = problem
    x = x.copy()
    if not p.n_stages:
        return x, 0
    order = np.argsort(p.use_opt, kind="stable")
    ptr = np.searchsorted(p.use_opt[order], np.arange(p.n_options + 1)).tolist()
    res = p.use_res[order].tolist()
    amt = p.use_amt[order].tolist()
    used = np.bincount(p.use_res, weights=p.use_amt * x[p.use_opt], minlength=p.res_cap.size)
    left = (p.res_cap - used.astype(np.int64)).tolist()
    obj = p.opt_obj
    st = opt_stage(p)
    on = np.zeros(p.n_stages, dtype=np.int64)
    on[st[x > 0]] = np.flatnonzero(x > 0)
    cheapest = np.minimum.reduceat(obj, p.stage_ptr[:-1]) if p.n_options else obj[:0]
    starts = p.stage_ptr.tolist()
    moves = 0
    for _round in range(rounds):
        above = obj[on] - cheapest
        turn = np.flatnonzero(above > 0)
        turn = turn[np.argsort(-above[turn], kind="stable")].tolist()
        before = moves
        for s in turn:
            if deadline.expired():
                return x, moves
            now = int(on[s])
            a = starts[s]
            cheaper = a + np.flatnonzero(obj[a:starts[s + 1]] < obj[now])
            if not cheaper.size:
                continue
            for j in range(ptr[now], ptr[now + 1]):
                left[res[j]] += amt[j]
            to = now
            for o in cheaper[np.argsort(obj[cheaper], kind="stable")].tolist():
                if all(left[res[j]] >= amt[j] for j in range(ptr[o], ptr[o + 1])):
                    to = o
                    break
            for j in range(ptr[to], ptr[to + 1]):
                left[res[j]] -= amt[j]
            if to != now:
                x[now] -= 1
                x[to] += 1
                on[s] = to
                moves += 1
        if moves == before:
            break
    return x, moves
