"""Tiny hand-built inputs for rule tests: a small in-memory catalog and portfolios."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from planner import api
from planner.catalog.load import LoadedCatalog
from planner.catalog.schema import SCHEMA_VERSION, CatalogFile
from planner.compile.resolve import build_world
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio
from planner.verify.check import verify

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def row(region: str, itype: str, price: str, *, gpu: str | None = None, gpus: float = 0,
        vcpus: int = 8, mem: float = 64, spot: str | None = None, country: str = "DE",
        provider: str = "aws", restricted: bool = False) -> dict[str, Any]:
    return {
        "provider": provider, "region": region, "instance_type": itype,
        "family": itype.split(".")[0], "vcpus": vcpus, "memory_gib": mem,
        "gpu_model": gpu, "gpu_vendor": "nvidia" if gpu else None, "gpu_count": gpus,
        "price_per_hour": price, "spot_price_per_hour": spot, "country": country,
        "availability": "restricted" if restricted else "available",
        "restrictions": ["NotAvailableForSubscription"] if restricted else [],
    }


def catalog(rows: list[dict[str, Any]], provider: str = "aws") -> LoadedCatalog:
    data = {
        "schema_version": SCHEMA_VERSION, "provider": provider,
        "fetched_at": "2026-10-30T00:00:00Z",
        "source": {"apis": ["test"]}, "currency": "USD",
        "regions": sorted({r["region"] for r in rows}),
        "egress": {"same_provider_per_gb": "0.02", "internet_per_gb": "0.09"},
        "rows": rows,
    }
    cat = CatalogFile.model_validate(data)
    digest = hashlib.sha256(cat.model_dump_json().encode()).hexdigest()
    return LoadedCatalog(Path(f"{provider}.json"), digest, cat)


def small_catalog() -> LoadedCatalog:
    """Two EU regions and one US region with a GPU and a CPU offer each."""
    return catalog([
        row("eu-central-1", "g.a100", "40", gpu="A100-80GB", gpus=8, vcpus=96, mem=1024,
            spot="15", country="DE"),
        row("eu-central-1", "m.cpu", "0.50", vcpus=8, mem=32, country="DE"),
        row("eu-west-1", "g.a100", "36", gpu="A100-80GB", gpus=8, vcpus=96, mem=1024,
            country="IE"),
        row("eu-west-1", "m.cpu", "0.45", vcpus=8, mem=32, country="IE"),
        row("us-east-1", "g.a100", "30", gpu="A100-80GB", gpus=8, vcpus=96, mem=1024,
            spot="10", country="US"),
        row("us-east-1", "g.h100", "60", gpu="H100", gpus=8, vcpus=192, mem=2048, country="US"),
        row("us-east-1", "m.cpu", "0.40", vcpus=8, mem=32, country="US"),
    ])


def portfolio(workloads: list[dict[str, Any]], **extra: Any) -> Portfolio:
    data: dict[str, Any] = {"name": "test", "cloud": {"providers": ["aws"]},
                            "workloads": workloads}
    data.update(extra)
    return Portfolio.model_validate(data)


def training(hours: float = 10, gpus: int = 8, models: dict[str, float] | None = None,
             **kw: Any) -> dict[str, Any]:
    return {"kind": "training", "gpu": {"models": models or {"A100-80GB": 1.0}, "count": gpus},
            "vcpus": 8, "memory_gib": 64, "hours": hours, **kw}


def workload(wid: str, stages: list[dict[str, Any]], *, home: str = "aws:us-east-1",
             size_gb: float = 0, **residency: Any) -> dict[str, Any]:
    return {"id": wid, "team": "t", "dataset": {"size_gb": size_gb, "home": home},
            "residency": residency, "stages": stages}


def solve(p: Portfolio, cats: list[LoadedCatalog] | None = None, solver: str = "cpsat",
          **kw: Any) -> Plan:
    """Plan with the API and check the plan with the independent verifier."""
    cats = cats or [small_catalog()]
    plan = api.plan(p, cats, solver=solver, time_limit_s=kw.pop("time_limit_s", 10),
                    now=NOW, **kw)
    prev = kw.get("previous")
    previous = api.previous_placements(prev) if prev is not None else None
    assert verify(p, build_world(p, cats, now=NOW), plan, previous=previous) == []
    return plan


def cost(plan: Plan) -> Decimal:
    return plan.totals.total_usd
