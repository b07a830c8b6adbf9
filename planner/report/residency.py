"""Residency view: which countries and jurisdictions each workload's data touches.

Jurisdictions are derived from a site's country (see :mod:`planner.vocab.jurisdictions`);
with the portfolio, custom site tags, the dataset's home and each workload's
allowed jurisdictions, countries and sites are known too. The check here is a
reading aid for reviewers — the verifier stays the authority.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from planner.models.plan import Plan
from planner.models.portfolio import Portfolio, Residency, Workload
from planner.vocab.jurisdictions import jurisdictions_of, region_country


@dataclass(frozen=True)
class Touch:
    """One place a workload's data goes: a stage's site, or the dataset's home."""

    what: str
    site: str
    country: str
    jurisdictions: tuple[str, ...]
    allowed: bool | None
    own_rule: str | None = None
    """The stage's own rule, when it differs from the workload's."""


@dataclass
class WorkloadResidency:
    workload: str
    team: str
    rule: str | None = None
    touches: list[Touch] = field(default_factory=list)

    @property
    def ok(self) -> bool | None:
        flags = [t.allowed for t in self.touches if t.allowed is not None]
        return None if not flags else all(flags)


def _site_tags(portfolio: Portfolio | None) -> dict[str, list[str]]:
    if portfolio is None:
        return {}
    tags = {s.id: list(s.tags) for s in portfolio.onprem}
    for site, extra in portfolio.cloud.tags.items():
        tags.setdefault(site, []).extend(extra)
    return tags


def site_country(site: str, portfolio: Portfolio | None) -> str | None:
    """Country of a site id: on-prem sites from the portfolio, cloud regions from the table."""
    if portfolio is not None:
        for s in portfolio.onprem:
            if s.id == site:
                return s.country
    provider, _, region = site.partition(":")
    return region_country(provider, region)


def rule_text(r: Residency) -> str:
    """``'jurisdictions EU · certifications hipaa'``; ``'anywhere'`` without rules."""
    parts = [
        f"{name} {', '.join(values)}"
        for name, values in (
            ("jurisdictions", r.jurisdictions),
            ("countries", r.countries),
            ("sites", r.sites),
            ("certifications", r.certifications),
        )
        if values
    ]
    return " · ".join(parts) or "anywhere"


def allowed(r: Residency, site: str, country: str, tags: frozenset[str]) -> bool:
    """Whether a site meets the location rules (every non-empty rule must hold)."""
    if r.jurisdictions and not tags & set(r.jurisdictions):
        return False
    if r.countries and country not in r.countries:
        return False
    return not (r.sites and site not in r.sites)


def rules_for(workload: Workload, stage_label: str) -> Residency:
    """A stage's residency: the portfolio's own resolution (stage overrides, exportable
    models) when the model provides it, else the workload's rules."""
    stage = next((s for s in workload.stages if s.label == stage_label), None)
    resolve = getattr(workload, "residency_of", None)
    if stage is not None and callable(resolve):
        resolved = resolve(stage)
        if isinstance(resolved, Residency):
            return resolved
    return workload.residency


def residency_view(plan: Plan, portfolio: Portfolio | None = None) -> list[WorkloadResidency]:
    """Per workload (plan order): the dataset's home and every stage's site, with tags."""
    tags = _site_tags(portfolio)
    workloads = {w.id: w for w in portfolio.workloads} if portfolio else {}
    out: dict[str, WorkloadResidency] = {}
    for p in plan.placements:
        view = out.get(p.workload)
        if view is None:
            view = out[p.workload] = WorkloadResidency(p.workload, p.team)
            spec = workloads.get(p.workload)
            if spec is not None:
                view.rule = rule_text(spec.residency)
                home = spec.dataset.home
                country = site_country(home, portfolio) or "?"
                jur = jurisdictions_of(country, tags.get(home, []))
                view.touches.append(Touch("dataset", home, country, _tags(country, jur), None))
        jur = jurisdictions_of(p.country, tags.get(p.site, []))
        spec = workloads.get(p.workload)
        ok, own = None, None
        if spec is not None:
            rules = rules_for(spec, p.stage)
            ok = allowed(rules, p.site, p.country, jur)
            own = None if rules == spec.residency else rule_text(rules)
        view.touches.append(Touch(p.stage, p.site, p.country, _tags(p.country, jur), ok, own))
    return list(out.values())


def _tags(country: str, jurisdictions: frozenset[str]) -> tuple[str, ...]:
    """Jurisdiction tags besides the country code itself, sorted."""
    return tuple(sorted(jurisdictions - {country}))


def country_counts(plan: Plan) -> dict[str, tuple[int, int]]:
    """Country → (stages placed there, workloads touching it), by country code."""
    stages: dict[str, int] = defaultdict(int)
    workloads: dict[str, set[str]] = defaultdict(set)
    for p in plan.placements:
        stages[p.country] += 1
        workloads[p.country].add(p.workload)
    return {c: (stages[c], len(workloads[c])) for c in sorted(stages)}
