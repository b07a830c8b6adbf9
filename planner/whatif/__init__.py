"""What-if scenarios: apply changes to a base portfolio and re-plan each.

A scenario file lists scenarios; each may scale prices (by provider, site, GPU
model or offer), change capacity (on-prem nodes, instance caps, GPU quotas),
lose sites (no compute there any more), add regulations (a jurisdiction is
no longer allowed for workloads holding a data class), and change the calendar
(:mod:`planner.whatif.timeline`: move deadlines, take on-prem nodes down for a
while, add on-prem nodes from a date). Scenarios are independent and run through
an executor (``auto`` by default: serially for small what-ifs, in local processes
for large ones; see :data:`PARALLEL_MIN_STAGE_PLANS`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.errors import InputError
from planner.inputs.files import file_path, read_document, validate_as
from planner.inputs.messages import format_loc
from planner.models.calendar_checks import check_calendar
from planner.models.limits import MAX_PRICE_FACTOR, Range, error_at
from planner.models.plan import Conflict, Plan
from planner.models.portfolio import Count, Portfolio, Residency
from planner.models.world import Offer, World
from planner.plans.diff import compare_plans
from planner.vocab.gpus import GPU_MODELS, closest
from planner.vocab.jurisdictions import DERIVED_TAGS, country_name, suggest_country
from planner.whatif.timeline import (
    DeadlineChange,
    NodesAdded,
    OutageAdded,
    apply_calendar,
    check_name,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceChange(_Strict):
    """Multiply the hourly prices (on-demand and spot) of matching offers by ``factor``."""

    factor: Annotated[Decimal, Range(0, MAX_PRICE_FACTOR, "× the price", open_lo=True)]
    provider: str | None = None
    site: str | None = None
    gpu_model: str | None = None
    offer: str | None = None


class CapacityChange(_Strict):
    """Set an offer's instance cap / on-prem nodes, or a site's GPU quota."""

    site: str
    offer: str | None = None
    instances: Count | None = None
    gpu_model: str | None = None
    gpus: Count | None = None

    @model_validator(mode="after")
    def _one(self) -> CapacityChange:
        if (self.offer is not None and self.instances is not None) == (
                self.gpu_model is not None and self.gpus is not None):
            raise ValueError("a capacity change is either {offer, instances} or {gpu_model, gpus}")
        return self


class Regulation(_Strict):
    """Workloads whose dataset holds ``data_class`` may no longer use these jurisdictions
    (optionally narrowed to ``replace_with``, e.g. EU → DE)."""

    data_class: str
    remove_jurisdictions: list[str] = Field(min_length=1)
    replace_with: list[str] = Field(default_factory=list)


class Scenario(_Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    price_multipliers: list[PriceChange] = Field(default_factory=list)
    capacity: list[CapacityChange] = Field(default_factory=list)
    sites_lost: list[str] = Field(default_factory=list)
    regulations: list[Regulation] = Field(default_factory=list)
    deadlines: list[DeadlineChange] = Field(default_factory=list)
    outages: list[OutageAdded] = Field(default_factory=list)
    more_nodes: list[NodesAdded] = Field(default_factory=list)


class ScenarioFile(_Strict):
    scenarios: list[Scenario] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> ScenarioFile:
        """The report tells scenarios apart by name: each is used once."""
        names = [sc.name for sc in self.scenarios]
        for k, name in enumerate(names):
            if name in names[:k]:
                error_at("ScenarioFile", ("scenarios", k, "name"), "duplicate_scenario",
                         f"scenario name {name!r} is used twice (scenarios[{names.index(name)}] "
                         "has it too); give each scenario a unique name", name)
        return self


class ScenarioResult(BaseModel):
    """One scenario's outcome next to the base plan."""

    model_config = ConfigDict(extra="forbid")

    name: str
    status: str
    total_usd: Decimal | None
    delta_usd: Decimal | None
    moved: list[str]
    rescheduled: list[str] = Field(
        default_factory=list,
        description="stages placed as in the base plan that run at other times (a moved "
                    "deadline, an outage)")
    dropped: list[str] = Field(
        default_factory=list,
        description="workloads a partial scenario plan leaves out (its delta then compares "
                    "different sets of workloads)")
    conflicts: list[Conflict] = Field(
        default_factory=list,
        description="the conflicting rules: the plan's, or for a partial plan those of its "
                    "dropped workloads")
    diagnosis: str | None = None
    plan: Plan | None = None


class WhatIfReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    portfolio: str
    base: ScenarioResult
    scenarios: list[ScenarioResult]


def load_scenarios(path: str | Path) -> ScenarioFile:
    p = file_path(path, "scenario")
    return validate_as(ScenarioFile, read_document(p), str(p))


def _match(o: Offer, world: World, c: PriceChange) -> bool:
    site = world.sites[o.site_id]
    return ((c.provider is None or site.provider == c.provider)
            and (c.site is None or o.site_id == c.site)
            and (c.gpu_model is None or o.gpu_model == c.gpu_model)
            and (c.offer is None or o.id == c.offer))


def _check_site(site: str, world: World, path: str) -> None:
    check_name("site", site, set(world.sites), path)


def _check_price_change(c: PriceChange, world: World, path: str) -> None:
    if c.site:
        _check_site(c.site, world, f"{path}.site")
    check_name("provider", c.provider, {s.provider for s in world.sites.values()},
                f"{path}.provider")
    check_name("GPU model", c.gpu_model, set(GPU_MODELS), f"{path}.gpu_model")


def _check_jurisdictions(reg: Regulation, world: World, path: str) -> None:
    """Every tag a regulation names is an ISO country code or a jurisdiction of some site."""
    tags = set(DERIVED_TAGS).union(*(s.jurisdictions for s in world.sites.values()))
    for field in ("remove_jurisdictions", "replace_with"):
        for k, tag in enumerate(getattr(reg, field)):
            if tag in tags or country_name(tag):
                continue
            code = suggest_country(tag)
            guess = code or closest(tag, tags)
            hint = (f"did you mean {guess!r}{f' ({country_name(guess)})' if code == guess else ''}?"
                    if guess else f"valid: {', '.join(sorted(tags)[:12])}")
            raise InputError(f"unknown jurisdiction {tag!r}", path=f"{path}.{field}[{k}]",
                             hint=hint)


def apply_scenario(portfolio: Portfolio, world: World, sc: Scenario, index: int = 0
                   ) -> tuple[Portfolio, World]:
    """The portfolio and world as the scenario changes them (inputs are not modified)."""
    path = f"scenarios[{index}]"
    offers = list(world.offers)
    for j, c in enumerate(sc.price_multipliers):
        _check_price_change(c, world, f"{path}.price_multipliers[{j}]")
        hit = False
        for k, o in enumerate(offers):
            if _match(o, world, c):
                hit = True
                spot, c1, c3 = (x * c.factor if x else None for x in (
                    o.spot_price_per_hour, o.commit_1y_per_hour, o.commit_3y_per_hour))
                offers[k] = replace(o, price_per_hour=o.price_per_hour * c.factor,
                                    spot_price_per_hour=spot, commit_1y_per_hour=c1,
                                    commit_3y_per_hour=c3)
        if not hit:
            raise InputError("matches no offer", path=f"{path}.price_multipliers[{j}]",
                             hint="check provider, site, gpu_model and offer")
    quotas = dict(world.gpu_quotas)
    touched: dict[tuple[str, str], str] = {}  # on-prem offer → the last change to it
    for j, cap in enumerate(sc.capacity):
        cpath = f"{path}.capacity[{j}]"
        _check_site(cap.site, world, f"{cpath}.site")
        if cap.offer is not None:
            at = next((k for k, o in enumerate(offers)
                       if o.site_id == cap.site and o.id == cap.offer), None)
            if at is None:
                check_name(f"offer at {cap.site}", cap.offer,
                            {o.id for o in offers if o.site_id == cap.site}, f"{cpath}.offer")
                raise InputError(f"no offer {cap.offer!r} at {cap.site}", path=f"{cpath}.offer")
            offers[at] = replace(offers[at], capacity=cap.instances)
            touched[(cap.site, cap.offer)] = f"{cpath}.instances"
        else:
            assert cap.gpu_model is not None and cap.gpus is not None
            check_name("GPU model", cap.gpu_model, set(GPU_MODELS), f"{cpath}.gpu_model")
            quotas[(cap.site, cap.gpu_model)] = cap.gpus
    for j, site in enumerate(sc.sites_lost):
        _check_site(site, world, f"{path}.sites_lost[{j}]")
    lost = set(sc.sites_lost)
    offers = [o for o in offers if o.site_id not in lost]
    new_world = replace(world, offers=tuple(offers), gpu_quotas=quotas)
    workloads = list(portfolio.workloads)
    for j, reg in enumerate(sc.regulations):
        _check_jurisdictions(reg, world, f"{path}.regulations[{j}]")
        hit = False
        for k, w in enumerate(workloads):
            if reg.data_class not in w.dataset.classes:
                continue
            hit = True
            where = f"{path}.regulations[{j}]"
            stages = [st if st.residency is None else st.model_copy(update={
                "residency": _regulated(f"{w.id}/{st.label}", st.residency, reg, world,
                                        where)}) for st in w.stages]
            workloads[k] = w.model_copy(update={
                "residency": _regulated(w.id, w.residency, reg, world, where),
                "stages": stages})
        if not hit:
            raise InputError(f"no workload holds data class {reg.data_class!r}",
                             path=f"{path}.regulations[{j}].data_class",
                             hint="set dataset.classes on the workloads it concerns")
    portfolio = portfolio.model_copy(update={"workloads": workloads})
    changed, new_world = apply_calendar(portfolio, new_world, sc.deadlines, sc.outages,
                                        sc.more_nodes, path, touched)
    _still_valid(changed, path)
    return changed, new_world


def _regulated(who: str, residency: Residency, reg: Regulation, world: World,
               path: str) -> Residency:
    """``residency`` (a workload's, or a stage's own, which replaces it) under the
    regulation: its removed jurisdictions out of the list (``replace_with`` in), and the
    sites that carry them off its sites (:func:`_sites_left`). A stage with residency of
    its own kept running where the regulation bans its workload's data."""
    left = [t for t in residency.jurisdictions if t not in reg.remove_jurisdictions]
    if len(left) < len(residency.jurisdictions):
        left += [t for t in reg.replace_with if t not in left]
    if residency.jurisdictions and not left:
        raise InputError(f"leaves workload {who!r} no allowed jurisdiction", path=path,
                         hint="remove fewer jurisdictions or add replace_with: [COUNTRY]")
    sites = _sites_left(who, residency.model_copy(update={"jurisdictions": left}), reg,
                        world, path)
    return Residency(**{**residency.model_dump(), "jurisdictions": left, "sites": sites})


def _sites_left(workload: str, residency: Residency, reg: Regulation, world: World,
                path: str) -> list[str]:
    """The workload's ``residency.sites`` once the regulation holds: unchanged when its
    jurisdictions already keep it off every site the regulation bans; otherwise the sites
    it may still use, named. A site is banned when it carries a removed jurisdiction and
    none of ``replace_with`` (removing DE from a workload allowed the EU, or from one bound
    to a list of sites, changed nothing before: no literal DE to remove)."""
    removed, kept = set(reg.remove_jurisdictions), set(reg.replace_with)
    banned = {sid for sid, site in world.sites.items()
              if site.jurisdictions & removed and not site.jurisdictions & kept}
    r = residency
    admitted = [sid for sid, site in sorted(world.sites.items())
                if (not r.sites or sid in r.sites)
                and (not r.jurisdictions or site.jurisdictions & set(r.jurisdictions))
                and (not r.countries or site.country in r.countries)
                and set(r.certifications) <= site.certifications]
    if not banned.intersection(admitted):
        return r.sites
    left = [sid for sid in admitted if sid not in banned]
    if not left:
        raise InputError(f"leaves workload {workload!r} no allowed site (its sites all lie "
                         f"in {', '.join(sorted(removed))})", path=path,
                         hint="remove fewer jurisdictions or add replace_with: [COUNTRY]")
    return left


def _still_valid(portfolio: Portfolio, path: str) -> None:
    """The portfolio a scenario makes keeps every calendar rule a portfolio file must (the
    changes are applied as copies, which pydantic does not validate again): an inference
    deadline moved to the horizon end was an empty run, a "planner bug"."""
    try:
        check_calendar(portfolio)
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(f"the portfolio it makes breaks a rule at {format_loc(first['loc'])}: "
                         f"{first['msg']}", path=path,
                         hint="change the scenario so that the portfolio stays valid") from None


def summarize(name: str, plan: Plan, base: Plan | None, keep_plan: bool) -> ScenarioResult:
    feasible = plan.feasible
    moved: list[str] = []
    shifted: list[str] = []
    delta = None
    if base is not None and feasible and base.feasible:
        change = compare_plans(base, plan)
        moved = [f"{m.workload}/{m.stage}" for m in change.moved]
        shifted = [f"{r.workload}/{r.stage}" for r in change.rescheduled]
        delta = plan.totals.total_usd - base.totals.total_usd
    conflicts = list(plan.conflicts)
    for d in plan.dropped:
        conflicts += [c for c in d.conflicts if c not in conflicts]
    return ScenarioResult(name=name, status=plan.status.value,
                          total_usd=plan.totals.total_usd if feasible else None,
                          delta_usd=delta, moved=moved, rescheduled=shifted,
                          dropped=[d.workload for d in plan.dropped], conflicts=conflicts,
                          diagnosis=plan.diagnosis, plan=plan if keep_plan else None)


def _plan_one(item: tuple[Portfolio, World, dict[str, object]]) -> Plan:
    from planner.api import plan_world

    portfolio, world, kwargs = item
    return plan_world(portfolio, world, **kwargs)  # type: ignore[arg-type]


AUTO = "auto"
PARALLEL_MIN_STAGE_PLANS = 1000
"""``auto`` runs scenarios in local processes from this many stage-plans (stages ×
scenarios) on; below it, serially. Starting the worker processes (spawn, importing the
planner and OR-Tools) costs about 4.5 s, which a small what-if never earns back. Measured
on the 2-core test machine with ``python -m benchmarks.whatif_executor`` (4 scenarios):
10 stages 0.4 s serial / 4.9 s local; 60: 2.2 / 6.5; 120: 5.0 / 13.9; 250 (1,000
stage-plans): 15.7 / 14.3."""


def choose_executor(executor: str, n_stages: int, n_scenarios: int,
                    cores: int | None = None) -> str:
    """The executor to use: ``auto`` picks ``serial`` for small what-ifs (below
    :data:`PARALLEL_MIN_STAGE_PLANS` stage-plans), one scenario or one core, else
    ``local``; any other name is kept."""
    if executor != AUTO:
        return executor
    cores = (os.cpu_count() or 1) if cores is None else cores
    if n_scenarios <= 1 or cores <= 1 or n_stages * n_scenarios < PARALLEL_MIN_STAGE_PLANS:
        return "serial"
    return "local"


def run_whatif(portfolio: Portfolio, world: World, scenarios: ScenarioFile, *,
               executor: str = AUTO, address: str | None = None, keep_plans: bool = False,
               **plan_kwargs: object) -> WhatIfReport:
    """Plan the base and every scenario (scenarios through the executor; ``auto``: see
    :func:`choose_executor`)."""
    from planner.parallel import make_executor

    applied = [apply_scenario(portfolio, world, sc, i)
               for i, sc in enumerate(scenarios.scenarios)]
    base = _plan_one((portfolio, world, plan_kwargs))
    n_stages = sum(len(w.stages) for w in portfolio.workloads)
    runner = make_executor(choose_executor(executor, n_stages, len(applied)), address=address)
    try:
        plans = runner.map(_plan_one, [(p, w, plan_kwargs) for p, w in applied])
    finally:
        runner.close()
    return WhatIfReport(
        portfolio=portfolio.name, base=summarize("base", base, None, keep_plans),
        scenarios=[summarize(sc.name, _under(pl, sc.name), base, keep_plans)
                   for sc, pl in zip(scenarios.scenarios, plans, strict=True)])


def _under(plan: Plan, scenario: str) -> Plan:
    """The plan, its inputs marked with the scenario it was made under: a scenario that
    changes only prices, capacity or sites leaves the portfolio and catalog digests as
    they are, and such a plan checked against the portfolio failed rule by rule instead
    of being named a plan of other inputs."""
    if plan.inputs is None:
        return plan
    return plan.model_copy(update={"inputs": plan.inputs.model_copy(
        update={"scenario": scenario})})
