"""The rules that prune options before solving, one function per rule.

Each rule decides for one stage at one site (residency, certification,
exclusion, latency) or on one offer (hardware); it returns ``None`` when the
option passes, or the reason it does not, in plain words. ``rule_group`` names
the rule instance a user could relax, for the infeasibility diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from planner.models.portfolio import Residency, Stage, Workload
from planner.models.world import Offer, Site, World


class Rule(StrEnum):
    """The rules that prune options up front."""

    RESIDENCY_SITE = "residency.sites"
    RESIDENCY_COUNTRY = "residency.countries"
    RESIDENCY_JURISDICTION = "residency.jurisdictions"
    CERTIFICATION = "residency.certifications"
    EXCLUDED = "placement.excluded"
    LATENCY = "inference.latency"
    GPU_MODEL = "hardware.gpu_model"
    CPU_ONLY = "hardware.cpu_only"
    RESTRICTED = "hardware.restricted"
    CONCURRENCY = "capacity.concurrency"


@dataclass(frozen=True)
class StageRef:
    """A stage of a workload, numbered across the portfolio."""

    index: int
    workload: Workload
    stage: Stage

    @property
    def key(self) -> str:
        return f"{self.workload.id}/{self.stage.label}"

    @property
    def residency(self) -> Residency:
        return self.workload.residency_of(self.stage)

    @property
    def units(self) -> int:
        return self.stage.replicas if self.stage.splittable else 1


# ---- rules decided per (stage, site) ----------------------------------------------------


def residency_sites(ref: StageRef, site: Site, world: World) -> str | None:
    allowed = ref.residency.sites
    if allowed and site.id not in allowed:
        return f"{site.id} is not among the sites allowed for {ref.workload.id}'s data"
    return None


def residency_countries(ref: StageRef, site: Site, world: World) -> str | None:
    allowed = ref.residency.countries
    if allowed and site.country not in allowed:
        return f"{site.id} is in {site.country}, not in allowed countries {', '.join(allowed)}"
    return None


def residency_jurisdictions(ref: StageRef, site: Site, world: World) -> str | None:
    allowed = ref.residency.jurisdictions
    if allowed and not site.jurisdictions.intersection(allowed):
        return (f"{site.id} ({site.country}) is outside allowed jurisdictions "
                f"{', '.join(allowed)}")
    return None


def certifications(ref: StageRef, site: Site, world: World) -> str | None:
    missing = sorted(set(ref.residency.certifications) - site.certifications)
    if missing:
        return f"{site.id} lacks required certification {', '.join(missing)}"
    return None


def excluded(ref: StageRef, site: Site, world: World) -> str | None:
    pl = ref.workload.placement
    if site.id in pl.exclude_sites:
        return f"{site.id} is excluded for {ref.workload.id}"
    if site.provider in pl.exclude_providers:
        return f"provider {site.provider} is excluded for {ref.workload.id}"
    return None


def latency(ref: StageRef, site: Site, world: World) -> str | None:
    slo = ref.stage.latency
    if slo is None:
        return None
    for user in slo.users:
        rtt = world.rtt_ms(site.id, user)
        if rtt is None:
            return f"no latency known from {site.id} to {user}; add settings.latency_ms"
        if rtt > slo.max_ms:
            return f"{site.id} is ~{rtt} ms from {user}; SLO is {slo.max_ms} ms"
    return None


SITE_RULES = (
    (Rule.RESIDENCY_SITE, residency_sites),
    (Rule.RESIDENCY_COUNTRY, residency_countries),
    (Rule.RESIDENCY_JURISDICTION, residency_jurisdictions),
    (Rule.CERTIFICATION, certifications),
    (Rule.EXCLUDED, excluded),
    (Rule.LATENCY, latency),
)


def rule_group(rule: Rule, ref: StageRef) -> str:
    """The name of the rule instance a user could relax (for the infeasibility diagnosis)."""
    if rule is Rule.LATENCY:
        return f"{rule.value}:{ref.key}"
    if rule is Rule.EXCLUDED:
        return f"{rule.value}:{ref.workload.id}"
    scope = ref.key if ref.stage.residency is not None else ref.workload.id
    if rule is Rule.RESIDENCY_JURISDICTION and ref.residency is not ref.workload.residency:
        scope = ref.key
    return f"{rule.value}:{scope}"


# ---- rules decided per (stage, offer) ---------------------------------------------------


def gpu_model_accepted(stage: Stage, offer: Offer) -> str | None:
    if stage.gpu is None:
        return None
    if offer.gpu_model not in stage.gpu.models:
        have = offer.gpu_model or "no GPU"
        return f"{offer.id} has {have}; stage accepts {', '.join(stage.gpu.models)}"
    return None


def cpu_only(stage: Stage, offer: Offer) -> str | None:
    if stage.gpu is None and offer.gpu_model:
        return f"{offer.id} carries {offer.gpu_model} GPUs the CPU-only stage would not use"
    return None


def not_restricted(stage: Stage, offer: Offer) -> str | None:
    if offer.restricted:
        return f"{offer.id} is not available to this subscription: {offer.restricted}"
    return None


OFFER_RULES = (
    (Rule.GPU_MODEL, gpu_model_accepted),
    (Rule.CPU_ONLY, cpu_only),
    (Rule.RESTRICTED, not_restricted),
)


