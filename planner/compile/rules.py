"""The rules that prune options before solving, one function per rule.

Each rule decides for one stage at one site (residency, certification,
exclusion, latency) or on one offer (hardware); it returns ``None`` when the
option passes, or the reason it does not, in plain words. ``rule_group`` names
the rule instance a user could relax, for the infeasibility diagnosis.

A rule reads a stage only through its *ask*: :class:`SiteAsk` (what the site rules
read) or :class:`HardwareAsk` (what the hardware rules and the instance count read).
An ask is hashable, so the candidate generator memoizes rule results per ask: the
memo key is, by construction, everything a rule can read. The site rules use
``SiteAsk.workload`` only to name the workload in their reasons, never to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
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


@dataclass(frozen=True)
class SiteAsk:
    """Everything the site rules read from a stage."""

    workload: str
    """Named in reasons only; empty in an anonymous ask (for memoizing decisions)."""
    sites: tuple[str, ...]
    countries: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    certifications: tuple[str, ...]
    exclude_sites: tuple[str, ...]
    exclude_providers: tuple[str, ...]
    latency: tuple[Decimal, tuple[str, ...]] | None
    """(max ms, user regions) of an inference SLO."""

    @classmethod
    def of(cls, ref: StageRef, *, anonymous: bool = False) -> SiteAsk:
        """A stage's ask; ``anonymous``: without the workload's name (what decides, not
        what is said)."""
        r, pl, slo = ref.residency, ref.workload.placement, ref.stage.latency
        return cls("" if anonymous else ref.workload.id, tuple(r.sites), tuple(r.countries),
                   tuple(r.jurisdictions), tuple(r.certifications), tuple(pl.exclude_sites),
                   tuple(pl.exclude_providers), (slo.max_ms, tuple(slo.users)) if slo else None)


@dataclass(frozen=True)
class HardwareAsk:
    """Everything the hardware rules, the instance count and the fit read from a stage."""

    gpu_models: tuple[str, ...] | None
    """Accepted GPU models in the order the portfolio lists them; None: CPU-only."""
    gpu_count: int
    vcpus: int
    memory_gib: Decimal
    per_unit: int
    """Replicas in one unit: 1 when replicas are placed one by one, else all of them."""

    @classmethod
    def of(cls, stage: Stage) -> HardwareAsk:
        gpu = stage.gpu
        return cls(tuple(gpu.models) if gpu else None, gpu.count if gpu else 0, stage.vcpus,
                   stage.memory_gib, 1 if stage.splittable else stage.replicas)


# ---- rules decided per (stage, site) ----------------------------------------------------


def residency_sites(ask: SiteAsk, site: Site, world: World) -> str | None:
    allowed = ask.sites
    if allowed and site.id not in allowed:
        return f"{site.id} is not among the sites allowed for {ask.workload}'s data"
    return None


def residency_countries(ask: SiteAsk, site: Site, world: World) -> str | None:
    allowed = ask.countries
    if allowed and site.country not in allowed:
        return f"{site.id} is in {site.country}, not in allowed countries {', '.join(allowed)}"
    return None


def residency_jurisdictions(ask: SiteAsk, site: Site, world: World) -> str | None:
    allowed = ask.jurisdictions
    if allowed and not site.jurisdictions.intersection(allowed):
        return (f"{site.id} ({site.country}) is outside allowed jurisdictions "
                f"{', '.join(allowed)}")
    return None


def certifications(ask: SiteAsk, site: Site, world: World) -> str | None:
    missing = sorted(set(ask.certifications) - site.certifications)
    if missing:
        return f"{site.id} lacks required certification {', '.join(missing)}"
    return None


def excluded(ask: SiteAsk, site: Site, world: World) -> str | None:
    if site.id in ask.exclude_sites:
        return f"{site.id} is excluded for {ask.workload}"
    if site.provider in ask.exclude_providers:
        return f"provider {site.provider} is excluded for {ask.workload}"
    return None


def latency(ask: SiteAsk, site: Site, world: World) -> str | None:
    if ask.latency is None:
        return None
    max_ms, users = ask.latency
    for user in users:
        rtt = world.rtt_ms(site.id, user)
        if rtt is None:
            return f"no latency known from {site.id} to {user}; add settings.latency_ms"
        if rtt > max_ms:
            return f"{site.id} is ~{rtt} ms from {user}; SLO is {max_ms} ms"
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


def gpu_model_accepted(ask: HardwareAsk, offer: Offer) -> str | None:
    if ask.gpu_models is None:
        return None
    if offer.gpu_model not in ask.gpu_models:
        have = offer.gpu_model or "no GPU"
        return f"{offer.id} has {have}; stage accepts {', '.join(ask.gpu_models)}"
    return None


def cpu_only(ask: HardwareAsk, offer: Offer) -> str | None:
    if ask.gpu_models is None and offer.gpu_model:
        return f"{offer.id} carries {offer.gpu_model} GPUs the CPU-only stage would not use"
    return None


def not_restricted(ask: HardwareAsk, offer: Offer) -> str | None:
    if offer.restricted:
        return f"{offer.id} is not available to this subscription: {offer.restricted}"
    return None


OFFER_RULES = (
    (Rule.GPU_MODEL, gpu_model_accepted),
    (Rule.CPU_ONLY, cpu_only),
    (Rule.RESTRICTED, not_restricted),
)


