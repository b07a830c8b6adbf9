"""Candidates against an oracle: random portfolios, every option priced one at a time.

The candidate generator screens stages through memoized rule results and prices every
option of every stage at once as arrays (:mod:`planner.compile.pricing`,
:mod:`planner.compile.exact`). The oracle below restates the rules' outcome and every
price term directly, one (stage, site, offer, purchase) at a time with
:mod:`decimal` — no memo, no grouping, no arrays. Random portfolios vary, between stages,
every field a rule or a price reads: residency (workload and stage, exportable models),
exclusions and preferences, latency SLOs, GPU models and speeds, GPU count, vCPUs, memory,
replicas and splitting, hours, spot, commitments, dataset home and sizes, response GB,
model size and the previous plan; worlds vary prices (with ties at half a micro-dollar),
spot and commitment prices, inventories and quotas.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from decimal import Decimal
from typing import Any
from unittest.mock import patch

import numpy as np
from builders import NOW, catalog, row
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.compile import pricing
from planner.compile.arrays import build_problem
from planner.compile.candidates import Option, Pruned, generate, stage_refs
from planner.compile.resolve import build_world
from planner.compile.rules import (
    OFFER_RULES,
    SITE_RULES,
    HardwareAsk,
    Rule,
    SiteAsk,
    rule_group,
    window_fit,
)
from planner.compile.screening import time_ask
from planner.models.portfolio import Portfolio, StageKind
from planner.models.world import Offer, Purchase, Site, SiteKind, World
from planner.money import cost_micro, to_micro, usage_units

PRICES = ["0.5", "1.25", "3.0001", "12.345678", "40", "0.0000015", "0.0000025", "7.3", "2.5"]
SPEEDS = ["1.0", "2.0", "0.35", "1.3", "2.2", "0.5", "0.75"]
HOURS = ["10", "7.5", "730", "100", "33.3", "0.1", "1", "3"]
GB = ["0", "10", "2.5", "1000", "0.3"]
MODELS = ["A100-80GB", "H100", "T4"]
REGIONS = [("aws", "eu-central-1", "DE"), ("aws", "us-east-1", "US"),
           ("azure", "westeurope", "NL")]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Any], dict[str, Any]]:
    """Catalogs (two providers) and the portfolio's world settings (on-prem, quotas)."""
    rows: dict[str, list[dict[str, Any]]] = {"aws": [], "azure": []}
    for provider, region, country in REGIONS:  # every region sells something
        rows[provider].append(row(region, "base.cpu", draw(st.sampled_from(PRICES)), vcpus=8,
                                  mem=32, country=country, provider=provider))
    for k in range(draw(st.integers(2, 6))):
        provider, region, country = draw(st.sampled_from(REGIONS))
        gpu = draw(st.sampled_from([None, *MODELS]))
        r = row(region, f"i{k}.x", draw(st.sampled_from(PRICES)), gpu=gpu,
                gpus=draw(st.sampled_from([1, 4, 8])) if gpu else 0,
                vcpus=draw(st.sampled_from([4, 8, 96])), mem=draw(st.sampled_from([16, 64, 1024])),
                spot=draw(st.sampled_from([None, "0.25", "1.5"])), country=country,
                provider=provider, restricted=draw(st.booleans()) and k % 3 == 0)
        r.update(commit_1y_per_hour=draw(st.sampled_from([None, "0.62"])),
                 commit_3y_per_hour=draw(st.sampled_from([None, "0.41"])))
        rows[provider].append(r)
    cats = [catalog(rs, provider=p) for p, rs in rows.items()]
    onprem = [{"id": "onprem:dc1", "country": "DE", "certifications": ["c5"],
               "egress": {"internet_per_gb": "0.05"},
               "offers": [{"id": "n1", "gpu_model": "A100-80GB", "gpu_count": 8, "vcpus": 64,
                           "memory_gib": 512, "price_per_hour": draw(st.sampled_from(PRICES)),
                           "nodes": draw(st.integers(1, 3))},
                          {"id": "cpu", "vcpus": 32, "memory_gib": 128,
                           "price_per_hour": "0.3", "nodes": 2}]}]
    quotas = draw(st.sampled_from([[], [{"site": "aws:us-east-1", "gpu_model": "H100",
                                         "gpus": 8}],
                                   [{"site": "aws:eu-central-1", "gpu_model": "A100-80GB",
                                     "gpus": 4}]]))
    world = {"onprem": onprem, "cloud": {"providers": ["aws", "azure"], "quotas": quotas}}
    return cats, world


@st.composite
def stages(draw: st.DrawFn, kind: str, label: str) -> dict[str, Any]:
    st_: dict[str, Any] = {"kind": kind, "name": label, "hours": draw(st.sampled_from(HOURS)),
                           "vcpus": draw(st.sampled_from([1, 8, 32])),
                           "memory_gib": draw(st.sampled_from(["1", "64", "100.5"])),
                           "spot": draw(st.booleans())}
    if draw(st.integers(0, 3)):
        models = draw(st.lists(st.sampled_from(MODELS), min_size=1, max_size=3, unique=True))
        st_["gpu"] = {"models": {m: draw(st.sampled_from(SPEEDS)) for m in models},
                      "count": draw(st.sampled_from([1, 2, 8, 16]))}
    if draw(st.integers(0, 3)) == 0:
        st_["residency"] = {"countries": draw(st.sampled_from([["DE"], ["US", "NL"]]))}
    if kind == "inference":
        replicas = draw(st.integers(1, 4))
        st_.update(replicas=replicas, response_gb=draw(st.sampled_from(GB)),
                   split=draw(st.booleans()), min_sites=draw(st.integers(1, replicas)))
        if draw(st.integers(0, 3)) == 0:
            st_["latency"] = {"max_ms": draw(st.sampled_from([30, 120])),
                              "users": draw(st.sampled_from([["eu"], ["eu", "us"]]))}
    elif draw(st.booleans()):
        st_["replicas"] = draw(st.integers(1, 3))
    gang = draw(st.sampled_from([None, "nodes", "max_nodes"]))
    if gang is not None:
        st_[gang] = draw(st.sampled_from([1, 2, 4, 16]))
    return st_


@st.composite
def portfolios(draw: st.DrawFn) -> tuple[Portfolio, list[Any], dict[str, list[tuple[str, str]]]]:
    cats, world = draw(worlds())
    sites = ["aws:eu-central-1", "aws:us-east-1", "azure:westeurope", "onprem:dc1"]
    workloads = []
    for w in range(draw(st.integers(1, 5))):
        kinds = draw(st.lists(st.sampled_from(["training", "testing", "inference"]),
                              min_size=1, max_size=3))
        residency = draw(st.sampled_from([{}, {"jurisdictions": ["EU"]}, {"countries": ["US"]},
                                          {"sites": sites[:2]}, {"certifications": ["c5"]}]))
        placement = draw(st.sampled_from([{}, {"exclude_providers": ["azure"]},
                                          {"exclude_sites": ["aws:us-east-1"]},
                                          {"prefer_providers": ["aws"]},
                                          {"prefer_sites": ["onprem:dc1"]}]))
        workloads.append({
            "id": f"w{w}", "team": draw(st.sampled_from(["a", "b"])),
            "dataset": {"size_gb": draw(st.sampled_from(GB)), "test_gb": draw(st.sampled_from(GB)),
                        "home": draw(st.sampled_from(sites))},
            "model": {"size_gb": draw(st.sampled_from(GB)), "exportable": draw(st.booleans())},
            "residency": residency, "placement": placement,
            "stages": [draw(stages(k, f"s{j}")) for j, k in enumerate(kinds)]})
    settings_ = {"period_hours": "730", "spot_risk_uplift": draw(st.sampled_from(["0", "0.15"])),
                 "preference_weight": draw(st.sampled_from(["0", "0.1"])),
                 "allow_commitments": draw(st.booleans()),
                 "move_fixed_usd": draw(st.sampled_from(["0", "12.5"])),
                 "user_regions": {"eu": {"lat": 50, "lon": 8}, "us": {"lat": 40, "lon": -75}},
                 "latency_ms": {"onprem:dc1": {"eu": 5, "us": 95}}}
    p = Portfolio.model_validate({"name": "random", "workloads": workloads,
                                  "settings": settings_, **world})
    previous = {}
    for w in p.workloads:
        for s in w.stages:
            if draw(st.integers(0, 2)) == 0:
                previous[f"{w.id}/{s.label}"] = draw(st.sampled_from(
                    [[("onprem:dc1", "n1")], [("aws:us-east-1", "i0.x")], [("gone:x", "y")]]))
    return p, cats, previous


# ---- the oracle: one option at a time ---------------------------------------------------


def _nodes(stage: Any, offer: Offer) -> int:
    """Instances per replica, by brute force: the declared gang, else the first size from 1
    (to max_nodes) whose even share of the replica fits one instance."""
    sizes = [stage.nodes] if stage.nodes else range(1, (stage.max_nodes or 1) + 1)
    for n in sizes:
        gpus = math.ceil(stage.gpu.count / n) if stage.gpu else 0
        if (gpus <= offer.gpu_count and Decimal(stage.vcpus) / n <= offer.vcpus
                and stage.memory_gib / n <= offer.memory_gib):
            return n
    raise AssertionError(f"{offer.id} passed the fit rule but no gang fits")


def _fit(world: World, offer: Offer, n: int) -> tuple[int | None, str]:
    fits = []
    if offer.capacity is not None:
        fits.append((offer.capacity // n, f"offer:{offer.site_id}/{offer.id}"))
    quota = world.gpu_quotas.get((offer.site_id, offer.gpu_model or ""))
    if quota is not None:
        fits.append((int(Decimal(quota) // (offer.gpu_count * n)),
                     f"gpu:{offer.site_id}/{offer.gpu_model}"))
    return min(fits, key=lambda f: f[0]) if fits else (None, "")


def _caps(world: World) -> set[str]:
    return ({f"offer:{o.site_id}/{o.id}" for o in world.offers if o.capacity is not None}
            | {f"gpu:{s}/{m}" for s, m in world.gpu_quotas})


def _priced(p: Portfolio, world: World, ref: Any, site: Site, offer: Offer, n: int, ub: int,
            prev: list[tuple[str, str]] | None) -> list[Option]:
    stage, w, cfg = ref.stage, ref.workload, p.settings
    gpu = stage.gpu
    hours = (stage.hours if stage.kind is StageKind.INFERENCE or gpu is None
             or offer.gpu_model is None else stage.hours / gpu.models[offer.gpu_model])
    caps = _caps(world)
    usage = [(r, usage_units(Decimal(n), *q, hours))
             for r, q in ((f"offer:{site.id}/{offer.id}", ()),
                          (f"gpu:{site.id}/{offer.gpu_model}", (offer.gpu_count,)))
             if r in caps]
    home = world.sites[w.dataset.home]
    flows = {StageKind.TRAINING: lambda: cost_micro(home.egress_per_gb_to(site), w.dataset.size_gb),
             StageKind.TESTING: lambda: cost_micro(home.egress_per_gb_to(site), w.dataset.test_gb),
             StageKind.INFERENCE: lambda: cost_micro(site.egress.internet_per_gb,
                                                     stage.response_gb / ref.units)}[stage.kind]()
    moved = bool(prev) and (site.id, offer.id) not in (prev or [])
    migration = 0
    if moved and prev:
        gb = {StageKind.TRAINING: w.dataset.size_gb,
              StageKind.TESTING: w.dataset.test_gb + w.model.size_gb}.get(stage.kind,
                                                                          w.model.size_gb)
        old = world.sites.get(prev[0][0])
        migration = to_micro(cfg.move_fixed_usd) + (
            cost_micro(old.egress_per_gb_to(site), gb) if old else 0)
    pl = w.placement
    preferred = not (pl.prefer_sites or pl.prefer_providers) or (
        site.id in pl.prefer_sites or site.provider in pl.prefer_providers)
    buy = [(Purchase.OWNED, offer.price_per_hour)] if site.kind is SiteKind.ONPREM else [
        (Purchase.ON_DEMAND, offer.price_per_hour)]
    if site.kind is SiteKind.CLOUD:
        if stage.spot and offer.spot_price_per_hour is not None:
            buy.append((Purchase.SPOT, offer.spot_price_per_hour))
        if (cfg.allow_commitments and stage.kind is StageKind.INFERENCE
                and stage.hours >= world.period_hours):
            buy += [(c, pr) for c, pr in ((Purchase.COMMIT_1Y, offer.commit_1y_per_hour),
                                          (Purchase.COMMIT_3Y, offer.commit_3y_per_hour))
                    if pr is not None]
    out = []
    for purchase, price in buy:
        risk = (cost_micro(price * cfg.spot_risk_uplift, Decimal(n), hours)
                if purchase is Purchase.SPOT else 0)
        pref = 0 if preferred else cost_micro(price * cfg.preference_weight, Decimal(n), hours)
        out.append(Option(ref.index, site.id, offer.id, purchase, n, hours,
                          cost_micro(price, Decimal(n), hours), flows, tuple(usage), ub,
                          migration, risk, pref, moved))
    return out


def oracle(p: Portfolio, world: World, keep: bool, previous: dict[str, Any]
           ) -> tuple[list[list[Option]], list[Pruned], Counter[str]]:
    """Options per stage (sorted), pruned records and counts, one option at a time."""
    options: list[list[Option]] = []
    pruned: list[Pruned] = []
    counts: Counter[str] = Counter()
    sites = [s for s in world.sites.values() if any(o.site_id == s.id for o in world.offers)]
    for ref in stage_refs(p):
        ask, hw, stage = SiteAsk.of(ref), HardwareAsk.of(ref.stage), ref.stage
        prev = previous.get(ref.key)
        mine: list[Option] = []
        for site in sites:
            why = [(rule, r) for rule, check in SITE_RULES if (r := check(ask, site, world))]
            groups = tuple(rule_group(rule, ref) for rule, _ in why)
            if why and not keep:
                counts[why[0][0].value] += 1
                pruned.append(Pruned(ref.index, site.id, None, *why[0], groups))
                continue
            for offer in (o for o in world.offers if o.site_id == site.id):
                hard = next(((rule, r) for rule, check in OFFER_RULES if (r := check(hw, offer))),
                            None)
                late = time_ask(p.settings, stage)
                if hard is None and late is not None and (r := window_fit(late, offer)):
                    hard = (Rule.WINDOW, r)
                if hard:
                    counts[hard[0].value] += 1
                    pruned.append(Pruned(ref.index, site.id, offer.id, *hard))
                    continue
                n = _nodes(stage, offer) * (1 if stage.splittable else stage.replicas)
                fit, resource = _fit(world, offer, n)
                cap = ref.units if fit is None else min(fit, ref.units)
                priced = _priced(p, world, ref, site, offer, n, max(cap, 1), prev)
                if not why and cap >= 1:
                    mine += priced
                    continue
                reasons = list(why)
                more = groups
                if cap < 1:
                    more += (f"capacity:{resource}",)
                    reasons.append((Rule.CONCURRENCY, f"needs {n} × {offer.id} at once; "
                                    f"{resource.split(':', 1)[1]} does not hold that many"))
                counts[reasons[0][0].value] += 1
                pruned.append(Pruned(ref.index, site.id, offer.id, *reasons[0], more,
                                     tuple(priced)))
        options.append(sorted(mine, key=lambda o: (o.objective_micro, o.site_id, o.offer_id,
                                                   o.purchase.value)))
    return options, pruned, counts


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios(), st.sampled_from([pricing.CHUNK, 3]))
def test_candidates_equal_the_oracle(case: tuple[Portfolio, list[Any], dict[str, Any]],
                                     chunk: int) -> None:
    p, cats, previous = case
    world = build_world(p, cats, now=NOW)
    for keep in (True, False):
        for prev in ({}, previous):
            with patch.object(pricing, "CHUNK", chunk):  # rows priced a few at a time too
                cands = generate(p, world, previous=prev, keep_pruned_options=keep)
                options, pruned, counts = oracle(p, world, keep, prev)
                assert [list(cands.options[r.start:r.stop]) for r in cands.by_stage] == options
                assert list(cands.options) == [o for opts in options for o in opts]
                assert list(cands.pruned) == pruned
                assert cands.pruned.counts() == counts
                assert len(cands.pruned) == len(pruned)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios())
def test_problem_arrays_do_not_depend_on_keeping_pruned_options(
        case: tuple[Portfolio, list[Any], dict[str, Any]]) -> None:
    p, cats, previous = case
    world = build_world(p, cats, now=NOW)
    full = generate(p, world, previous=previous)
    fast = generate(p, world, previous=previous, keep_pruned_options=False)
    a, b = build_problem(full, world), build_problem(fast, world)
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray):
            assert np.array_equal(va, vb) and va.dtype == vb.dtype, f.name
        else:
            assert repr(va) == repr(vb), f.name
    with_pruned = build_problem(full, world, include_pruned=True)
    assert with_pruned.opt_groups is not None
    expected = []
    for s, r in enumerate(full.by_stage):
        expected += [()] * len(r)
        expected += [p.groups for p in full.pruned.of_stage(s, priced_only=True)
                     for _ in p.options]
    assert list(with_pruned.opt_groups) == expected
