"""Array-native candidates for large portfolios (``keep_pruned_options=False``, no previous plan).

The options are the same as :func:`planner.compile.candidates.generate` builds one ``Option`` at a
time — same set, same order (objective, then site, offer, purchase), same integer costs and
usage — but they are priced as numpy arrays per group of stages that share every rule result
(site rules, hardware rules, kind, spot), and ``Option`` objects are materialized only when
asked for (:class:`LazyOptions`), by the very function that prices them one at a time
(:func:`planner.compile.pricing.price_options`).

Exactness. Every cost is ``round_half_even(price × 10⁶ × q1 × q2 …)`` and every usage
``ceil(1000 × q1 × q2 …)`` computed with :mod:`decimal` (28 digits). Here the product is
first computed in float64 (relative error < 10⁻¹⁵); wherever the float lies within a
relative 10⁻¹³ of a rounding boundary (a tie x.5 for costs, an integer for usage), the value
is recomputed with the same Decimal expression as :mod:`planner.compile.pricing`. Elsewhere the
float and the exact value round to the same integer, so every result is identical.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, overload

import numpy as np
from numpy.typing import NDArray

from planner.compile.pricing import (
    MAX_STAGE_MICRO,
    MAX_STAGE_USAGE,
    Option,
    commitments_allowed,
    gpu_resource,
    offer_resource,
    price_options,
    purchases,
)
from planner.compile.rules import Rule, StageRef
from planner.models.portfolio import StageKind
from planner.models.world import Offer, Purchase, Site
from planner.money import MICRO, USAGE_SCALE, cost_micro, usage_units

if TYPE_CHECKING:
    from planner.compile.candidates import OfferInfo, SiteInfo, _Context

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

_REL = 1e-13
"""Relative distance to a rounding boundary below which a float product is recomputed."""


def _round_half(v: FloatArray, exact: Callable[[int], int]) -> IntArray:
    """round-half-even of the exact products ``v`` approximates (``exact(i)`` recomputes)."""
    out = np.rint(v).astype(np.int64)
    tol = np.abs(v) * _REL + 1e-9
    amb = np.flatnonzero(np.abs(np.abs(v - np.floor(v)) - 0.5) <= tol)
    for i in amb.tolist():
        out[i] = exact(i)
    return out


def _round_up(v: FloatArray, exact: Callable[[int], int]) -> IntArray:
    """ceil of the exact products ``v`` approximates (``exact(i)`` recomputes)."""
    out = np.ceil(v).astype(np.int64)
    tol = np.abs(v) * _REL + 1e-9
    amb = np.flatnonzero(np.abs(v - np.rint(v)) <= tol)
    for i in amb.tolist():
        out[i] = exact(i)
    return out


class _Triples:
    """Every (site, offer, purchase) an option can use, numbered on first use."""

    def __init__(self) -> None:
        self.index: dict[tuple[str, str, Purchase], int] = {}
        self.site: list[int] = []
        self.offer: list[Offer] = []
        self.purchase: list[Purchase] = []

    def get(self, site_pos: int, site: Site, offer: Offer, purchase: Purchase) -> int:
        key = (site.id, offer.id, purchase)
        t = self.index.get(key)
        if t is None:
            t = self.index[key] = len(self.site)
            self.site.append(site_pos)
            self.offer.append(offer)
            self.purchase.append(purchase)
        return t

    def rank(self) -> IntArray:
        """Rank of every triple in (site id, offer id, purchase value) order: the tie-break."""
        keys = sorted(self.index.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2].value))
        out = np.zeros(len(keys), dtype=np.int64)
        for r, (_, t) in enumerate(keys):
            out[t] = r
        return out


class _Columns:
    """Per-option columns of all groups, concatenated at the end."""

    NAMES = ("stage", "triple", "n", "ub", "compute", "egress", "risk", "pref",
             "res1", "amt1", "res2", "amt2")

    def __init__(self) -> None:
        self.parts: dict[str, list[IntArray]] = {k: [] for k in self.NAMES}

    def add(self, **cols: IntArray) -> None:
        for k in self.NAMES:
            self.parts[k].append(cols[k])

    def concat(self) -> dict[str, IntArray]:
        return {k: (np.concatenate(v) if v else np.zeros(0, dtype=np.int64))
                for k, v in self.parts.items()}


def _hours(memo: dict[tuple[Decimal, Decimal], Decimal], hours: Decimal, speed: Decimal
           ) -> Decimal:
    key = (hours, speed)
    h = memo.get(key)
    if h is None:
        h = memo[key] = hours / speed
    return h


class _Pricer:
    """Prices one group of stages (same rule results, kind and spot) on its admissible
    (site, offer, purchase) triples, as arrays."""

    def __init__(self, ctx: _Context, res_index: dict[str, int], triples: _Triples) -> None:
        self.ctx = ctx
        self.res_index = res_index
        self.triples = triples
        self.hours_memo: dict[tuple[Decimal, Decimal], Decimal] = {}
        self.usage_memo: dict[tuple[Decimal, Decimal], int] = {}
        sites = ctx.sites
        self.site_pos = {s.id: i for i, s in enumerate(sites)}
        homes = {ref_site for ref_site in ctx.world.sites}
        self.rate: dict[str, list[Decimal]] = {}
        self.rate_f: dict[str, FloatArray] = {}
        for h in homes:
            home = ctx.world.sites[h]
            row = [home.egress_per_gb_to(s) for s in sites]
            self.rate[h] = row
            self.rate_f[h] = np.array([float(x) for x in row])
        self.internet = [s.egress.internet_per_gb for s in sites]
        self.internet_f = np.array([float(x) for x in self.internet])

    def admissible(self, ref: StageRef, site_infos: list[SiteInfo],
                   offer_infos: list[list[OfferInfo]]) -> list[tuple[int, int, int]]:
        """(triple, instances per unit, units cap) of every option of the group, world order."""
        out: list[tuple[int, int, int]] = []
        units = ref.units
        commit = commitments_allowed(self.ctx.portfolio.settings, ref.stage,
                                     self.ctx.world.period_hours)
        for pos, (site, reasons, infos) in enumerate(
                zip(self.ctx.sites, site_infos, offer_infos, strict=True)):
            if reasons:
                continue
            for offer, info in zip(self.ctx.offers_at[site.id], infos, strict=True):
                if isinstance(info[0], Rule):
                    continue
                n, fit, _resource = info
                cap = units if fit is None else min(int(fit), units)
                if cap < 1:
                    continue
                for purchase, _price in purchases(site, ref.stage, offer, commit):
                    out.append((self.triples.get(pos, site, offer, purchase), int(n), cap))
        return out

    def price(self, refs: list[StageRef], adm: list[tuple[int, int, int]], cols: _Columns) -> None:
        """Price every option of the stages ``refs`` (one group) into ``cols``."""
        if not adm or not refs:
            return
        ctx, tr = self.ctx, self.triples
        settings = ctx.portfolio.settings
        stage0 = refs[0].stage
        pl = refs[0].workload.placement
        n_s, n_t = len(refs), len(adm)
        t_idx = np.array([a[0] for a in adm], dtype=np.int64)
        n_arr = np.array([a[1] for a in adm], dtype=np.int64)
        cap = np.array([a[2] for a in adm], dtype=np.int64)
        offers = [tr.offer[t] for t in t_idx.tolist()]
        sites = [ctx.sites[tr.site[t]] for t in t_idx.tolist()]
        spos = np.array([tr.site[t] for t in t_idx.tolist()], dtype=np.int64)
        purch = [tr.purchase[t] for t in t_idx.tolist()]
        price = [o.price(p) for o, p in zip(offers, purch, strict=True)]
        assert all(p is not None for p in price)
        prices: list[Decimal] = [p for p in price if p is not None]
        # Hours per (stage, GPU model column).
        by_model = stage0.kind is not StageKind.INFERENCE and stage0.gpu is not None
        models = sorted({o.gpu_model for o in offers if o.gpu_model}) if by_model else []
        col = {m: i for i, m in enumerate(models)}
        mcol = np.array([col[o.gpu_model] if by_model and o.gpu_model else 0 for o in offers],
                        dtype=np.int64)
        hours: list[list[Decimal]] = []
        for r in refs:
            if by_model and r.stage.gpu is not None:
                hours.append([_hours(self.hours_memo, r.stage.hours, r.stage.gpu.models[m])
                              for m in models])
            else:
                hours.append([r.stage.hours])
        hours_f = np.array([[float(h) for h in row] for row in hours], dtype=np.float64)
        h_opt = hours_f[:, mcol]  # (n_s, n_t)
        self._check_magnitudes(refs, offers, sites, prices, n_arr, h_opt)

        def money(rates: list[Decimal]) -> IntArray:
            """cost_micro(rate_t, n_t, hours) for every (stage, triple)."""
            rf = np.array([float(x) for x in rates]) * MICRO * n_arr
            v = (h_opt * rf[None, :]).ravel()

            def exact(i: int) -> int:
                s, t = divmod(i, n_t)
                return cost_micro(rates[t], Decimal(int(n_arr[t])), hours[s][int(mcol[t])])

            return _round_half(v, exact)

        compute = money(prices)
        zero = np.zeros(n_s * n_t, dtype=np.int64)
        risk = zero
        spot = np.array([p is Purchase.SPOT for p in purch])
        if spot.any():
            risk = money([p * settings.spot_risk_uplift for p in prices])
            risk = np.where(np.tile(spot, n_s), risk, 0)
        pref = zero
        if pl.prefer_sites or pl.prefer_providers:
            not_pref = np.array([not (s.id in pl.prefer_sites or s.provider in pl.prefer_providers)
                                 for s in sites])
            if not_pref.any():
                pref = money([p * settings.preference_weight for p in prices])
                pref = np.where(np.tile(not_pref, n_s), pref, 0)
        egress = self._flows(refs, spos, n_t)
        res1, amt1 = self._usage(refs, offers, sites, n_arr, mcol, hours, hours_f, gpu=False)
        res2, amt2 = self._usage(refs, offers, sites, n_arr, mcol, hours, hours_f, gpu=True)
        stage = np.repeat(np.array([r.index for r in refs], dtype=np.int64), n_t)
        cols.add(stage=stage, triple=np.tile(t_idx, n_s), n=np.tile(n_arr, n_s),
                 ub=np.tile(cap, n_s), compute=compute, egress=egress, risk=risk, pref=pref,
                 res1=res1, amt1=amt1, res2=res2, amt2=amt2)

    def _check_magnitudes(self, refs: list[StageRef], offers: list[Offer], sites: list[Site],
                          prices: list[Decimal], n_arr: IntArray, h_opt: FloatArray) -> None:
        """Before anything is rounded to int64: options whose money or capacity use may
        pass the limits of :func:`planner.compile.pricing.check_magnitudes` are priced exactly by
        :func:`~planner.compile.pricing.price_options`, which raises the same clear error."""
        settings = self.ctx.portfolio.settings
        factor = max(1.0, float(settings.spot_risk_uplift), float(settings.preference_weight))
        price_f = np.array([float(p) for p in prices]) * MICRO * factor
        gpus_f = np.array([max(float(o.gpu_count), 1.0) for o in offers]) * USAGE_SCALE
        scale = h_opt * n_arr[None, :] * refs[0].units
        worst = np.maximum(scale * price_f[None, :] / MAX_STAGE_MICRO,
                           scale * gpus_f[None, :] / MAX_STAGE_USAGE)
        for i in np.flatnonzero(worst.ravel() > 1 - 1e-9).tolist():
            s, t = divmod(i, len(offers))
            price_options(self.ctx.world, self.ctx.portfolio, refs[s], sites[t], offers[t],
                          self.ctx.caps, None, 1, int(n_arr[t]))

    def _flows(self, refs: list[StageRef], spos: IntArray, n_t: int) -> IntArray:
        """fixed_flows_micro per (stage, site of the triple)."""
        rates: list[list[Decimal]] = []
        qty: list[Decimal] = []
        rows = []
        for r in refs:
            w, st = r.workload, r.stage
            if st.kind is StageKind.INFERENCE:
                rates.append(self.internet)
                rows.append(self.internet_f)
                qty.append(st.response_gb / r.units)
            else:
                rates.append(self.rate[w.dataset.home])
                rows.append(self.rate_f[w.dataset.home])
                qty.append(w.dataset.size_gb if st.kind is StageKind.TRAINING
                           else w.dataset.test_gb)
        rate_f = np.stack(rows)[:, spos] * MICRO  # (n_s, n_t)
        q_f = np.array([float(q) for q in qty])
        v = (rate_f * q_f[:, None]).ravel()
        sp = spos.tolist()

        def exact(i: int) -> int:
            s, t = divmod(i, n_t)
            return cost_micro(rates[s][sp[t]], qty[s])

        return _round_half(v, exact)

    def _usage(self, refs: list[StageRef], offers: list[Offer], sites: list[Site],
               n_arr: IntArray, mcol: IntArray, hours: list[list[Decimal]], hours_f: FloatArray,
               *, gpu: bool) -> tuple[IntArray, IntArray]:
        """Resource index (−1: none) and usage in milli-unit-hours per (stage, triple)."""
        n_s, n_t = len(refs), len(offers)
        res = np.full(n_t, -1, dtype=np.int64)
        mult: list[Decimal] = []
        for t, (o, s) in enumerate(zip(offers, sites, strict=True)):
            name = (gpu_resource(s.id, o.gpu_model) if gpu and o.gpu_model
                    else None if gpu else offer_resource(s.id, o.id))
            if name is not None and name in self.res_index:
                res[t] = self.res_index[name]
            mult.append(Decimal(int(n_arr[t])) * o.gpu_count if gpu else Decimal(int(n_arr[t])))
        amt = np.zeros(n_s * n_t, dtype=np.int64)
        used = np.flatnonzero(res >= 0)
        if used.size == 0:
            return np.tile(res, n_s), amt
        mf = np.array([float(mult[t]) for t in used.tolist()]) * USAGE_SCALE
        v = hours_f[:, mcol[used]] * mf[None, :]
        memo = self.usage_memo
        offs = [offers[t] for t in used.tolist()]
        ns = [Decimal(int(n_arr[t])) for t in used.tolist()]
        mc = mcol[used].tolist()
        k = used.size

        def exact(i: int) -> int:
            s, j = divmod(i, k)
            h = hours[s][mc[j]]
            key = (mult[int(used[j])], h)
            got = memo.get(key)
            if got is None:
                got = memo[key] = (usage_units(ns[j], offs[j].gpu_count, h) if gpu
                                   else usage_units(ns[j], h))
            return got

        sub = _round_up(v.ravel(), exact).reshape(n_s, k)
        full = amt.reshape(n_s, n_t)
        full[:, used] = sub
        return np.tile(res, n_s), amt


class LazyOptions(Sequence[Option]):
    """The options of every stage as arrays (sorted per stage like the object path); an
    :class:`Option` is built only when indexed, by :func:`planner.compile.pricing.price_options`."""

    def __init__(self, ctx: _Context, refs: list[StageRef], triples: _Triples,
                 cols: dict[str, IntArray], ptr: IntArray) -> None:
        self._ctx = ctx
        self._refs = refs
        self._triples = triples
        self.cols = cols
        self.ptr = ptr

    def __len__(self) -> int:
        return int(self.cols["stage"].shape[0])

    def _one(self, i: int) -> Option:
        if i < 0:
            i += len(self)
        c, tr, ctx = self.cols, self._triples, self._ctx
        t = int(c["triple"][i])
        ref = self._refs[int(c["stage"][i])]
        site, offer, purchase = ctx.sites[tr.site[t]], tr.offer[t], tr.purchase[t]
        priced = price_options(ctx.world, ctx.portfolio, ref, site, offer, ctx.caps, None,
                               int(c["ub"][i]), int(c["n"][i]))
        return next(o for o in priced if o.purchase is purchase)

    @overload
    def __getitem__(self, i: int) -> Option: ...

    @overload
    def __getitem__(self, i: slice) -> list[Option]: ...

    def __getitem__(self, i: int | slice) -> Option | list[Option]:
        if isinstance(i, slice):
            return [self._one(k) for k in range(*i.indices(len(self)))]
        return self._one(i)

    def __iter__(self) -> Iterator[Option]:
        for i in range(len(self)):
            yield self._one(i)

    def site_ids(self) -> list[str]:
        """Site id of every triple (index with ``cols['triple']``)."""
        return [self._ctx.sites[s].id for s in self._triples.site]


def generate_arrays(ctx: _Context, refs: list[StageRef],
                    infos: list[tuple[tuple[object, ...], tuple[object, ...]]],
                    site_memo: dict[tuple[object, ...], list[SiteInfo]],
                    offer_memo: dict[tuple[object, ...], list[list[OfferInfo]]],
                    counts: Counter[str], count_pass: Callable[[StageRef, Counter[str]], None]
                    ) -> tuple[LazyOptions, list[range]]:
    """The options of every stage (``infos``: its site and offer memo keys) as arrays, the
    per-stage ranges, and the pruned counts per rule (added to ``counts``)."""
    res_index = {name: i for i, name in enumerate(sorted(ctx.caps))}
    triples = _Triples()
    pricer = _Pricer(ctx, res_index, triples)
    # same rule results, kind, spot, and whether commitments may price the stage
    groups: dict[tuple[object, ...], list[StageRef]] = {}
    settings, period = ctx.portfolio.settings, ctx.world.period_hours
    for ref, (sk, ok) in zip(refs, infos, strict=True):
        commit = commitments_allowed(settings, ref.stage, period)
        groups.setdefault((sk, ok, ref.stage.spot, ref.stage.kind, commit), []).append(ref)
    cols = _Columns()
    for members in groups.values():
        sk, ok = infos[members[0].index]
        si, oi = site_memo[sk], offer_memo[ok]
        per: Counter[str] = Counter()
        count_pass(members[0], per)
        for rule, k in per.items():
            counts[rule] += k * len(members)
        pricer.price(members, pricer.admissible(members[0], si, oi), cols)
    c = cols.concat()
    # Sort like the object path: stage, objective, then (site, offer, purchase) names.
    rank = triples.rank()
    obj = c["compute"] + c["egress"] + c["risk"] + c["pref"]
    order = np.lexsort((rank[c["triple"]] if rank.size else c["triple"], obj, c["stage"]))
    for name in list(c):
        c[name] = c[name][order]
    del order, obj
    counts_per = np.bincount(c["stage"], minlength=len(refs))
    ptr = np.zeros(len(refs) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(counts_per)
    p = ptr.tolist()
    ranges = [range(p[s], p[s + 1]) for s in range(len(refs))]
    return LazyOptions(ctx, refs, triples, c, ptr), ranges
