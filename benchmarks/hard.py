"""The **hard** benchmark family: capacity binds and a greedy pass is clearly suboptimal.

Where the realistic family (:mod:`benchmarks.generate`) leaves most stages a cheap option
that nobody else wants, here every stage competes for the cheap on-prem sites:

* **Cheap sites, sized to the demand.** On-prem data centres in 8 countries (DE, FR, NL,
  SE, GB, US, JP, IN) with DGX-H100, HGX-A100-80, L40S and CPU nodes at amortized
  prices, several times cheaper than on-demand cloud. Inventories are sized from the
  generated demand: for each residency class and node class, the node-hours of the period
  (730 h × nodes) are ≈ 1.15 × the node-hours its stages ask for on their intended model,
  spread over the allowed sites in uneven chunks of 2–12 nodes. The planner holds a node
  for the whole period whatever the stage's hours, so the on-prem nodes are under half of
  what the stages hold at once: the cheap capacity is contended, and *which* stages get it
  decides the cost.
* **Tight quotas.** Cloud H100 / A100 quotas of 8–32 GPUs per 1,000 stages on ~70 % of
  the (region, model) pairs; the cloud is the expensive overflow.
* **Multi-node, multi-resource stages.** Training needs 8–32 GPUs (1–4 nodes at once) and
  vCPU / memory that can need more nodes than the GPUs alone; inference has replicas.
* **Narrow residency.** 40 % of the workloads are locked to one country, 25 % to the EU,
  15 % to the US, 20 % global.
* **Where greedy goes wrong.** Node capacity is held for the period whatever the hours,
  while the saving of an on-prem node grows with the hours a stage runs (5–730 h here);
  narrow-residency stages have flexible GPU mixes (H100 slightly better per dollar than
  A100) and go first in greedy's order, taking the H100 nodes that rigid, long stages
  need.

Nearly always feasible: every stage keeps a GPU model that some cloud region its
residency allows offers without a quota (unlimited on-demand), adding a slow fallback
model to its mix when none of its models is quota-free there. The fallback runs at
:data:`FALLBACK_SPEED`, so a training stage of more than 219 h cannot finish on it within
the 730 h horizon; when its on-prem and quota options are full too, the portfolio has no
plan (smoke, seed 2147483647: a JP-locked stage of 255 h). The benchmark seeds are
feasible; making the fallback fit every window would change every published instance.
Same seed and size → the same portfolio.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from benchmarks.generate import Size, _cloud_sites
from planner.catalog.load import LoadedCatalog
from planner.models.portfolio import Portfolio
from planner.vocab.jurisdictions import jurisdictions_of

# country → (weight of on-prem sites, electricity USD/kWh)
HARD_COUNTRIES: dict[str, tuple[int, str]] = {
    "DE": (4, "0.22"), "FR": (2, "0.16"), "NL": (1, "0.18"), "SE": (2, "0.08"),
    "GB": (2, "0.24"), "US": (5, "0.09"), "JP": (2, "0.20"), "IN": (1, "0.10"),
}  # fmt: skip
# Node classes: id → (gpu model, gpus, vcpus, memory GiB, capex USD, life years, kW)
HARD_NODES: dict[str, tuple[str | None, int, int, int, int, int, str]] = {
    "dgx-h100": ("H100", 8, 224, 2048, 330_000, 4, "14.0"),
    "hgx-a100-80": ("A100-80GB", 8, 256, 1024, 190_000, 5, "8.5"),
    "l40s-4": ("L40S", 4, 64, 512, 60_000, 5, "2.4"),
    "cpu-64": (None, 0, 64, 512, 14_000, 5, "0.7"),
}
NODE_OF_MODEL = {m: cid for cid, (m, *_r) in HARD_NODES.items() if m}
# (models with relative speeds, GPU counts, weight for narrow / for wide residency, the
# model its on-prem demand is counted on). The flexible mixes are traps for a greedy pass:
# the fast model is a little cheaper per unit of work for them, but capacity is sized for
# them on the intended (slower) model, and rigid stages need the fast one.
HARD_TRAINING: tuple[tuple[dict[str, str], tuple[int, ...], int, int, str], ...] = (
    ({"H100": "2.2", "A100-80GB": "1.0"}, (8, 16), 6, 1, "A100-80GB"),
    ({"H100": "1.0"}, (8, 16, 32), 1, 6, "H100"),
    ({"A100-80GB": "1.0", "H100": "1.6"}, (8, 16, 24), 2, 2, "A100-80GB"),
    ({"A100-80GB": "1.0"}, (8, 16), 1, 3, "A100-80GB"),
    ({"L40S": "1.0", "A100-80GB": "1.7", "H100": "4.5"}, (4,), 3, 1, "L40S"),
    ({"L40S": "1.0"}, (4, 8), 1, 2, "L40S"),
)
HARD_QUOTA_MODELS = ("H100", "A100-80GB", "A100-40GB")
FALLBACK_SPEED = "0.3"
TIGHT_QUOTA = 0.25  # tight family: quota multiplier on every (region, GPU model) pair
TIGHT_MIN = 32  # … and at least the largest stage's GPUs (32)
NO_QUOTA = ("Inferentia2", "Trainium")  # in no stage's mix
PERIOD_HOURS = 730
CAPACITY_FACTOR = 1.15  # on-prem node-hours over the node-hours the stages ask for


def _residency(rng: random.Random, locked: list[str]) -> tuple[str, dict[str, Any]]:
    r = rng.random()
    if r < 0.20:
        return "global", {}
    if r < 0.45:
        return "eu", {"jurisdictions": ["EU"]}
    if r < 0.60:
        return "us", {"countries": ["US"]}
    return "country", {"countries": [rng.choice(locked)]}


def _gpu(rng: random.Random, narrow: bool, have: set[str]) -> tuple[dict[str, str], int, str]:
    mixes = [m for m in HARD_TRAINING if m[4] in have]
    models, counts, _wn, _ww, intended = rng.choices(
        mixes, weights=[m[2] if narrow else m[3] for m in mixes])[0]
    return {m: v for m, v in models.items() if m in have}, rng.choice(counts), intended


def _stage(rng: random.Random, kind: str, narrow: bool, have: set[str],
           free: list[str]) -> tuple[dict[str, Any], str]:
    """One stage whose mix keeps a quota-free cloud model (``free``) of its residency, and
    the model its on-prem demand is counted on."""
    st: dict[str, Any] = {"kind": kind}
    if kind == "training":
        models, count, intended = _gpu(rng, narrow, have)
        st["vcpus"] = rng.choice([32, 64, 128, 256])
        st["memory_gib"] = rng.choice([256, 512, 1024, 1536])
        st["hours"] = str(round(min(730.0, max(5.0, rng.lognormvariate(math.log(120), 1.1))), 1))
        st["spot"] = False
        st["max_nodes"] = 8  # a gang: the planner picks the smallest that fits each offer
    else:
        models = {m: v for m, v in {"L40S": "1.0", "A100-80GB": "1.3"}.items() if m in have}
        count, intended = 1, "L40S"
        st["vcpus"] = rng.choice([8, 16])
        st["memory_gib"] = rng.choice([64, 128])
        st["hours"] = str(rng.choice([730, 365, 200, 50]))
        st["replicas"] = rng.choice([1, 2, 4])
    if free and not any(m in free for m in models):
        models[free[0]] = FALLBACK_SPEED
    st["gpu"] = {"models": models, "count": count}
    return st, intended


def _nodes_needed(st: dict[str, Any], intended: str) -> tuple[str, int]:
    """The node class a stage's demand is counted on, and how many nodes it holds at once."""
    cid = NODE_OF_MODEL[intended]
    _m, gpus, vcpus, mem, *_r = HARD_NODES[cid]
    per = max(math.ceil(st["gpu"]["count"] / gpus), math.ceil(st["vcpus"] / vcpus),
              math.ceil(st["memory_gib"] / mem))
    return cid, per * st.get("replicas", 1)


def _site_skeleton(rng: random.Random, n: int) -> list[dict[str, Any]]:
    countries = list(HARD_COUNTRIES)
    weights = [HARD_COUNTRIES[c][0] for c in countries]
    picks = [countries[k % len(countries)] if k < len(countries)
             else rng.choices(countries, weights=weights)[0] for k in range(n)]
    return [{"id": f"onprem:hard-{c.lower()}-{k:03d}", "country": c,
             "egress": {"internet_per_gb": "0.0"}, "offers": []} for k, c in enumerate(picks)]


def _offer(rng: random.Random, cid: str, nodes: int, kwh: str) -> dict[str, Any]:
    model, gpus, vcpus, mem, capex, life, kw = HARD_NODES[cid]
    offer: dict[str, Any] = {"id": cid, "gpu_count": gpus, "vcpus": vcpus, "memory_gib": mem,
                             "nodes": nodes}
    if model:
        offer["gpu_model"] = model
    offer["amortization"] = {
        "capex_usd": str(round(capex * rng.uniform(0.85, 1.3))),
        "lifetime_years": str(life), "power_kw": kw, "usd_per_kwh": kwh,
        "opex_per_hour": str(round(rng.uniform(0.5, 3.0), 2)),
    }
    return offer


def _inventory(rng: random.Random, sites: list[dict[str, Any]],
               demand: dict[tuple[str, str], float], homes: dict[str, list[str]],
               factor: float = CAPACITY_FACTOR, hours: float = PERIOD_HOURS,
               chunks: tuple[int, int] = (2, 12), least: dict[str, int] | None = None,
               then: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Node-hours ≈ ``factor`` × the node-hours asked over ``hours``, per (residency
    class, node class), in uneven chunks (``chunks`` nodes, at least ``least[class]``)
    over the on-prem sites that class may use; ``then`` is called on each offer right
    after its site's offers are made (the random draws stay in that order)."""
    nodes: dict[tuple[str, str], int] = {}
    by_id = {s["id"]: s for s in sites}
    least = least or {}
    for (key, cid), need in sorted(demand.items()):
        allowed = [s for s in homes[key] if s in by_id]
        if not allowed:
            continue
        left = math.ceil(factor * need / hours)
        while left > 0:
            chunk = max(min(left, rng.randint(*chunks)), least.get(cid, 1))
            sid = rng.choice(allowed)
            nodes[sid, cid] = nodes.get((sid, cid), 0) + chunk
            left -= chunk
    for s in sites:
        kwh = HARD_COUNTRIES[s["country"]][1]
        s["offers"] = [_offer(rng, cid, nodes[s["id"], cid], kwh)
                       for cid in HARD_NODES if nodes.get((s["id"], cid))]
        if not s["offers"]:
            s["offers"] = [_offer(rng, "cpu-64", 4, kwh)]
        if then is not None:
            for offer in s["offers"]:
                then(offer)


def _quotas(rng: random.Random, cloud: dict[str, tuple[str, set[str | None]]],
            scale: int, tight: bool = False) -> list[dict[str, Any]]:
    """GPU quotas: on ~70 % of the (region, fast model) pairs; ``tight``: on every
    (region, GPU model) pair, :data:`TIGHT_QUOTA` times larger."""
    if tight:
        return [{"site": sid, "gpu_model": m,
                 "gpus": max(TIGHT_MIN, 8 * round(rng.choice([1, 2, 4]) * scale * TIGHT_QUOTA))}
                for sid, (_c, models) in cloud.items()
                for m in sorted(x for x in models if x and x not in NO_QUOTA)]
    return [{"site": sid, "gpu_model": m, "gpus": 8 * rng.choice([1, 2, 4]) * scale}
            for sid, (_c, models) in cloud.items() for m in HARD_QUOTA_MODELS
            if m in models and rng.random() < 0.7]


def _homes(cloud: dict[str, tuple[str, set[str | None]]],
           onprem: list[dict[str, Any]]) -> tuple[dict[str, list[str]], list[str]]:
    """Residency classes → the sites each may use (global, EU, US, and one per country
    with a cloud region whose data stays in it), and those countries."""
    countries = {sid: c for sid, (c, _) in cloud.items()} | {s["id"]: s["country"]
                                                             for s in onprem}
    homes: dict[str, list[str]] = {"global": sorted(countries)}
    homes["eu"] = sorted(s for s, c in countries.items() if "EU" in jurisdictions_of(c, []))
    homes["us"] = sorted(s for s, c in countries.items() if c == "US")
    cloud_countries = {c for c, _ in cloud.values()}
    locked = sorted(c for c in HARD_COUNTRIES if c in cloud_countries)
    for c in locked:
        homes[c] = sorted(s for s, cc in countries.items() if cc == c)
    return homes, locked


def generate_hard(spec: Size, seed: int, catalogs: list[LoadedCatalog],
                  tight: bool = False) -> Portfolio:
    """A hard seeded portfolio of ``spec`` (see the module docstring); ``tight``: the
    ``tight`` family (every cloud GPU under a quota, no unlimited fallback)."""
    family = "tight" if tight else "hard"
    rng = random.Random(f"planner-bench-{family}/{spec.name}/{spec.stages}/{spec.sites}/{seed}")
    cloud = _cloud_sites(catalogs)
    onprem = _site_skeleton(rng, max(len(HARD_COUNTRIES), spec.sites - len(cloud)))
    quotas = _quotas(rng, cloud, max(1, round(spec.stages / 1000)), tight)
    quota_pairs = {(q["site"], q["gpu_model"]) for q in quotas}
    homes, locked = _homes(cloud, onprem)
    have: dict[str, set[str]] = {}
    free: dict[str, list[str]] = {}
    for key, sids in homes.items():
        cl = [s for s in sids if s in cloud]
        free[key] = sorted({m for s in cl for m in cloud[s][1]
                            if m and m not in ("Inferentia2", "Trainium")
                            and (s, m) not in quota_pairs},
                           key=lambda m: (m not in ("L40S", "A100-80GB", "H100"), m))
        have[key] = ({m for s in cl for m in cloud[s][1] if m}
                     | (set(NODE_OF_MODEL) if any(s not in cloud for s in sids) else set()))
    workloads, demand = _workloads(rng, spec.stages, homes, have, free, locked)
    _inventory(rng, onprem, demand, homes)
    data = {
        "name": f"bench-{family}-{spec.name}-seed{seed}",
        "description": f"{family} benchmark portfolio: {spec.stages} stages over "
                       f"{spec.sites} sites",
        "settings": {"period_hours": "730", "max_catalog_age_days": 100000},
        "cloud": {"providers": ["aws", "azure"], "quotas": quotas},
        "onprem": onprem,
        "workloads": workloads,
    }
    return Portfolio.model_validate(data)


def _workloads(rng: random.Random, n_stages: int, homes: dict[str, list[str]],
               have: dict[str, set[str]], free: dict[str, list[str]], locked: list[str]
               ) -> tuple[list[dict[str, Any]], dict[tuple[str, str], float]]:
    out: list[dict[str, Any]] = []
    demand: dict[tuple[str, str], float] = {}
    total = 0
    while total < n_stages:
        kinds = rng.choice([("training",), ("training",), ("training", "inference"),
                            ("inference",)])[: n_stages - total]
        cls, residency = _residency(rng, locked)
        key = residency["countries"][0] if cls == "country" else cls
        narrow = cls in ("country", "eu")
        made = [_stage(rng, k, narrow, have[key], free[key]) for k in kinds]
        stages = [st for st, _m in made]
        for st, intended in made:
            if intended in st["gpu"]["models"]:
                cid, n = _nodes_needed(st, intended)
                hours = float(st["hours"]) / float(st["gpu"]["models"][intended])
                demand[key, cid] = demand.get((key, cid), 0.0) + n * hours
        out.append({
            "id": f"h{len(out):06d}",
            "team": f"team-{rng.randint(0, 19):02d}",
            "dataset": {"size_gb": str(round(rng.uniform(10, 500), 1)),
                        "home": rng.choice(homes[key])},
            "residency": residency,
            "stages": stages,
        })
        total += len(kinds)
    return out, demand
