"""Independent verifier: never trust the solver, nor what the plan says about itself.

Given the inputs (portfolio, resolved world, and the previous plan when
re-planning) and a plan, recompute every rule and every number from scratch,
without the candidate generator or any solver code, and list what is wrong.
Labels (provider, region, country, team, kind, GPU model) come from the world
and the portfolio, never from the placement; a placement whose own labels
disagree is itself a violation.

Cost rules (as the plan schema states): a placement serves ``replicas`` units of
a stage whose replicas may be split over sites (else one unit: the whole stage);
each cost term is computed per unit exactly in decimals and rounded half-even
to micro-dollars, then multiplied by the units. Pipeline egress of the model
artifact is charged once per receiving site, on the first placement there.
Capacity is checked exactly in unit-hours, with no rounding in the planner's
favour (:mod:`planner.verify.capacity`).

A partial plan places every stage of every workload it does not drop, and nothing of
the dropped ones, each with a reason; its totals (value included) add up over what it
places. An infeasible plan places nothing; whether its conflicting rules really admit no
plan is re-solved outside this module (``planner.api.verify_report``), so that the
verifier itself stays free of solver code.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from planner.models.plan import Placement, Plan
from planner.models.portfolio import (
    ColocationLevel,
    Portfolio,
    Residency,
    Settings,
    Stage,
    StageKind,
    Workload,
)
from planner.models.world import Offer, Purchase, Site, SiteKind, World
from planner.verify.base import (
    Checked,
    Violation,
    gang_allowed,
    gang_sizes,
    node_share,
    num,
    run_hours,
    splittable,
)
from planner.verify.base import round_usd as _round
from planner.verify.capacity import check_capacity
from planner.verify.claims import check_objective, check_status, foreign_plan
from planner.verify.timeline import check_timeline

__all__ = ["Previous", "Violation", "foreign_plan", "verify"]

Previous = dict[str, list[tuple[str, str]]]


def _rate(src: Site, dst: Site) -> Decimal:
    """The source site's price per GB to ``dst``: its listed price for that site, else
    the internet price (free within a site)."""
    if src.id == dst.id:
        return Decimal(0)
    return src.egress.to_sites.get(dst.id, src.egress.internet_per_gb)


def _check_site(w: Workload, stage: Stage, world: World, site: Site,
                where: str) -> list[Violation]:
    out = []
    r: Residency = w.residency_of(stage)
    if r.sites and site.id not in r.sites:
        out.append(Violation("residency.sites", where, f"{site.id} not in allowed sites"))
    if r.countries and site.country not in r.countries:
        out.append(Violation("residency.countries", where,
                             f"{site.id} is in {site.country}, allowed {r.countries}"))
    if r.jurisdictions and not set(r.jurisdictions) & site.jurisdictions:
        out.append(Violation("residency.jurisdictions", where,
                             f"{site.id} is outside {r.jurisdictions}"))
    missing = set(r.certifications) - site.certifications
    if missing:
        out.append(Violation("residency.certifications", where,
                             f"{site.id} lacks {sorted(missing)}"))
    if site.id in w.placement.exclude_sites or site.provider in w.placement.exclude_providers:
        out.append(Violation("placement.excluded", where, f"{site.id} is excluded"))
    if stage.latency:
        for user in stage.latency.users:
            rtt = world.rtt_ms(site.id, user)
            if rtt is None or rtt > stage.latency.max_ms:
                out.append(Violation("inference.latency", where,
                                     f"{site.id} → {user}: {rtt} ms > {stage.latency.max_ms}"))
    return out


def _check_hardware(stage: Stage, site: Site, offer: Offer, p: Placement,
                    where: str) -> list[Violation]:
    out = []
    if stage.gpu is not None and offer.gpu_model not in stage.gpu.models:
        out.append(Violation("hardware.gpu_model", where,
                             f"{offer.id} has {offer.gpu_model}, not in {list(stage.gpu.models)}"))
    if stage.gpu is None and offer.gpu_model:
        out.append(Violation("hardware.cpu_only", where, f"CPU-only stage on GPU offer {offer.id}"))
    if offer.restricted:
        out.append(Violation("hardware.restricted", where, f"{offer.id}: {offer.restricted}"))
    return out + _check_gang(stage, offer, p, where)


def _check_gang(stage: Stage, offer: Offer, p: Placement, where: str) -> list[Violation]:
    """Whole instances: each replica runs on ``nodes_per_replica`` instances of the offer at
    once, as many as the stage declares, and each node's share fits one instance."""
    out = []
    nodes = p.nodes_per_replica
    if p.instances != p.replicas * nodes:
        out.append(Violation("hardware.gang", where, f"{p.instances} instances ≠ {p.replicas} "
                                                     f"replicas × {nodes} nodes"))
    if not gang_allowed(stage, nodes):
        out.append(Violation("hardware.gang", where, f"{nodes} nodes per replica; the stage "
                                                     f"allows {gang_sizes(stage)}"))
    gpus, vcpus, gib = node_share(stage, nodes)
    for need, have, unit in ((Decimal(gpus), offer.gpu_count, "GPUs"),
                             (vcpus, Decimal(offer.vcpus), "vCPUs"),
                             (gib, offer.memory_gib, "GiB")):
        if need > have:
            out.append(Violation("hardware.fit", where, f"a node needs {num(need)} {unit}; "
                                                        f"{offer.id} has {num(have)}"))
    return out


def _check_purchase(settings: Settings, period_hours: Decimal, stage: Stage, site: Site,
                    offer: Offer, p: Placement, where: str) -> list[Violation]:
    """On-prem is owned; the cloud is bought on demand, on spot when the stage allows it and
    the offer has a spot price, or under a commitment when the portfolio allows commitments,
    the stage is always-on inference (hours ≥ the period) and the offer has that price."""
    out = []
    if site.kind is SiteKind.ONPREM and p.purchase is not Purchase.OWNED:
        out.append(Violation("purchase", where, "on-prem capacity is owned"))
    if site.kind is SiteKind.CLOUD and p.purchase is Purchase.OWNED:
        out.append(Violation("purchase", where,
                             "cloud capacity is bought on demand, spot or committed"))
    if p.purchase is Purchase.SPOT and not (stage.spot and offer.spot_price_per_hour is not None):
        out.append(Violation("purchase.spot", where, "spot used but not allowed or not offered"))
    if p.purchase in (Purchase.COMMIT_1Y, Purchase.COMMIT_3Y):
        price = (offer.commit_1y_per_hour if p.purchase is Purchase.COMMIT_1Y
                 else offer.commit_3y_per_hour)
        always_on = (stage.kind is StageKind.INFERENCE
                     and run_hours(stage, offer, settings) >= period_hours)
        if not (settings.allow_commitments and always_on and price is not None):
            out.append(Violation("purchase.commitment", where,
                                 f"{p.purchase.value} used but commitments are not allowed, the "
                                 "stage is not always-on inference, or the offer has no "
                                 "such price"))
    return out


def _check_labels(c: Checked) -> list[Violation]:
    """The placement's own labels say what the world and the portfolio say."""
    p = c.placement
    truth: dict[str, tuple[object, object]] = {
        "provider": (p.provider, c.site.provider), "region": (p.region, c.site.region),
        "country": (p.country, c.site.country), "team": (p.team, c.workload.team),
        "kind": (p.kind.value, c.stage.kind.value), "gpu_model": (p.gpu_model, c.offer.gpu_model),
        "gpus_per_instance": (p.gpus_per_instance, c.offer.gpu_count)}
    return [Violation("label", f"{c.where}.{field}",
                      f"plan says {got!r}, the inputs say {want!r}")
            for field, (got, want) in truth.items() if got != want]


def _moved_gb(w: Workload, stage: Stage) -> Decimal:
    if stage.kind is StageKind.TRAINING:
        return w.dataset.size_gb
    if stage.kind is StageKind.TESTING:
        return w.dataset.test_gb + w.model.size_gb
    return w.model.size_gb


class _Ctx:
    """The inputs, and the objective-only terms summed while the placements are checked."""

    def __init__(self, portfolio: Portfolio, world: World, previous: Previous | None) -> None:
        self.portfolio = portfolio
        self.world = world
        self.previous = previous
        self.risk = Decimal(0)
        self.preference = Decimal(0)
        self.checked: list[Checked] = []
        self.dropped: set[str] = set()
        self.stages = {(w.id, s.label): (w, s) for w in portfolio.workloads for s in w.stages}


def _check_costs(ctx: _Ctx, c: Checked, artifact: Decimal) -> list[Violation]:
    out = []
    w, stage, site, offer, p, where = c.workload, c.stage, c.site, c.offer, c.placement, c.where
    settings = ctx.portfolio.settings
    units = c.units
    n = Decimal(p.instances) / units
    hours = run_hours(stage, offer, settings)
    if p.hours != hours.quantize(Decimal("0.000001")):
        out.append(Violation("cost.hours", where, f"hours {p.hours} ≠ {hours}"))
    price = {Purchase.SPOT: offer.spot_price_per_hour,
             Purchase.COMMIT_1Y: offer.commit_1y_per_hour,
             Purchase.COMMIT_3Y: offer.commit_3y_per_hour}.get(p.purchase, offer.price_per_hour)
    price = price or Decimal(0)
    compute = _round(price * n * hours) * units
    home = ctx.world.sites[w.dataset.home]
    if stage.kind is StageKind.TRAINING:
        flow = _round(_rate(home, site) * w.dataset.size_gb)
    elif stage.kind is StageKind.TESTING:
        flow = _round(_rate(home, site) * w.dataset.test_gb)
    else:
        flow = _round(site.egress.internet_per_gb * stage.response_gb / stage.replicas
                      if splittable(stage) else site.egress.internet_per_gb * stage.response_gb)
    egress = flow * units + artifact
    migration = Decimal(0)
    prev = (ctx.previous or {}).get(f"{w.id}/{stage.label}")
    moved = bool(prev) and (site.id, offer.id) not in (prev or [])
    if moved and prev:
        old = ctx.world.sites.get(prev[0][0])
        data = _round(_rate(old, site) * _moved_gb(w, stage)) if old else Decimal(0)
        migration = (_round(settings.move_fixed_usd) + data) * units
    if p.moved != moved:
        out.append(Violation("moves", where, f"moved flag {p.moved}, previous plan says {moved}"))
    if p.purchase is Purchase.SPOT:
        ctx.risk += _round(price * settings.spot_risk_uplift * n * hours) * units
    pl = w.placement
    if (pl.prefer_sites or pl.prefer_providers) and not (
            site.id in pl.prefer_sites or site.provider in pl.prefer_providers):
        ctx.preference += _round(price * settings.preference_weight * n * hours) * units
    for label, got, want in (("compute", p.cost.compute_usd, compute),
                             ("egress", p.cost.egress_usd, egress),
                             ("migration", p.cost.migration_usd, migration),
                             ("total", p.cost.total_usd, compute + egress + migration)):
        if got != want:
            out.append(Violation(f"cost.{label}", where, f"plan says {got}, inputs give {want}"))
    return out


def _check_stages(ctx: _Ctx, by_stage: dict[tuple[str, str], list[Placement]]
                  ) -> list[Violation]:
    """Coverage, spread, co-location and the move cap."""
    out = []
    moved_stages = 0
    for w in ctx.portfolio.workloads:
        if w.id in ctx.dropped:
            continue  # checked by _check_dropped
        for st in w.stages:
            key = (w.id, st.label)
            where = f"{w.id}/{st.label}"
            mine = by_stage.get(key, [])
            if not mine:
                out.append(Violation("coverage", where, "stage is not placed"))
                continue
            if splittable(st):
                total = sum(p.replicas for p in mine)
                if total != st.replicas:
                    out.append(Violation("coverage", where, f"{total} replicas ≠ {st.replicas}"))
            elif len(mine) != 1 or mine[0].replicas != st.replicas:
                out.append(Violation("coverage", where, "must be placed once, whole"))
            sites = {p.site for p in mine}
            if len(sites) < st.min_sites:
                out.append(Violation("spread", where, f"{len(sites)} sites < {st.min_sites}"))
            if st.colocate:
                other = by_stage.get((w.id, st.colocate.stage), [])
                level = st.colocate.level

                def group(site_id: str, level: ColocationLevel = level) -> str | None:
                    site = ctx.world.sites.get(site_id)
                    if site is None:
                        return None
                    return {ColocationLevel.SITE: site.id, ColocationLevel.COUNTRY: site.country,
                            ColocationLevel.PROVIDER: site.provider}[level]

                theirs = {group(p.site) for p in other}
                if any(group(s) not in theirs for s in sites):
                    out.append(Violation("colocation", where,
                                         f"not at the same {level.value} as {st.colocate.stage}"))
            moved_stages += any(p.moved for p in mine)
    cap = ctx.portfolio.settings.max_moves
    if ctx.previous is not None and cap is not None and moved_stages > cap:
        out.append(Violation("moves", "moves", f"{moved_stages} stages move; cap is {cap}"))
    return out


def _check_dropped(ctx: _Ctx, plan: Plan,
                   by_stage: dict[tuple[str, str], list[Placement]]) -> list[Violation]:
    """A partial plan's dropped workloads exist, are listed once, place nothing, and
    carry the value and priority the portfolio gives them; the plan's total value is
    the value of the workloads it places."""
    out = []
    workloads = {w.id: w for w in ctx.portfolio.workloads}
    seen: set[str] = set()
    for i, d in enumerate(plan.dropped):
        where = f"dropped[{i}] ({d.workload})"
        w = workloads.get(d.workload)
        if w is None or d.workload in seen:
            out.append(Violation("dropped", where, "not a workload of the portfolio"
                                 if w is None else "listed twice"))
            continue
        seen.add(d.workload)
        if not d.reasons:
            out.append(Violation("dropped", where, "dropped without a reason"))
        if any(key[0] == d.workload for key in by_stage):
            out.append(Violation("dropped", where, "dropped, but some stage is placed"))
        if (d.value_usd, d.priority) != (w.value_usd, w.priority):
            out.append(Violation("dropped", where, "value or priority differs from the "
                                                   "portfolio"))
    has_value = any(w.value_usd is not None for w in workloads.values())
    placed = {key[0] for key in by_stage}
    want = sum((w.value_usd for w in workloads.values()
                if w.id in placed and w.value_usd is not None), Decimal(0)) \
        if has_value else None
    if plan.totals.value_usd != want:
        out.append(Violation("totals", "totals.value_usd",
                             f"{plan.totals.value_usd} ≠ value of the placed workloads {want}"))
    return out


def _groups(checked: list[Checked]) -> dict[str, dict[str, Decimal]]:
    """Cost by provider, site, team and stage kind, labelled from the inputs."""
    groups: dict[str, dict[str, Decimal]] = {k: defaultdict(Decimal)
                                             for k in ("provider", "site", "team", "kind")}
    for c in checked:
        for k, v in (("provider", c.site.provider), ("site", c.site.id),
                     ("team", c.workload.team), ("kind", c.stage.kind.value)):
            groups[k][v] += c.placement.cost.total_usd
    return groups


def _check_caps(ctx: _Ctx, total: Decimal, teams: dict[str, Decimal]) -> list[Violation]:
    """Budgets and the provider-concentration cap (cloud providers, by the world's labels)."""
    out = []
    s = ctx.portfolio.settings
    if s.budget_usd is not None and total > s.budget_usd:
        out.append(Violation("budget", "totals.total_usd", f"{total} > {s.budget_usd}"))
    for team, cap in s.team_budgets.items():
        spent = teams.get(team, Decimal(0))
        if spent > cap:
            out.append(Violation("budget", f"team {team}", f"{spent} > {cap}"))
    if s.max_provider_share is not None:
        compute: dict[str, Decimal] = defaultdict(Decimal)
        for c in ctx.checked:
            if c.site.kind is SiteKind.CLOUD:
                compute[c.site.provider] += c.placement.cost.compute_usd
        everything = sum((c.placement.cost.compute_usd for c in ctx.checked), Decimal(0))
        for prov, spent in sorted(compute.items()):
            if spent > s.max_provider_share * everything:
                out.append(Violation("concentration", prov,
                                     f"{spent} of {everything} compute > {s.max_provider_share}"))
    return out


def _check_totals(ctx: _Ctx, plan: Plan) -> list[Violation]:
    out = []
    t = plan.totals
    sums = {k: sum((getattr(p.cost, f"{k}_usd") for p in plan.placements), Decimal(0))
            for k in ("compute", "egress", "migration", "total")}
    for k, want in sums.items():
        if getattr(t, f"{k}_usd") != want:
            out.append(Violation("totals", f"totals.{k}_usd", f"{getattr(t, f'{k}_usd')} ≠ {want}"))
    for label, got, want in (("spot_risk", t.spot_risk_usd, ctx.risk),
                             ("preference", t.preference_usd, ctx.preference)):
        if got != want:
            out.append(Violation("totals", f"totals.{label}_usd", f"{got} ≠ {want}"))
    groups = _groups(ctx.checked)
    for key, want_g in groups.items():
        got_g = dict(getattr(t, f"by_{key}"))
        if got_g != dict(want_g):
            wrong = sorted(k for k in set(got_g) | set(want_g)
                           if got_g.get(k) != want_g.get(k))
            out.append(Violation("totals", f"totals.by_{key}",
                                 f"does not add up for {', '.join(wrong)}"))
    out += check_objective(plan, sums["total"] + ctx.risk + ctx.preference
                           + t.late_penalty_usd)  # checked by check_timeline
    return out + _check_caps(ctx, sums["total"], groups["team"])


def _resolve(ctx: _Ctx, i: int, p: Placement) -> Checked | Violation:
    where = f"placements[{i}] ({p.workload}/{p.stage})"
    if (p.workload, p.stage) not in ctx.stages:
        return Violation("coverage", where, "no such stage in the portfolio")
    w, stage = ctx.stages[(p.workload, p.stage)]
    site, offer = ctx.world.sites.get(p.site), ctx.world.offer(p.site, p.offer)
    if site is None or offer is None:
        return Violation("exists", where, f"{p.site}/{p.offer} is not an available offer")
    return Checked(i, p, w, stage, site, offer, ctx.portfolio.settings)


def _check_placements(ctx: _Ctx, plan: Plan,
                      by_stage: dict[tuple[str, str], list[Placement]]) -> list[Violation]:
    out: list[Violation] = []
    artifact_paid: set[tuple[str, str, str]] = set()
    for i, p in enumerate(plan.placements):
        c = _resolve(ctx, i, p)
        if isinstance(c, Violation):
            out.append(c)
            continue
        w, stage, site = c.workload, c.stage, c.site
        artifact = Decimal(0)
        train = w.training()
        if stage.kind is not StageKind.TRAINING and train and w.model.size_gb > 0:
            src = by_stage.get((w.id, train.label), [])
            key = (w.id, stage.label, site.id)
            src_site = ctx.world.sites.get(src[0].site) if len(src) == 1 else None
            if src_site is not None and key not in artifact_paid:
                artifact_paid.add(key)
                artifact = _round(_rate(src_site, site) * w.model.size_gb)
        out += _check_labels(c)
        out += _check_site(w, stage, ctx.world, site, c.where)
        out += _check_hardware(stage, site, c.offer, p, c.where)
        out += _check_purchase(ctx.portfolio.settings, ctx.world.period_hours, stage, site,
                               c.offer, p, c.where)
        out += _check_costs(ctx, c, artifact)
        ctx.checked.append(c)
    return out


def verify(portfolio: Portfolio, world: World, plan: Plan,
           previous: Previous | None = None, *, allow_untimed: bool = False) -> list[Violation]:
    """Every rule the plan breaks (empty when the plan is valid).

    A plan the verifier cannot check (an unknown schema version, a non-finite number, a
    placement of no replica: :mod:`planner.verify.document`) raises
    :class:`~planner.errors.InputError`. A plan made from other inputs (see
    :func:`foreign_plan`) gives one ``inputs`` violation and nothing else. An infeasible or
    unknown plan must place nothing and account for nothing; its claim that no plan exists
    is not re-solved here. A plan that places stages must have a timeline, unless
    ``allow_untimed`` (a plan built before it was scheduled, never one read from a file:
    :func:`planner.verify.timeline.check_timeline`).
    """
    foreign = foreign_plan(portfolio, world, plan)
    if foreign:
        return [Violation("inputs", "inputs", foreign)]
    ctx = _Ctx(portfolio, world, previous)
    by_stage: dict[tuple[str, str], list[Placement]] = defaultdict(list)
    for p in plan.placements:
        by_stage[(p.workload, p.stage)].append(p)
    ctx.dropped = {d.workload for d in plan.dropped}
    out = check_status(plan)
    out += _check_placements(ctx, plan, by_stage)
    if plan.feasible:
        out += _check_stages(ctx, by_stage)
        out += _check_dropped(ctx, plan, by_stage)
    out += check_capacity(world, ctx.checked, plan)
    out += check_timeline(portfolio, world, ctx.checked, plan, allow_untimed=allow_untimed)
    out += _check_totals(ctx, plan)
    return out
