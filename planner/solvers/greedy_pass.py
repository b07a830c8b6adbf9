"""The greedy pass: hardest stages first, each unit on its cheapest option that still fits.

Also the warm start (solution hint) of CP-SAT and the other strategies. Stages go in
dependency order (topological over co-location and pipeline-edge dependencies: a stage
that must run with, or receives data from, another stage goes after it and sees its
sites); among the stages that are ready, the hardest go first. When a unit finds no
option that still fits, the pass makes room for it (:class:`planner.solvers.repair.Room`:
units of other stages move to their next-cheapest options); a stage that still does not
fit is taken out again and reported as stuck, and the pass goes on with the others
(:func:`greedy_pass`). The backend (:mod:`planner.solvers.greedy`) repairs what is left
with CP-SAT and runs the shared feasibility check.

With funding (partial plans, :mod:`planner.solvers.funding`) it places workload by
workload, by reward per cheapest cost, and declines a workload that does not fit, breaks
a rule or costs more than it earns (:func:`greedy_fund`).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from planner.models.problem import IntArray, Problem
from planner.solvers.funding import group_stages
from planner.solvers.repair import Room


def _usage_by_option(problem: Problem) -> list[list[tuple[int, int]]]:
    per: list[list[tuple[int, int]]] = [[] for _ in range(problem.n_options)]
    for o, r, a in zip(problem.use_opt.tolist(), problem.use_res.tolist(),
                       problem.use_amt.tolist(), strict=True):
        per[o].append((r, a))
    return per


def _least_need(problem: Problem) -> IntArray:
    """Per stage, the least total amount one of its options uses (0 without options), in
    arrays: a loop over every option's usage took 1.3 s of greedy's 6.6 s at hard l."""
    total = np.zeros(problem.n_options, dtype=np.int64)
    if problem.use_opt.size:  # usage rows are in option order: one run per option
        opts, first = np.unique(problem.use_opt, return_index=True)
        total[opts] = np.add.reduceat(problem.use_amt, first)
    need = np.zeros(problem.n_stages, dtype=np.int64)
    has = np.flatnonzero(np.diff(problem.stage_ptr) > 0)
    if has.size:
        need[has] = np.minimum.reduceat(total, problem.stage_ptr[has])
    return need


def dependencies(problem: Problem) -> dict[int, set[int]]:
    """Stage → the stages it depends on (co-location partner, pipeline-edge source)."""
    deps: dict[int, set[int]] = defaultdict(set)
    for c in problem.colocations:
        deps[c.b].add(c.a)
    for e in problem.edges:
        deps[e.b].add(e.a)
    return deps


def _order(problem: Problem, first: frozenset[int] = frozenset()) -> list[int]:
    """Stages in dependency order; among ready stages, those in ``first``, then fewest
    options and largest need first. Stages on a dependency cycle (none in valid input) go
    last, by the same key."""
    counts = np.diff(problem.stage_ptr)
    need = _least_need(problem)

    def key(s: int) -> tuple[int, int, int, int]:
        return (int(s not in first), int(counts[s]), -int(need[s]), s)

    deps = dependencies(problem)
    waiting = {s: len(d) for s, d in deps.items()}
    after: dict[int, list[int]] = defaultdict(list)
    for s, d in deps.items():
        for a in d:
            after[a].append(s)
    ready = [key(s) for s in range(problem.n_stages) if not waiting.get(s)]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        s = heapq.heappop(ready)[-1]
        order.append(s)
        for b in after[s]:
            waiting[b] -= 1
            if waiting[b] == 0:
                heapq.heappush(ready, key(b))
    placed = set(order)
    return order + sorted((s for s in range(problem.n_stages) if s not in placed), key=key)


def _allowed_sites(problem: Problem, x: IntArray, s: int) -> set[int] | None:
    allowed: set[int] | None = None
    for c in problem.colocations:
        if c.b != s:
            continue
        groups = {int(c.group[i]) for i in problem.sites_used(x, c.a)}
        if not groups:
            continue
        sites = {j for j in range(len(problem.site_names)) if int(c.group[j]) in groups}
        allowed = sites if allowed is None else allowed & sites
    return allowed


def _edge_penalty(problem: Problem, x: IntArray, s: int) -> dict[int, int]:
    """Extra cost of the first unit at each site, from edges whose source is placed."""
    extra: dict[int, int] = defaultdict(int)
    for e in problem.edges:
        if e.b != s:
            continue
        src = problem.sites_used(x, e.a)
        if len(src) == 1:
            i = next(iter(src))
            for (ii, j), c in e.cost.items():
                if ii == i:
                    extra[j] += c
    return extra


def _place_stage(problem: Problem, usage: list[list[tuple[int, int]]], x: IntArray,
                 remaining: IntArray, s: int, room: Room | None = None) -> bool:
    """Put every unit of stage ``s`` on its cheapest option that still fits (updates ``x``
    and ``remaining``); when none fits, ``room`` (if given) makes room for one. False when
    a unit finds no option."""
    allowed = _allowed_sites(problem, x, s)
    extra = _edge_penalty(problem, x, s)
    units = int(problem.units[s])
    k = int(problem.min_sites[s]) if problem.min_sites is not None else 1
    used_sites: set[int] = set()
    for placed in range(units):
        must_spread = len(used_sites) < k and units - placed <= k - len(used_sites)
        best, best_cost = -1, 0
        blocked: list[tuple[int, int]] = []
        for o in problem.options_of(s):  # sorted by objective per unit
            site = int(problem.opt_site[o])
            if allowed is not None and site not in allowed:
                continue
            if x[o] >= problem.opt_ub[o] or (must_spread and site in used_sites):
                continue
            c = int(problem.opt_obj[o]) + (extra.get(site, 0) if site not in used_sites else 0)
            if not all(remaining[r] >= a for r, a in usage[o]):
                blocked.append((c, o))
                continue
            if best < 0 or c < best_cost:
                best, best_cost = o, c
        if best < 0 and room is not None and blocked and not room.exhausted():
            best = room.make_room(x, remaining, s, blocked)
        if best < 0:
            return False
        x[best] += 1
        used_sites.add(int(problem.opt_site[best]))
        for r, a in usage[best]:
            remaining[r] -= a
    return True


@dataclass
class Pass:
    """What a greedy pass did: units per option (the stuck stages place none), the stages
    that found no room, the stages placed only after making room, and how many units of
    other stages moved for them."""

    x: IntArray
    stuck: list[int] = field(default_factory=list)
    repaired: list[int] = field(default_factory=list)
    moved: int = 0

    @property
    def complete(self) -> bool:
        return not self.stuck


def _take_out(problem: Problem, usage: list[list[tuple[int, int]]], x: IntArray,
              remaining: IntArray, s: int) -> None:
    """Remove every unit of stage ``s`` (a stage that did not fit)."""
    for o in problem.options_of(s):
        if x[o]:
            for r, a in usage[o]:
                remaining[r] += a * int(x[o])
            x[o] = 0


def greedy_pass(problem: Problem, repair: bool = True,
                first: frozenset[int] = frozenset()) -> Pass:
    """The greedy pass over every stage (without funding), the stages in ``first`` as
    early as their dependencies allow; with ``repair`` it makes room for a stuck unit
    (:class:`~planner.solvers.repair.Room`) before giving the stage up."""
    usage = _usage_by_option(problem)
    remaining = problem.res_cap.astype(np.int64).copy()
    out = Pass(np.zeros(problem.n_options, dtype=np.int64))
    room: Room | None = None
    for s in _order(problem, first):
        if _place_stage(problem, usage, out.x, remaining, s):
            continue
        _take_out(problem, usage, out.x, remaining, s)
        if repair and room is None:
            room = Room(problem, usage)
        before = room.moved if room is not None else 0
        if room is not None and _place_stage(problem, usage, out.x, remaining, s, room):
            out.repaired.append(s)
        else:
            _take_out(problem, usage, out.x, remaining, s)
            out.stuck.append(s)
        out.moved += (room.moved if room is not None else 0) - before
    return out


def greedy_assign(problem: Problem) -> tuple[IntArray, bool]:
    """Units per option, and whether every stage got all its units (with funding: whether
    the result is a valid partial plan, see :func:`greedy_fund`). Makes room for stuck
    units (:func:`greedy_pass`); the stages that still do not fit place no unit."""
    if problem.funding:
        return greedy_fund(problem), True
    done = greedy_pass(problem)
    return done.x, done.complete


def _stage_cost(problem: Problem, x: IntArray, stages: list[int]) -> int:
    total = 0
    for s in stages:
        r = problem.options_of(s)
        total += int((problem.opt_obj[r.start:r.stop] * x[r.start:r.stop]).sum())
    return total + problem.edge_cost(x, set(stages))


class _Side:
    """The side rules of the shared check, kept incrementally while greedy adds whole
    workloads (so a large portfolio is not re-checked from scratch per workload)."""

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        self.spent = [0] * len(problem.budgets)
        self.budgets_of: dict[int, list[int]] = defaultdict(list)
        for k, b in enumerate(problem.budgets):
            for st in b.stages.tolist():
                self.budgets_of[st].append(k)
        self.coloc_into: dict[int, list[int]] = defaultdict(list)
        for k, c in enumerate(problem.colocations):
            self.coloc_into[c.b].append(k)
        self.compute: dict[str, int] = defaultdict(int)
        self.total = 0
        self.moved = 0

    def _changes(self, x: IntArray, stages: list[int]
                 ) -> tuple[list[int], dict[str, int], int, int] | None:
        """Budget, provider and move changes of adding ``stages`` (placed in ``x``), or
        None when a co-location or spread rule of them breaks."""
        p = self.p
        spend = list(self.spent)
        compute: dict[str, int] = defaultdict(int)
        total = moved = 0
        for st in stages:
            sites = p.sites_used(x, st)
            for k in self.coloc_into[st]:
                c = p.colocations[k]
                groups = {int(c.group[i]) for i in p.sites_used(x, c.a)}
                if any(int(c.group[j]) not in groups for j in sites):
                    return None
            if p.min_sites is not None and len(sites) < int(p.min_sites[st]):
                return None
            r = p.options_of(st)
            cost = int((p.opt_cost[r.start:r.stop] * x[r.start:r.stop]).sum())
            for k in self.budgets_of[st]:
                spend[k] += cost + p.edge_cost(x, {st})
            for o in np.flatnonzero(x[r.start:r.stop]).tolist():
                o += r.start
                j = int(p.opt_site[o])
                c_o = int(p.opt_compute[o]) * int(x[o])
                total += c_o
                if p.site_cloud[j]:
                    compute[p.site_provider[j]] += c_o
            moved += bool((x[r.start:r.stop] > 0)[p.opt_moved[r.start:r.stop]].any())
        return spend, compute, total, moved

    def admit(self, x: IntArray, stages: list[int]) -> bool:
        """Add the workload's ``stages`` if every side rule still holds."""
        p = self.p
        ch = self._changes(x, stages)
        if ch is None:
            return False
        spend, compute, total, moved = ch
        if any(v > b.cap for v, b in zip(spend, p.budgets, strict=True)):
            return False
        if p.max_moves is not None and self.moved + moved > p.max_moves:
            return False
        share = p.max_share
        mine = {q: self.compute[q] + compute.get(q, 0) for q in set(self.compute) | set(compute)}
        if share is not None and any(
                v * share.denominator > share.numerator * (self.total + total)
                for v in mine.values()):
            return False
        self.spent, self.total, self.moved = spend, self.total + total, self.moved + moved
        self.compute = defaultdict(int, mine)
        return True


def greedy_fund(problem: Problem) -> IntArray:
    """Funding: workloads by reward per cheapest cost (priority levels and required
    workloads first, as their rewards say), each placed whole by the greedy pass or
    declined — when a stage does not fit, when it breaks a side rule (kept incrementally,
    :class:`_Side`), or when it costs more than it earns. Always a valid (maybe empty)
    partial plan."""
    assert problem.group_reward is not None
    usage = _usage_by_option(problem)
    order = _order(problem)
    rank = {s: i for i, s in enumerate(order)}
    groups = group_stages(problem)
    counts = np.diff(problem.stage_ptr)
    cheap = [sum(int(problem.opt_obj[problem.stage_ptr[s]]) * int(problem.units[s])
                 for s in st if counts[s]) for st in groups]
    rewards = problem.group_reward.tolist()
    todo = sorted((g for g, st in enumerate(groups) if st and all(counts[s] for s in st)
                   and rewards[g] > cheap[g]),
                  key=lambda g: (-rewards[g] / max(1, cheap[g]), g))
    x = np.zeros(problem.n_options, dtype=np.int64)
    remaining = problem.res_cap.astype(np.int64).copy()
    side = _Side(problem)
    for g in todo:
        stages = sorted(groups[g], key=rank.__getitem__)
        spans = [problem.options_of(s) for s in stages]
        saved = [x[r.start:r.stop].copy() for r in spans]
        left = remaining.copy()
        if all(_place_stage(problem, usage, x, left, s) for s in stages) and \
                _stage_cost(problem, x, stages) < rewards[g] and side.admit(x, stages):
            remaining = left
            continue
        for r, old in zip(spans, saved, strict=True):  # decline: undo its stages
            x[r.start:r.stop] = old
    return x
