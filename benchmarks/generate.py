"""Seeded generator of realistic portfolios at named sizes.

Sites
    * every region of the bundled catalogs (``catalogs/aws.json``, ``catalogs/azure.json``:
      22 regions, real offers and list prices, AWS spot prices where the snapshot has them);
    * synthetic **on-prem data centres** up to the size's site count (``n_sites - 22``), in
      21 countries weighted toward DE/US, each with 2–4 node classes (DGX-H100, HGX-A100,
      L40S, L4, T4, CPU) whose hourly price is *amortized* (capex over 4–5 years + power at
      the country's electricity price + opex), so on-prem is 3–5× cheaper than on-demand
      cloud and is what every stage wants first.

Capacity (tight and loose)
    * on-prem inventories are sized so that on-prem GPU supply covers roughly half of the
      portfolio's GPU demand in node-hours (tight: the cheap capacity is contended);
    * cloud GPU quotas on H100 / A100 / V100 in ~60 % of the (region, model) pairs (tight:
      8–64 GPUs scaled by portfolio size); the other pairs and L4, T4, A10G and A10 are
      unlimited on-demand (loose), so every stage has some (expensive) way to run.

Workloads (1–3 stages each)
    * residency classes: global (35 %), EU-only (``jurisdictions: [EU]``, 30 %), US-only
      (``countries: [US]``, 20 %), country-locked (``countries: [DE]`` etc., 15 %);
    * GPU model mixes with relative speeds (e.g. ``{H100: 2.0, A100-80GB: 1.0}``);
    * spot allowed on ~35 % of training stages; dataset homes consistent with residency.

Same seed and size → the same portfolio (``model_dump_json`` is identical).

This is the ``realistic`` family; ``generate_portfolio(..., family="hard")`` makes the
``hard`` one (:mod:`benchmarks.hard`: capacity binds and greedy is clearly suboptimal).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from planner.catalog.load import LoadedCatalog
from planner.models.portfolio import Portfolio
from planner.vocab.jurisdictions import jurisdictions_of


@dataclass(frozen=True)
class Size:
    """A named benchmark size: stages and sites (cloud regions + on-prem data centres)."""

    name: str
    stages: int
    sites: int


SIZES: dict[str, Size] = {
    s.name: s
    for s in (
        Size("smoke", 60, 30),
        Size("s", 1_000, 50),
        Size("m", 5_000, 100),
        Size("l", 20_000, 200),
        Size("xl", 200_000, 200),
    )
}

# country → (weight, electricity USD/kWh)
ONPREM_COUNTRIES: dict[str, tuple[int, str]] = {
    "DE": (8, "0.22"), "FR": (4, "0.16"), "NL": (3, "0.18"), "IE": (2, "0.20"),
    "SE": (2, "0.08"), "FI": (1, "0.09"), "IT": (2, "0.21"), "ES": (2, "0.15"),
    "PL": (2, "0.17"), "AT": (1, "0.19"), "BE": (1, "0.20"), "DK": (1, "0.18"),
    "CH": (1, "0.19"), "GB": (3, "0.24"), "US": (10, "0.09"), "CA": (2, "0.07"),
    "JP": (2, "0.20"), "IN": (2, "0.10"), "SG": (1, "0.18"), "KR": (1, "0.12"),
    "AU": (1, "0.17"),
}  # fmt: skip

# Node classes: (id, gpu model, gpus, vcpus, memory GiB, capex USD, life years, kW incl. PUE)
NODE_CLASSES: tuple[tuple[str, str | None, int, int, int, int, int, str], ...] = (
    ("dgx-h100", "H100", 8, 224, 2048, 330_000, 4, "14.0"),
    ("hgx-a100-80", "A100-80GB", 8, 256, 2048, 190_000, 5, "8.5"),
    ("hgx-a100-40", "A100-40GB", 8, 256, 1024, 140_000, 5, "8.0"),
    ("l40s-4", "L40S", 4, 64, 512, 60_000, 5, "2.4"),
    ("l4-8", "L4", 8, 64, 512, 42_000, 5, "1.5"),
    ("t4-4", "T4", 4, 48, 256, 18_000, 5, "1.1"),
    ("cpu-64", None, 0, 64, 512, 14_000, 5, "0.7"),
)
# Share of each node class in the on-prem fleet (by site draws).
NODE_WEIGHTS = (3, 4, 2, 3, 3, 3, 4)

TRAINING_MIXES: tuple[tuple[dict[str, str], tuple[int, ...], int], ...] = (
    # (models with relative speed, GPU counts to draw from, weight)
    ({"H100": "2.0", "A100-80GB": "1.0"}, (8,), 4),
    ({"H100": "1.0"}, (8,), 1),
    ({"A100-80GB": "1.0", "A100-40GB": "0.75"}, (4, 8), 4),
    ({"H100": "2.2", "A100-80GB": "1.0", "A100-40GB": "0.8", "V100-32GB": "0.35"}, (8,), 2),
    ({"L40S": "1.0", "A10G": "0.55", "L4": "0.5", "A10": "0.55"}, (1, 4), 4),
    ({"V100": "1.0", "V100-32GB": "1.05", "T4": "0.45", "L4": "0.8"}, (1, 4), 3),
)
TESTING_MIXES: tuple[dict[str, str], ...] = (
    {"L4": "1.0", "T4": "0.5", "A10G": "1.1", "L40S": "1.8"},
    {"A100-80GB": "1.0", "A100-40GB": "0.8", "L40S": "0.6"},
)
INFERENCE_MIX = {"T4": "1.0", "L4": "1.0", "A10G": "1.0", "A10": "0.9", "L40S": "1.4"}
QUOTA_MODELS = ("H100", "A100-80GB", "A100-40GB", "V100", "V100-32GB")


def _cloud_sites(catalogs: list[LoadedCatalog]) -> dict[str, tuple[str, set[str | None]]]:
    """Cloud site id → (country, GPU models offered there)."""
    out: dict[str, tuple[str, set[str | None]]] = {}
    for c in sorted(catalogs, key=lambda c: c.catalog.provider):
        for r in c.catalog.rows:
            sid = f"{c.catalog.provider}:{r.region}"
            out.setdefault(sid, (r.country, set()))[1].add(r.gpu_model)
    return dict(sorted(out.items()))


def _weighted(rng: random.Random, items: list[Any], weights: list[int]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


def _onprem_sites(rng: random.Random, n: int, scale: float) -> list[dict[str, Any]]:
    countries = list(ONPREM_COUNTRIES)
    weights = [ONPREM_COUNTRIES[c][0] for c in countries]
    sites = []
    for k in range(n):
        country = _weighted(rng, countries, weights)
        kwh = ONPREM_COUNTRIES[country][1]
        classes = sorted(
            set(rng.choices(range(len(NODE_CLASSES)), weights=NODE_WEIGHTS, k=rng.randint(2, 4)))
        )
        offers = []
        for ci in classes:
            cid, model, gpus, vcpus, mem, capex, life, kw = NODE_CLASSES[ci]
            nodes = max(1, round(rng.uniform(0.5, 1.5) * scale * (0.5 if gpus >= 8 else 1.0)))
            offer: dict[str, Any] = {
                "id": cid, "gpu_count": gpus, "vcpus": vcpus, "memory_gib": mem, "nodes": nodes,
            }  # fmt: skip
            if model:
                offer["gpu_model"] = model
            if rng.random() < 0.7:
                offer["amortization"] = {
                    "capex_usd": str(round(capex * rng.uniform(0.9, 1.15))),
                    "lifetime_years": str(life),
                    "power_kw": kw,
                    "usd_per_kwh": kwh,
                    "opex_per_hour": str(round(rng.uniform(0.3, 2.0), 2)),
                }
            else:
                hourly = Decimal(capex) / (life * 8760) + Decimal(kw) * Decimal(kwh) + 1
                offer["price_per_hour"] = str(hourly.quantize(Decimal("0.0001")))
            offers.append(offer)
        sites.append(
            {
                "id": f"onprem:dc-{country.lower()}-{k:03d}",
                "country": country,
                "egress": {"internet_per_gb": str(rng.choice(["0.0", "0.01", "0.02"]))},
                "offers": offers,
            }
        )
    return sites


def _residency(rng: random.Random, locked: list[str]) -> tuple[str, dict[str, Any]]:
    r = rng.random()
    if r < 0.35:
        return "global", {}
    if r < 0.65:
        return "eu", {"jurisdictions": ["EU"]}
    if r < 0.85:
        return "us", {"countries": ["US"]}
    return "country", {"countries": [rng.choice(locked)]}


def _available(models: dict[str, str], have: set[str]) -> dict[str, str]:
    return {m: v for m, v in models.items() if m in have}


def _stage(rng: random.Random, kind: str, have: set[str]) -> dict[str, Any]:
    """One stage whose GPU models all exist somewhere its residency allows (``have``)."""
    st: dict[str, Any] = {"kind": kind}
    if kind == "training":
        mixes = [m for m in TRAINING_MIXES if _available(m[0], have)]
        models, counts, _w = _weighted(rng, mixes, [m[2] for m in mixes])
        st["gpu"] = {"models": _available(models, have), "count": rng.choice(counts)}
        st["vcpus"] = rng.choice([8, 16, 32])
        st["memory_gib"] = rng.choice([64, 128, 256])
        st["hours"] = str(round(min(700.0, rng.lognormvariate(math.log(40), 0.9)), 1))
        st["spot"] = rng.random() < 0.35
    elif kind == "testing":
        if rng.random() < 0.25:
            st["vcpus"] = rng.choice([4, 8, 16])
            st["memory_gib"] = rng.choice([16, 32, 64])
        else:
            mix = rng.choice([m for m in TESTING_MIXES if _available(m, have)])
            st["gpu"] = {"models": _available(mix, have), "count": 1}
            st["vcpus"] = 8
            st["memory_gib"] = 32
        st["hours"] = str(round(rng.uniform(2, 40), 1))
    else:
        st["gpu"] = {"models": _available(INFERENCE_MIX, have), "count": 1}
        st["vcpus"] = 4
        st["memory_gib"] = 16
        st["hours"] = str(rng.choice([730, 730, 365, 200]))
        st["replicas"] = rng.choice([1, 1, 2, 3])
    return st


PIPELINES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("training", "testing", "inference"), 3),
    (("training", "inference"), 2),
    (("training", "testing"), 2),
    (("training",), 3),
    (("inference",), 2),
)


def _workloads(
    rng: random.Random,
    n_stages: int,
    homes: dict[str, list[str]],
    models: dict[str, set[str]],
    locked: list[str],
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    total = 0
    pipes = [p for p, _ in PIPELINES]
    while total < n_stages:
        kinds = _weighted(rng, pipes, [w for _, w in PIPELINES])[: n_stages - total]
        cls, residency = _residency(rng, locked)
        key = residency["countries"][0] if cls == "country" else cls
        home = rng.choice(homes[key])
        size_gb = round(rng.lognormvariate(math.log(300), 1.2), 1)
        out.append(
            {
                "id": f"w{len(out):06d}",
                "team": f"team-{rng.randint(0, 39):02d}",
                "dataset": {"size_gb": str(size_gb), "home": home},
                "residency": residency,
                "stages": [_stage(rng, k, models[key]) for k in kinds],
            }
        )
        total += len(kinds)
    return out


FAMILIES = ("realistic", "hard", "tight", "timed")


def generate_portfolio(
    size: str | Size,
    seed: int = 0,
    catalogs: list[LoadedCatalog] | None = None,
    family: str = "realistic",
) -> Portfolio:
    """A seeded portfolio of ``size`` (a name from :data:`SIZES` or a Size) of ``family``:
    ``realistic`` (this module), ``hard`` or ``tight`` (:mod:`benchmarks.hard`), ``timed``
    (:mod:`benchmarks.timed`: dated windows, deadlines, precedence, gangs, outages)."""
    from planner import api

    if family not in FAMILIES:
        raise ValueError(f"unknown benchmark family {family!r}: use one of {', '.join(FAMILIES)}")
    spec = SIZES[size] if isinstance(size, str) else size
    catalogs = api.load_catalogs() if catalogs is None else catalogs
    if family == "timed":
        from benchmarks.timed import generate_timed

        return generate_timed(spec, seed, catalogs)
    if family in ("hard", "tight"):
        from benchmarks.hard import generate_hard

        return generate_hard(spec, seed, catalogs, tight=family == "tight")
    rng = random.Random(f"planner-bench/{spec.name}/{spec.stages}/{spec.sites}/{seed}")
    cloud = _cloud_sites(catalogs)
    n_onprem = max(1, spec.sites - len(cloud))
    # On-prem nodes per class and site: ~half of the GPU node-hours the portfolio asks for.
    scale = max(1.0, 0.06 * spec.stages / n_onprem)
    onprem = _onprem_sites(rng, n_onprem, scale)
    countries = {sid: c for sid, (c, _) in cloud.items()} | {s["id"]: s["country"] for s in onprem}
    site_models = {sid: {m for m in ms if m} for sid, (_, ms) in cloud.items()}
    site_models |= {
        s["id"]: {o["gpu_model"] for o in s["offers"] if "gpu_model" in o} for s in onprem
    }
    homes: dict[str, list[str]] = {"global": sorted(countries)}
    homes["eu"] = sorted(s for s, c in countries.items() if "EU" in jurisdictions_of(c, []))
    homes["us"] = sorted(s for s, c in countries.items() if c == "US")
    per_country: dict[str, list[str]] = {}
    for sid, c in countries.items():
        per_country.setdefault(c, []).append(sid)
    cloud_countries = {c for c, _ in cloud.values()}
    locked = sorted(c for c, sids in per_country.items() if len(sids) >= 3 and c in cloud_countries)
    for c in locked:
        homes[c] = sorted(per_country[c])
    models = {key: set().union(*(site_models[s] for s in sids)) for key, sids in homes.items()}
    quota_scale = max(1, round(spec.stages / 400))
    quotas = [
        {"site": sid, "gpu_model": m, "gpus": 8 * rng.choice([1, 2, 4, 8]) * quota_scale}
        for sid, (_, models) in cloud.items()
        for m in QUOTA_MODELS
        if m in models and rng.random() < 0.6
    ]
    data = {
        "name": f"bench-{spec.name}-seed{seed}",
        "description": f"benchmark portfolio: {spec.stages} stages over {spec.sites} sites",
        "settings": {"period_hours": "730", "max_catalog_age_days": 100000},
        "cloud": {"providers": ["aws", "azure"], "quotas": quotas},
        "onprem": onprem,
        "workloads": _workloads(rng, spec.stages, homes, models, locked),
    }
    return Portfolio.model_validate(data)
