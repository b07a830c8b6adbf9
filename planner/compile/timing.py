"""Candidates → :class:`~planner.models.timing.Timing`: the calendar in the solvers' terms.

The semantics are in :mod:`planner.compile.calendar`; here they become whole-hour arrays
aligned with the :class:`~planner.models.problem.Problem` of the same candidates: one
duration per option, one window per stage, the units each usage row holds at once, the
inventory or quota of each resource, precedence arcs and outages.
"""

from __future__ import annotations

import math

import numpy as np

from planner.compile.arrays import with_pruned
from planner.compile.calendar import at, horizon, predecessors, whole, whole_duration, window
from planner.compile.candidates import Candidates
from planner.compile.market import Market, offer_resource
from planner.compile.options import OptionTable
from planner.models.portfolio import Portfolio, StageKind
from planner.models.problem import IntArray, Problem
from planner.models.timing import Outage, Precedence, Timing
from planner.money import to_micro


def instant_use(table: OptionTable) -> tuple[IntArray, IntArray, IntArray]:
    """Per usage row (the order :func:`planner.compile.arrays.build_problem` uses): option,
    resource, and the units of it one unit of the option holds at once (instances of the
    offer, GPUs of the site's model)."""
    market, rows = table.book.market, table.rows
    res = np.stack([market.offer_res[rows.offer], market.gpu_res[rows.offer]], axis=1).ravel()
    gpus = np.array(market.gpu_counts, dtype=np.int64)[rows.offer]
    now = np.stack([rows.n, rows.n * gpus], axis=1).ravel()
    opt = np.repeat(np.arange(len(table), dtype=np.int64), 2)
    has = res >= 0
    return opt[has], res[has], now[has]


def _durations(table: OptionTable) -> IntArray:
    """Whole hours every option's instances run (its run hours rounded up)."""
    book, rows = table.book, table.rows
    col = book.market.model_col_of[rows.offer]
    ids = book.hours_id[rows.stage, col]
    per_id = np.array([whole_duration(h) for h in book.hours.values], dtype=np.int64)
    return per_id[ids]


def _outages(portfolio: Portfolio, market: Market) -> tuple[Outage, ...]:
    """On-prem outages on the resources they take, in whole hours rounded outwards."""
    res = {name: i for i, name in enumerate(market.res_names)}
    h = horizon(portfolio.settings)
    out = []
    for site in portfolio.onprem:
        for offer in site.offers:
            r = res.get(offer_resource(site.id, offer.id))
            if r is None:
                continue
            for o in offer.outages:
                start = max(0, math.floor(at(portfolio.settings, o.from_)))
                end = min(h, math.ceil(at(portfolio.settings, o.to)))
                if start < end:
                    out.append(Outage(r, start, end, o.nodes))
    return tuple(out)


def _capacity_now(market: Market, world_quotas: dict[tuple[str, str], int]) -> IntArray:
    """Units of every resource at once (inventory, instance quota or GPU quota)."""
    now = dict.fromkeys(market.res_names, 0)
    for o in market.offers:
        if o.capacity is not None:
            now[offer_resource(o.site_id, o.id)] = o.capacity
    for (site, model), gpus in world_quotas.items():
        now[f"gpu:{site}/{model}"] = gpus
    return np.array([now[n] for n in market.res_names], dtype=np.int64)


def build_timing(portfolio: Portfolio, cands: Candidates, problem: Problem,
                 gpu_quotas: dict[tuple[str, str], int], *,
                 include_pruned: bool = False) -> Timing:
    """The :class:`Timing` of ``problem`` (built from ``cands`` without pruned options, or
    with them: ``build_problem(..., include_pruned=True)``, for the diagnosis)."""
    settings = portfolio.settings
    table = with_pruned(cands)[0] if include_pruned else cands.options
    if len(table) != problem.n_options:
        raise ValueError("build_timing needs the problem of the same options")
    n = len(cands.stages)
    release = np.zeros(n, dtype=np.int64)
    due = np.zeros(n, dtype=np.int64)
    late = np.zeros(n, dtype=np.int64)
    to_end = np.zeros(n, dtype=np.bool_)
    index = {r.key: r.index for r in cands.stages}
    arcs = []
    for ref in cands.stages:
        w = window(settings, ref.stage)
        hours = whole(settings, w)
        release[ref.index], due[ref.index] = hours.release, hours.due
        to_end[ref.index] = ref.stage.kind is StageKind.INFERENCE
        if w.soft and w.late_usd_per_hour is not None:
            late[ref.index] = to_micro(w.late_usd_per_hour)
        transfer = math.ceil(ref.stage.transfer_hours)
        for before in predecessors(settings, ref.workload, ref.stage):
            arcs.append(Precedence(index[f"{ref.workload.id}/{before.label}"], ref.index,
                                   transfer=transfer))
    _, _, now = instant_use(table)
    market = table.book.market
    timing = Timing(horizon=horizon(settings), opt_hours=_durations(table), release=release,
                    due=due, late_cost=late, to_end=to_end, use_now=now,
                    res_now=_capacity_now(market, gpu_quotas), precedence=tuple(arcs),
                    outages=_outages(portfolio, market))
    timing.check_shapes(problem)
    return timing
