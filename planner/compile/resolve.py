"""Resolve a portfolio against the catalogs into a :class:`World`, checking every name.

Unknown providers, regions, sites, offers, GPU models, jurisdictions and
certifications are reported with their path in the portfolio file and the
closest valid name, e.g.
``workloads[3].stages[0].gpu.models: unknown GPU model 'H10' (did you mean 'H100'?)``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from planner.catalog.freshness import stale_catalogs
from planner.catalog.load import LoadedCatalog
from planner.catalog.schema import CatalogFile
from planner.errors import InputError
from planner.models.portfolio import OnpremSite, Portfolio, Residency, Workload
from planner.models.world import CatalogUse, EgressPrice, Offer, Site, SiteKind, World
from planner.providers.registry import get_provider, onprem_provider
from planner.vocab.gpus import GPU_MODELS, closest, closest_gpu_name
from planner.vocab.jurisdictions import (
    DERIVED_TAGS,
    country_name,
    jurisdictions_of,
    region_certifications,
    region_coords,
    suggest_country,
)
from planner.vocab.latency import canonical_user_region, user_region_aliases, user_regions
from planner.vocab.suggest import listing, site_hint

SITE_KINDS = frozenset({"site", "cloud region"})


def _unknown(kind: str, name: str, valid: set[str] | list[str], path: str) -> InputError:
    if kind in SITE_KINDS:
        return InputError(f"unknown {kind} {name!r}", path=path, hint=site_hint(name, valid))
    guess = closest(name, set(valid))
    hint = f"did you mean {guess!r}?" if guess else f"valid: {listing(valid)}"
    return InputError(f"unknown {kind} {name!r}", path=path, hint=hint)


def _unknown_user(name: str, users: dict[str, tuple[float, float]], path: str) -> InputError:
    """An unknown user region: the region a city alias or spelling means, and every
    region name (city aliases are listed by `planner regions`)."""
    aliases = user_region_aliases()
    regions = sorted(u for u in users if u not in aliases)
    key = name.strip().lower().replace(" ", "-").replace("_", "-")
    guess = key if key in users else canonical_user_region(name) or closest(name, set(users))
    hint = f"did you mean {guess!r}? " if guess else ""
    hint += (f"user regions: {', '.join(regions)}; city names such as london or frankfurt "
             "work too (`planner regions` lists them all with coordinates), or add your own "
             "under settings.user_regions")
    return InputError(f"unknown user region {name!r}", path=path, hint=hint)


def _unknown_tag(tag: str, tags: set[str], path: str) -> InputError:
    """An unknown jurisdiction; a mistaken country code gets the ISO one (UK → GB)."""
    code = suggest_country(tag)
    if code in tags and code != tag:
        return InputError(f"unknown jurisdiction {tag!r}", path=path,
                          hint=f"did you mean {code!r} ({country_name(code or '')})?")
    return _unknown("jurisdiction", tag, tags, path)


def _check_site_keys(portfolio: Portfolio, cloud_sites: dict[str, Site]) -> None:
    """``cloud.tags`` and ``cloud.certifications`` name cloud regions of the catalogs (on-prem
    sites carry their own ``tags`` and ``certifications``)."""
    for field in ("tags", "certifications"):
        for sid in getattr(portfolio.cloud, field):
            if sid not in cloud_sites:
                raise _unknown("cloud region", sid, set(cloud_sites), f"cloud.{field}.{sid}")


def _cloud_sites_and_offers(
    portfolio: Portfolio, catalogs: list[LoadedCatalog]
) -> tuple[dict[str, Site], list[Offer]]:
    cloud = portfolio.cloud
    by_provider: dict[str, CatalogFile] = {c.catalog.provider: c.catalog for c in catalogs}
    for i, provider in enumerate(cloud.providers):
        if not by_provider:
            raise InputError(f"no catalog loaded for cloud provider {provider!r}",
                             path=f"cloud.providers[{i}]",
                             hint="load the catalogs from the folder with aws.json / "
                                  "azure.json (--catalogs DIR; in Python "
                                  "planner.load_catalogs(DIR)), or list no cloud providers")
        if provider not in by_provider:
            raise _unknown(
                "cloud provider (no catalog loaded for it)",
                provider,
                list(by_provider),
                f"cloud.providers[{i}]",
            )
    sites: dict[str, Site] = {}
    offers: list[Offer] = []
    for provider in sorted(set(cloud.providers)):
        cat = by_provider[provider]
        egress = EgressPrice(Decimal(0))  # priced by _price_egress once the sites are known
        for row in cat.rows:
            sid = f"{provider}:{row.region}"
            if sid not in sites:
                tags = cloud.tags.get(sid, [])
                certs = set(cloud.certifications.get(sid, []))
                certs.update(region_certifications(provider, row.region))
                sites[sid] = Site(
                    sid,
                    SiteKind.CLOUD,
                    provider,
                    row.region,
                    row.country,
                    jurisdictions_of(row.country, tags),
                    frozenset(certs),
                    egress,
                    region_coords(provider, row.region),
                )
            assert row.price_per_hour is not None  # validated at load
            restricted = None
            if row.availability == "restricted":
                restricted = "; ".join(row.restrictions) or "restricted"
            offers.append(
                Offer(
                    sid,
                    row.instance_type,
                    row.gpu_model,
                    Decimal(str(row.gpu_count)),
                    row.vcpus,
                    Decimal(str(row.memory_gib)),
                    row.price_per_hour,
                    row.spot_price_per_hour,
                    None,
                    restricted,
                    commit_1y_per_hour=row.commit_1y_per_hour,
                    commit_3y_per_hour=row.commit_3y_per_hour,
                )
            )
    return sites, offers


def _select_regions(
    portfolio: Portfolio, sites: dict[str, Site], offers: list[Offer]
) -> tuple[dict[str, Site], list[Offer]]:
    cloud = portfolio.cloud
    if cloud.regions is not None:
        for i, sid in enumerate(cloud.regions):
            if sid not in sites:
                raise _unknown("cloud region", sid, set(sites), f"cloud.regions[{i}]")
        keep = set(cloud.regions)
        sites = {k: v for k, v in sites.items() if k in keep}
        offers = [o for o in offers if o.site_id in keep]
    if cloud.instance_types is not None:
        known = {o.id for o in offers}
        for i, it in enumerate(cloud.instance_types):
            if it not in known:
                raise _unknown("instance type", it, known, f"cloud.instance_types[{i}]")
        wanted = set(cloud.instance_types)
        offers = [o for o in offers if o.id in wanted]
    return sites, offers


def _onprem(portfolio: Portfolio) -> tuple[dict[str, Site], list[Offer]]:
    sites: dict[str, Site] = {}
    offers: list[Offer] = []
    for i, s in enumerate(portfolio.onprem):
        if s.id in sites:
            raise InputError(f"duplicate site id {s.id!r}", path=f"onprem[{i}].id")
        prefix = onprem_provider().name + ":"
        if not s.id.startswith(prefix):
            raise InputError(f"on-prem site id {s.id!r} must start with {prefix!r}",
                             path=f"onprem[{i}].id",
                             hint=f"e.g. {prefix}{s.id.partition(':')[2] or 'munich-dc1'}")
        egress = EgressPrice(s.egress.internet_per_gb)  # see _price_egress
        sites[s.id] = Site(
            s.id,
            SiteKind.ONPREM,
            onprem_provider().name,
            s.id.split(":", 1)[1],
            s.country,
            jurisdictions_of(s.country, s.tags),
            frozenset(s.certifications),
            egress,
            (s.lat, s.lon) if s.lat is not None and s.lon is not None else None,
        )
        seen: set[str] = set()
        for j, o in enumerate(s.offers):
            path = f"onprem[{i}].offers[{j}]"
            if o.id in seen:
                raise InputError(f"duplicate offer id {o.id!r}", path=f"{path}.id")
            seen.add(o.id)
            if o.gpu_model and o.gpu_model not in GPU_MODELS:
                raise _unknown("GPU model", o.gpu_model, set(GPU_MODELS), f"{path}.gpu_model")
            offers.append(
                Offer(
                    s.id,
                    o.id,
                    o.gpu_model,
                    Decimal(o.gpu_count),
                    o.vcpus,
                    o.memory_gib,
                    o.hourly_price(),
                    None,
                    o.nodes,
                )
            )
    return sites, offers


def _cloud_egress(site: Site, sites: dict[str, Site]) -> EgressPrice:
    """A cloud region's egress from its provider's rules: to the other regions of the
    provider (same or other continent, or a listed pair), else the internet rate."""
    rules = get_provider(site.provider).egress()
    here = (site.region, site.country)
    return EgressPrice(
        rules.internet_per_gb(*here),
        {o.id: rules.between_regions(here, (o.region, o.country)) for o in sites.values()
         if o.provider == site.provider and o.id != site.id})


def _onprem_egress(site: Site, spec: OnpremSite, sites: dict[str, Site]) -> EgressPrice:
    """An on-prem site's uplink price, and ``same_provider_per_gb`` (when given) to the
    owner's other on-prem sites (a private link between data centres)."""
    internet = spec.egress.internet_per_gb
    between = spec.egress.same_provider_per_gb
    if between is None:
        return EgressPrice(internet)
    return EgressPrice(internet, {o.id: between for o in sites.values()
                                  if o.kind is SiteKind.ONPREM and o.id != site.id})


def _price_egress(portfolio: Portfolio, sites: dict[str, Site]) -> dict[str, Site]:
    """Every site with its egress prices to the other sites of the world."""
    specs = {s.id: s for s in portfolio.onprem}
    return {sid: replace(site, egress=_onprem_egress(site, specs[sid], sites)
                         if site.kind is SiteKind.ONPREM else _cloud_egress(site, sites))
            for sid, site in sites.items()}


def _apply_quotas(
    portfolio: Portfolio, sites: dict[str, Site], offers: list[Offer]
) -> tuple[list[Offer], dict[tuple[str, str], int]]:
    gpu_quotas: dict[tuple[str, str], int] = {}
    caps: dict[tuple[str, str], int] = {}
    known_offers = {o.key for o in offers}
    for i, q in enumerate(portfolio.cloud.quotas):
        path = f"cloud.quotas[{i}]"
        if q.site not in sites:
            raise _unknown("site", q.site, set(sites), f"{path}.site")
        if q.gpu_model is not None and q.gpus is not None:
            if q.gpu_model not in GPU_MODELS:
                raise _unknown("GPU model", q.gpu_model, set(GPU_MODELS), f"{path}.gpu_model")
            gpu_quotas[(q.site, q.gpu_model)] = q.gpus
        elif q.offer is not None and q.instances is not None:
            if (q.site, q.offer) not in known_offers:
                names = {o for s, o in known_offers if s == q.site}
                raise _unknown(f"offer at {q.site}", q.offer, names, f"{path}.offer")
            caps[(q.site, q.offer)] = q.instances
    resolved = [replace(o, capacity=caps.get(o.key, o.capacity)) for o in offers]
    return resolved, gpu_quotas


def _check_residency(r: Residency, path: str, tags: set[str], sites: dict[str, Site],
                     certs: set[str]) -> None:
    for k, tag in enumerate(r.jurisdictions):
        if tag not in tags:
            raise _unknown_tag(tag, tags, f"{path}.jurisdictions[{k}]")
    for k, sid in enumerate(r.sites):
        if sid not in sites:
            raise _unknown("site", sid, set(sites), f"{path}.sites[{k}]")
    for k, cert in enumerate(r.certifications):
        if cert not in certs:
            raise _unknown("certification", cert, certs, f"{path}.certifications[{k}]")


def _check_placement(w: Workload, path: str, sites: dict[str, Site]) -> None:
    providers = {s.provider for s in sites.values()}
    pl = w.placement
    for field in ("exclude_sites", "prefer_sites"):
        for k, sid in enumerate(getattr(pl, field)):
            if sid not in sites:
                raise _unknown("site", sid, set(sites), f"{path}.placement.{field}[{k}]")
    for field in ("exclude_providers", "prefer_providers"):
        for k, prov in enumerate(getattr(pl, field)):
            if prov not in providers:
                raise _unknown("provider", prov, providers, f"{path}.placement.{field}[{k}]")


def _check_workloads(portfolio: Portfolio, sites: dict[str, Site],
                     users: dict[str, tuple[float, float]]) -> None:
    tags = set(DERIVED_TAGS)
    countries: set[str] = set()
    certs: set[str] = set()
    for site in sites.values():
        tags |= site.jurisdictions
        countries.add(site.country)
        certs |= site.certifications
    seen: set[str] = set()
    teams = {w.team for w in portfolio.workloads}
    for team in portfolio.settings.team_budgets:
        if team not in teams:
            raise _unknown("team", team, teams, f"settings.team_budgets.{team}")
    for i, w in enumerate(portfolio.workloads):
        path = f"workloads[{i}]"
        if w.id in seen:
            raise InputError(f"duplicate workload id {w.id!r}", path=f"{path}.id")
        seen.add(w.id)
        if w.dataset.home not in sites:
            raise _unknown("site", w.dataset.home, set(sites), f"{path}.dataset.home")
        _check_residency(w.residency, f"{path}.residency", tags, sites, certs)
        _check_placement(w, path, sites)
        for j, st in enumerate(w.stages):
            spath = f"{path}.stages[{j}]"
            if st.residency is not None:
                _check_residency(st.residency, f"{spath}.residency", tags, sites, certs)
            if st.latency is not None:
                for k, user in enumerate(st.latency.users):
                    if user not in users:
                        raise _unknown_user(user, users, f"{spath}.latency.users[{k}]")
            if st.gpu is None:
                continue
            for model in st.gpu.models:
                if model not in GPU_MODELS:
                    guess = closest_gpu_name(model)
                    raise InputError(f"unknown GPU model {model!r}",
                                     path=f"{spath}.gpu.models.{model}",
                                     hint=f"did you mean {guess!r}?" if guess else
                                     "see planner/vocab/gpus.py for the known models")


def _users_and_latency(portfolio: Portfolio, sites: dict[str, Site]
                       ) -> tuple[dict[str, tuple[float, float]], dict[str, dict[str, Decimal]]]:
    own = portfolio.settings.user_regions
    users = dict(user_regions())
    users.update({alias: users[target] for alias, target in user_region_aliases().items()})
    users.update({k: (v.lat, v.lon) for k, v in own.items()})
    latency = {k: dict(v) for k, v in portfolio.settings.latency_ms.items()}
    for sid, per_user in portfolio.settings.latency_ms.items():
        if sid not in sites:
            raise _unknown("site", sid, set(sites), f"settings.latency_ms.{sid}")
        for user, ms in per_user.items():
            if user not in users:
                raise _unknown_user(user, users, f"settings.latency_ms.{sid}.{user}")
            for name in _same_region(user, set(own)):
                latency[sid].setdefault(name, ms)  # a value measured under a name wins
    return users, latency


def _same_region(name: str, own: set[str]) -> list[str]:
    """Every other name of the shipped user region ``name`` means (the region and its city
    aliases), so a measured round trip applies whichever of them a stage uses."""
    if name in own:
        return []
    target = user_region_aliases().get(name, name)
    if target not in user_regions():
        return []
    names = [target, *(a for a, t in user_region_aliases().items() if t == target)]
    return [n for n in names if n != name and n not in own]


def build_world(
    portfolio: Portfolio, catalogs: list[LoadedCatalog], now: datetime | None = None
) -> World:
    """Resolve sites and offers from the portfolio and the catalogs; validate every name."""
    now = now or datetime.now(UTC)
    cloud_sites, cloud_offers = _cloud_sites_and_offers(portfolio, catalogs)
    _check_site_keys(portfolio, cloud_sites)
    cloud_sites, cloud_offers = _select_regions(portfolio, cloud_sites, cloud_offers)
    onprem_sites, onprem_offers = _onprem(portfolio)
    sites = _price_egress(portfolio, {**cloud_sites, **onprem_sites})
    offers, gpu_quotas = _apply_quotas(portfolio, sites, cloud_offers + onprem_offers)
    users, latency = _users_and_latency(portfolio, sites)
    _check_workloads(portfolio, sites, users)
    used = [c for c in catalogs if c.catalog.provider in portfolio.cloud.providers]
    uses = [CatalogUse(c.catalog.provider, c.path.name, c.sha256, c.catalog.fetched_at,
                       round(c.catalog.age_days(now), 1)) for c in used]
    warnings = stale_catalogs(used, portfolio.settings.max_catalog_age_days, now)
    offers.sort(key=lambda o: (o.site_id, o.id))
    return World(
        dict(sorted(sites.items())),
        tuple(offers),
        gpu_quotas,
        portfolio.settings.period_hours,
        users,
        latency,
        tuple(uses),
        tuple(warnings),
    )
