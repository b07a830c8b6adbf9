"""The **timed** benchmark family: where *and* when (issue 11's targets).

Portfolios over a dated quarter (``settings.horizon``: 2027-01-04 for 91 days = 2,184 h)
whose on-prem pools are only as large as what the cheapest placement wants *on average*,
so windows, deadlines, precedence, gangs and outages decide who gets them when, and the
rest goes to the (expensive, unlimited) cloud:

* **Sites** as in the hard family (:mod:`benchmarks.hard`): the bundled catalogs' cloud
  regions, and on-prem data centres in 8 countries with DGX-H100, HGX-A100-80, L40S and
  CPU nodes at amortized prices; cloud GPU quotas (GPUs at once) on ~70 % of the
  (region, H100 / A100) pairs.
* **Tight on-prem pools.** Per (residency class, node class), the nodes at once are
  ≈ :data:`POOL_FACTOR` × the node-hours the stages ask for on their intended node class
  divided by the horizon: enough on average, not at the hours the windows want them.
* **Windows and deadlines.** Each workload is released at some hour of the quarter; its
  last batch stage has a deadline (hard, or soft with ``late_penalty_usd_per_hour`` on
  ~25 %), or its inference stage a go-live date (``earliest_start``) or "live by"
  (``deadline``); ~20 % of the workloads have no deadline. Times are dates (on whole
  hours) or, for ~20 %, hours from the horizon start.
* **Precedence.** The default pipeline order (training → testing → inference) and explicit
  ``after``: pretrain → finetune chains, inference after training in parallel with
  testing, evaluation runs independent of training (``after: []``).
* **Gangs** of 1–8 nodes: multi-node training declares ``nodes`` (a fixed gang) or
  ``max_nodes`` (the planner picks); every replica fits one node of its class.
* **Outages**: ~25 % of the on-prem node classes have 1–2 maintenance windows (1–7 days,
  some or all of the nodes), never overlapping on one node class.

**Feasible by construction.** Every stage has a *fallback*: a GPU model of its mix (or
one added to it, slow) that a cloud region its residency allows offers without a quota,
on an instance that holds one node of the stage. Every window is at least the longest
precedence chain of the workload on those fallbacks (each stage's hours / the fallback's
speed, rounded up, plus an hour), so placing every stage on its fallback meets every
deadline, go-live and precedence arc, whatever the on-prem pools hold.

Same seed and size → the same portfolio.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from benchmarks.generate import Size, _cloud_sites
from benchmarks.hard import (
    HARD_COUNTRIES,
    NODE_OF_MODEL,
    _homes,
    _inventory,
    _quotas,
    _residency,
    _site_skeleton,
)
from planner.catalog.load import LoadedCatalog
from planner.models.portfolio import Portfolio

START = datetime(2027, 1, 4, tzinfo=UTC)
HORIZON_HOURS = 2184  # 91 days: a quarter
POOL_FACTOR = 1.0  # on-prem nodes at once over the average nodes the stages ask for
SOFT_SHARE = 0.25
MAX_TRAINING_HOURS = 200.0  # reference hours: even 2 trainings and a test on the slowest
# fallback (speed 0.3) fit the quarter with room for a release
NO_QUOTA = ("Inferentia2", "Trainium")  # in no stage's mix
FALLBACK_SPEED = {"training": "0.3", "testing": "0.8", "inference": "0.9"}
FALLBACK_ORDER = ("A10G", "L40S", "A100-40GB", "A100-80GB", "V100", "V100-32GB", "H100",
                  "L4", "T4", "A10")


@dataclass(frozen=True)
class Shape:
    """One node of a replica: GPUs, vCPUs and memory it needs on one instance."""

    gpus: int
    vcpus: int
    memory: int


# Training per node: (models with speeds, the intended on-prem model, per-node shape,
# gang sizes to draw from, weight)
TRAINING: tuple[tuple[dict[str, str], str, Shape, tuple[int, ...], int], ...] = (
    ({"H100": "2.0", "A100-80GB": "1.0"}, "A100-80GB", Shape(8, 96, 768), (1, 2, 4, 8), 4),
    ({"H100": "1.0"}, "H100", Shape(8, 96, 768), (1, 2, 4, 8), 2),
    ({"A100-80GB": "1.0", "A100-40GB": "0.75"}, "A100-80GB", Shape(8, 48, 512), (1, 2, 4), 3),
    ({"L40S": "1.0", "A100-80GB": "1.6"}, "L40S", Shape(4, 32, 256), (1, 2), 3),
)
TESTING = ({"L40S": "1.0", "L4": "0.5", "A10G": "0.6"}, "L40S", Shape(1, 4, 16))
INFERENCE = ({"L40S": "1.0", "L4": "0.6", "T4": "0.4", "A10G": "0.6"}, "L40S", Shape(1, 4, 16))
# Pipelines: (stage kinds with names and explicit ``after``, weight)
PIPELINES: tuple[tuple[tuple[tuple[str, str | None, tuple[str, ...] | None], ...], int], ...] = (
    ((("training", None, None),), 3),
    ((("training", None, None), ("testing", None, None)), 3),
    ((("training", None, None), ("testing", None, None), ("inference", None, None)), 3),
    ((("training", "pretrain", None), ("training", "finetune", ("pretrain",)),
      ("testing", None, None)), 2),
    ((("training", None, None), ("testing", None, ("training",)),
      ("inference", None, ("training",))), 1),
    ((("training", None, None), ("testing", "eval-current", ())), 1),
    ((("inference", None, None),), 2),
)


def _fmt(rng: random.Random, hour: int) -> str:
    """A time ``hour`` hours from the start: a date-time (80 %) or hours (20 %)."""
    if rng.random() < 0.2:
        return str(hour)
    return (START + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Fallbacks:
    """Which GPU models a residency class can run without a quota in the cloud, and on
    which node shapes (an instance that holds the shape)."""

    def __init__(self, catalogs: list[LoadedCatalog], regions: dict[str, list[str]],
                 quota_pairs: set[tuple[str, str]]) -> None:
        rows: dict[str, list[tuple[str, Shape]]] = {}
        for key, sids in regions.items():
            allowed = set(sids)
            rows[key] = [(r.gpu_model, Shape(int(r.gpu_count), r.vcpus, int(r.memory_gib)))
                         for c in catalogs for r in c.catalog.rows
                         if f"{c.catalog.provider}:{r.region}" in allowed and r.gpu_model
                         and r.gpu_model not in NO_QUOTA
                         and (f"{c.catalog.provider}:{r.region}", r.gpu_model)
                         not in quota_pairs]
        self.rows = rows

    def fits(self, key: str, model: str, node: Shape) -> bool:
        return any(m == model and s.gpus >= node.gpus and s.vcpus >= node.vcpus
                   and s.memory >= node.memory for m, s in self.rows[key])

    def pick(self, key: str, models: dict[str, str], node: Shape, kind: str) -> str:
        """The fastest model of ``models`` with a quota-free fitting instance; else add the
        first of :data:`FALLBACK_ORDER` that has one (slow). Returns its speed."""
        ok = [Decimal(v) for m, v in models.items() if self.fits(key, m, node)]
        if ok:
            return str(max(ok))
        for m in FALLBACK_ORDER:
            if m not in models and self.fits(key, m, node):
                models[m] = FALLBACK_SPEED[kind]
                return models[m]
        raise ValueError(f"no quota-free cloud instance for {node} in residency class {key}")


@dataclass
class _Made:
    """A generated stage and what the generator needs to know about it."""

    data: dict[str, Any]
    name: str
    after: list[str]
    fallback_hours: int  # whole hours on the fallback, plus one
    intended: str  # on-prem node class of its demand
    nodes: int  # nodes at once on the intended class
    hours_intended: float  # hours on the intended class (batch)


def _training(rng: random.Random, key: str, fb: Fallbacks, have: set[str]) -> _Made:
    mixes = [t for t in TRAINING if t[1] in have]
    models, intended, node, gangs, _w = rng.choices(mixes, weights=[t[4] for t in mixes])[0]
    models = {m: v for m, v in models.items() if m in have}
    k = rng.choice(gangs)
    st: dict[str, Any] = {"kind": "training", "vcpus": node.vcpus * k,
                          "memory_gib": node.memory * k,
                          "hours": str(round(min(MAX_TRAINING_HOURS, max(4.0, rng.lognormvariate(
                              math.log(40), 0.9))), 1))}
    if k > 1 and rng.random() < 0.3:
        st["max_nodes"] = k
    elif k > 1 or rng.random() < 0.2:
        st["nodes"] = k
    speed = fb.pick(key, models, node, "training")
    st["gpu"] = {"models": models, "count": node.gpus * k}
    return _Made(st, "training", [], _whole(st["hours"], speed), NODE_OF_MODEL[intended], k,
                 float(st["hours"]) / float(models[intended]))


def _small(rng: random.Random, kind: str, key: str, fb: Fallbacks, have: set[str]) -> _Made:
    mix, intended, node = TESTING if kind == "testing" else INFERENCE
    models = {m: v for m, v in mix.items() if m in have}
    st: dict[str, Any] = {"kind": kind, "vcpus": node.vcpus, "memory_gib": node.memory}
    speed = fb.pick(key, models, node, kind)
    st["gpu"] = {"models": models, "count": 1}
    if kind == "testing":
        st["hours"] = str(round(rng.uniform(2, 48), 1))
        return _Made(st, kind, [], _whole(st["hours"], speed), NODE_OF_MODEL[intended], 1,
                     float(st["hours"]) / float(models[intended]))
    st["replicas"] = rng.choice([1, 1, 2, 3])
    st["hours"] = str(rng.choice([HORIZON_HOURS, HORIZON_HOURS, 730]))
    return _Made(st, kind, [], 0, NODE_OF_MODEL[intended], st["replicas"], 0.0)


def _whole(hours: str, speed: str) -> int:
    return math.ceil(Decimal(hours) / Decimal(speed)) + 1


def _chain_hours(made: list[_Made]) -> dict[str, int]:
    """Earliest finish of every batch stage on the fallbacks, from the release (longest
    precedence path; stages come in precedence order)."""
    finish: dict[str, int] = {}
    for m in made:
        if m.data["kind"] == "inference":
            continue
        ready = max((finish[a] for a in m.after if a in finish), default=0)
        finish[m.name] = ready + m.fallback_hours
    return finish


def _defaults(kinds: list[str], names: list[str], j: int) -> list[str]:
    """The pipeline order's predecessors of stage ``j`` (Workload.predecessors)."""
    kind = kinds[j]
    if kind == "testing":
        want = {"training"}
    elif kind == "inference":
        want = {"testing"} if "testing" in kinds else {"training"}
    else:
        return []
    return [names[i] for i, k in enumerate(kinds) if k in want and i != j]


def _workload_stages(rng: random.Random, key: str, fb: Fallbacks,
                     have: set[str]) -> list[_Made]:
    pipes = [p for p, _ in PIPELINES]
    pipe = rng.choices(pipes, weights=[w for _, w in PIPELINES])[0]
    made = []
    for kind, name, after in pipe:
        m = _training(rng, key, fb, have) if kind == "training" else _small(rng, kind, key,
                                                                             fb, have)
        m.name = name or kind
        if name:
            m.data["name"] = name
        if after is not None:
            m.data["after"] = list(after)
        made.append(m)
    kinds = [m.data["kind"] for m in made]
    names = [m.name for m in made]
    for j, m in enumerate(made):
        m.after = list(m.data["after"]) if "after" in m.data else _defaults(kinds, names, j)
    return made


def _calendar(rng: random.Random, made: list[_Made]) -> None:
    """Release, deadline or go-live of a workload's stages, feasible on the fallbacks."""
    finish = _chain_hours(made)
    chain = max(finish.values(), default=0)
    inference = [m for m in made if m.data["kind"] == "inference"]
    if not finish:  # inference only: live throughout, or from a date
        if rng.random() < 0.4:
            m = inference[0]
            golive = rng.randint(0, HORIZON_HOURS - 200)
            m.data["earliest_start"] = _fmt(rng, golive)
            m.hours_intended = float(HORIZON_HOURS - golive)
        else:
            inference[0].hours_intended = float(inference[0].data["hours"])
        return
    if chain + 48 > HORIZON_HOURS:
        raise ValueError(f"a workload's chain needs {chain} h on its fallbacks, more than "
                         f"the quarter allows")
    slack = rng.uniform(1.15, 3.0)
    span = max(chain + 1, math.ceil(chain * slack))
    if span + 48 > HORIZON_HOURS:  # keep every window inside the quarter
        span = chain + 1
    release = rng.randint(0, max(0, HORIZON_HOURS - 48 - span))
    firsts = [m for m in made if not m.after and m.data["kind"] != "inference"]
    for m in firsts:
        if release > 0:
            m.data["earliest_start"] = _fmt(rng, release)
    due = release + span
    if inference:
        for m in inference:  # go-live once the chain is done (fixed hour)
            field = "earliest_start" if rng.random() < 0.5 else "deadline"
            m.data[field] = _fmt(rng, due)
            m.hours_intended = float(HORIZON_HOURS - due)
        return
    if rng.random() < 0.2:
        return  # no deadline
    last = max((m for m in made if m.data["kind"] != "inference"),
               key=lambda m: finish[m.name])
    last.data["deadline"] = _fmt(rng, due)
    if rng.random() < SOFT_SHARE:
        last.data["late_penalty_usd_per_hour"] = str(rng.choice([5, 20, 50, 200]))


def _outages(rng: random.Random, offer: dict[str, Any]) -> None:
    """0–2 non-overlapping maintenance windows on ~25 % of the node classes."""
    if rng.random() >= 0.25:
        return
    spans: list[tuple[int, int]] = []
    for _ in range(rng.randint(1, 2)):
        length = rng.choice([24, 48, 72, 168])
        begin = rng.randint(0, HORIZON_HOURS - length)
        if any(begin < e and b < begin + length for b, e in spans):
            continue
        spans.append((begin, begin + length))
        nodes = offer["nodes"] if rng.random() < 0.4 else rng.randint(1, offer["nodes"])
        offer.setdefault("outages", []).append(
            {"from": _fmt(rng, begin), "to": _fmt(rng, begin + length), "nodes": nodes})


def _pools(rng: random.Random, sites: list[dict[str, Any]],
           demand: dict[tuple[str, str], float], homes: dict[str, list[str]],
           biggest: dict[str, int]) -> None:
    """Nodes at once ≈ POOL_FACTOR × average nodes asked, per (residency class, node
    class), in chunks of 4–16 nodes (at least the largest gang of the class), with
    outages."""
    _inventory(rng, sites, demand, homes, POOL_FACTOR, HORIZON_HOURS, (4, 16), biggest,
               lambda offer: _outages(rng, offer))


def generate_timed(spec: Size, seed: int, catalogs: list[LoadedCatalog]) -> Portfolio:
    """A timed seeded portfolio of ``spec`` (see the module docstring)."""
    rng = random.Random(f"planner-bench-timed/{spec.name}/{spec.stages}/{spec.sites}/{seed}")
    cloud = _cloud_sites(catalogs)
    onprem = _site_skeleton(rng, max(len(HARD_COUNTRIES), spec.sites - len(cloud)))
    quotas = _quotas(rng, cloud, max(1, round(spec.stages / 1000)))
    homes, locked = _homes(cloud, onprem)
    regions = {key: [s for s in sids if s in cloud] for key, sids in homes.items()}
    fb = Fallbacks(catalogs, regions, {(q["site"], q["gpu_model"]) for q in quotas})
    have = {key: ({m for s in regions[key] for m in cloud[s][1] if m}
                  | (set(NODE_OF_MODEL) if len(regions[key]) < len(sids) else set()))
            for key, sids in homes.items()}
    workloads, demand, biggest = _workloads(rng, spec.stages, homes, have, fb, locked)
    _pools(rng, onprem, demand, homes, biggest)
    data = {
        "name": f"bench-timed-{spec.name}-seed{seed}",
        "description": f"timed benchmark portfolio: {spec.stages} stages over {spec.sites} "
                       f"sites, one quarter",
        "settings": {"horizon": {"start": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 "end": (START + timedelta(hours=HORIZON_HOURS))
                                 .strftime("%Y-%m-%dT%H:%M:%SZ")},
                     "max_catalog_age_days": 100000},
        "cloud": {"providers": ["aws", "azure"], "quotas": quotas},
        "onprem": onprem,
        "workloads": workloads,
    }
    return Portfolio.model_validate(data)


def _workloads(rng: random.Random, n_stages: int, homes: dict[str, list[str]],
               have: dict[str, set[str]], fb: Fallbacks, locked: list[str]
               ) -> tuple[list[dict[str, Any]], dict[tuple[str, str], float], dict[str, int]]:
    out: list[dict[str, Any]] = []
    demand: dict[tuple[str, str], float] = {}
    biggest: dict[str, int] = {}
    total = 0
    while total < n_stages:
        cls, residency = _residency(rng, locked)
        key = residency["countries"][0] if cls == "country" else cls
        made = _workload_stages(rng, key, fb, have[key])[: n_stages - total]
        for m in made:  # a cut pipeline keeps only predecessors it still has
            names = {x.name for x in made}
            m.after = [a for a in m.after if a in names]
            if "after" in m.data:
                m.data["after"] = [a for a in m.data["after"] if a in names]
        _calendar(rng, made)
        for m in made:
            hours = m.hours_intended
            demand[key, m.intended] = demand.get((key, m.intended), 0.0) + m.nodes * hours
            if m.data["kind"] == "training":
                biggest[m.intended] = max(biggest.get(m.intended, 1), m.nodes)
        out.append({
            "id": f"t{len(out):06d}",
            "team": f"team-{rng.randint(0, 19):02d}",
            "dataset": {"size_gb": str(round(rng.uniform(10, 500), 1)),
                        "home": rng.choice(homes[key])},
            "residency": residency,
            "stages": [m.data for m in made],
        })
        total += len(made)
    return out, demand, biggest
